"""anovae's VAE against IsolationForest and PyOD's VAE on the five ODDS benchmarks.

Every detector keeps its package defaults (only the seed is set): the question is how
well a user does without tuning. For each seed the data are split 60/40, stratified
on the label; the scaler and the detectors see only the training part, labels unused
(anomalies included, as in real unsupervised use), and the test part is scored with
AUROC and average precision.

Run from the repository root::

    python benchmarks/odds.py                 # 3 seeds, all datasets (4-7 min, 2 CPU cores)
    python benchmarks/odds.py --quick         # 1 seed
    python benchmarks/odds.py --datasets cardio thyroid --seeds 0 1

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``odds-dev/``.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from anovae import VAE
from anovae.datasets import ODDS_NAMES, load_odds

DEFAULT_DATA_HOME = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pyod_vae():
    """PyOD's VAE class, or None when the ``bench`` extra is not installed."""
    try:
        from pyod.models.vae import VAE as PyODVAE
    except ImportError:
        return None
    return PyODVAE


def detectors(pyod_vae):
    """name -> (build(seed), anomaly score(fitted, X)); a higher score is more anomalous.

    sklearn and anovae score the other way round (low = abnormal), hence the minus;
    PyOD's ``decision_function`` is already "higher is more anomalous".
    """
    found = {
        "anovae VAE": (
            lambda seed: VAE(random_state=seed),
            lambda m, X: -m.score_samples(X),
        ),
        "IForest": (
            lambda seed: IsolationForest(random_state=seed),
            lambda m, X: -m.score_samples(X),
        ),
    }
    if pyod_vae is not None:
        # verbose=0 only silences its progress bar; random_state varies the run with
        # the seed like the others (PyOD would otherwise always use 42).
        found["PyOD VAE"] = (
            lambda seed: pyod_vae(random_state=seed, verbose=0),
            lambda m, X: m.decision_function(X),
        )
    return found


def run_one(name, seed, data_home, models):
    """Fit every detector on one split; return {detector: (auroc, ap, fit seconds)}."""
    bunch = load_odds(name, data_home=data_home)
    X_train, X_test, _, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.4, stratify=bunch.target, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    results, fitted = {}, {}
    for label, (build, anomaly_score) in models.items():
        model = build(seed)
        started = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - started
        score = anomaly_score(model, X_test)
        auroc, ap = roc_auc_score(y_test, score), average_precision_score(y_test, score)
        results[label] = (auroc, ap, seconds)
        fitted[label] = model
    vae = fitted["anovae VAE"]
    # A KL term near 0 means posterior collapse: q(z|x) is the prior, the decoder
    # ignores z, and the "VAE" scores rows with one diagonal Gaussian. Worth seeing.
    training = (vae.n_epochs_, vae.history_[-1]["kl"])
    return results, training


def print_table(names, labels, means):
    """One row per dataset and a final mean row; per detector AUROC, AP and fit seconds."""
    width = 22
    print(f"{'':<11}" + "".join(f"{label:>{width}}" for label in labels))
    print(f"{'dataset':<11}" + f"{'AUROC':>9}{'AP':>7}{'fit s':>6}" * len(labels))
    print("-" * (11 + width * len(labels)))
    for name in [*names, "mean"]:
        rows = (means[name][label] for label in labels)
        cells = "".join(f"{auroc:>9.3f}{ap:>7.3f}{seconds:>6.1f}" for auroc, ap, seconds in rows)
        print(f"{name:<11}{cells}")


def warm_up(models):
    """One tiny fit per detector so the first timed fit does not pay torch's start-up."""
    X = np.random.RandomState(0).normal(size=(64, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few rows for a threshold: irrelevant here
        for build, _ in models.values():
            build(0).fit(X)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA") or DEFAULT_DATA_HOME)
    parser.add_argument("--datasets", nargs="+", choices=ODDS_NAMES, default=list(ODDS_NAMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="one seed (the first of --seeds)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these networks are too small to gain from "
        "intra-op threads, which mostly contend with each other)",
    )
    args = parser.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    torch.set_num_threads(args.threads)
    # PyOD's torch models warn about deprecated torch APIs on import and on fit;
    # none of it concerns the numbers.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)

    pyod_vae = _pyod_vae()
    if pyod_vae is None:
        print("PyOD VAE skipped: pyod is not importable (pip install -e '.[bench]').")
    models = detectors(pyod_vae)
    labels = list(models)

    warm_up(models)
    started = time.perf_counter()
    means, training = {}, {}
    for name in args.datasets:
        runs = [run_one(name, seed, args.data_home, models) for seed in seeds]
        means[name] = {
            label: np.mean([results[label] for results, _ in runs], axis=0) for label in labels
        }
        training[name] = np.mean([t for _, t in runs], axis=0)
        print(f"{name} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    means["mean"] = {
        label: np.mean([means[n][label] for n in args.datasets], axis=0) for label in labels
    }

    print(f"ODDS, stratified 60/40 split, mean over seeds {seeds}; package defaults\n")
    print_table(args.datasets, labels, means)
    print("\nanovae VAE training, mean over seeds: epochs run, last epoch's KL (nats/row)")
    for name in args.datasets:
        epochs, kl = training[name]
        print(f"  {name:<11} epochs {epochs:6.1f}   KL {kl:8.3f}")

    overall = {label: means["mean"][label][0] for label in labels}
    ours = overall.pop("anovae VAE")
    peers = ", ".join(f"{label} {auroc:.3f}" for label, auroc in overall.items())
    print(f"\nmean AUROC: anovae VAE {ours:.3f} vs {peers}")
    if "PyOD VAE" in overall:
        met = ours >= overall["IForest"] and ours > overall["PyOD VAE"]
        print(f"target (>= IForest and > PyOD VAE): {'met' if met else 'NOT met'}")
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
