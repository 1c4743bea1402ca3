"""Which threshold strategy should ``VAE(contamination="auto")`` use? Measured on ODDS.

A threshold strategy turns anomaly scores into a 0/1 decision; the default one decides
what ``predict`` returns for a user who gives neither ``threshold`` nor a contamination.
This script compares every registered strategy (and a few parameter variants) on the
same VAE scores, so that the default is chosen by measurement.

Protocol, for each ODDS dataset of ``odds-dev`` and each seed (0, 1, 2 by default):

1. Split 60/40, stratified on the label (``train_test_split(stratify=y,
   random_state=seed)``); a ``StandardScaler`` is fitted on the train part.
2. Fit ``anovae.VAE(random_state=seed)`` with the package defaults on the unlabelled
   train part, anomalies included, as in real unsupervised use. One VAE per (dataset,
   seed): its anomaly scores (``-score_samples``, higher = more anomalous) on train and
   test are reused by every strategy.
3. Fit each strategy on the TRAIN scores and apply it to the TEST scores. ``fpr`` is
   fitted on the train scores too, although they are contaminated (it assumes clean
   calibration scores), because a default has nothing else to fit on.
4. Report F1 of the anomaly class and the Matthews correlation coefficient (MCC) on the
   test part, and the share of test rows flagged.

Rows marked ``*`` are candidate defaults: unsupervised and with no fixed fraction of
anomalies. The others are references: ``f1`` is fitted with the train labels (an upper
reference), ``contamination=<true rate>`` is told the true anomaly share of the train
part (an oracle), and ``contamination=0.1`` is a fixed guess. ``fpr`` is shown but not a
candidate: on contaminated train scores it flags a fixed share of them (``target_fpr``),
which is ``contamination`` under another name.

A default must not break on small data, so the whole protocol is repeated with the
train part replaced by a stratified subsample of ``--small-n`` rows (200 by default):
scaler, VAE and strategies see only those rows; the test part is the same. The
"fallback" column counts the fits where a strategy warned that it had too few scores
and fell back to something cruder.

Run from the repository root::

    python benchmarks/thresholds.py                    # 15 datasets x 3 seeds (~1 min)
    python benchmarks/thresholds.py --seeds 0 --small-n 0
    python benchmarks/thresholds.py --pythresh         # also PyThresh's strategies

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``odds-dev/``.
"""

import argparse
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from anovae import VAE
from anovae._vae import DEFAULT_THRESHOLD
from anovae.datasets import ODDS_NAMES, load_odds
from anovae.errors import DataError
from anovae.thresholds import available_thresholds, get_threshold_strategy

DEFAULT_DATA_HOME = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Parameter values tried besides each strategy's defaults.
VARIANTS = {
    "zscore": [{"k": 2.0}],
    "mad": [{"k": 2.5}, {"k": 3.0}, {"k": 5.0}],
    "iqr": [{"k": 3.0}],
    "pot": [{"q": 1e-2}, {"q": 1e-4}, {"level": 0.95}, {"level": 0.9, "q": 1e-2}],
    "fpr": [{"target_fpr": 0.05}],
}


@dataclass(frozen=True)
class Row:
    """One line of the table: a strategy with fixed parameters."""

    label: str
    strategy: str
    params: dict = field(default_factory=dict)
    candidate: bool = True
    supervised: bool = False
    #: Set ``contamination`` to the true anomaly share of the train part.
    oracle: bool = False


def table_rows(include_pythresh):
    """Every registered strategy at its defaults, the variants, and the references."""
    rows = []
    for name, factory in available_thresholds().items():
        if name.startswith("pythresh:") and not include_pythresh:
            continue
        if getattr(factory, "supervised", False):
            rows.append(Row(f"{name} (supervised)", name, candidate=False, supervised=True))
        elif name == "contamination":
            guess = {"contamination": 0.1}
            rows.append(Row("contamination=0.1 (guess)", name, guess, candidate=False))
            rows.append(Row("contamination=true (oracle)", name, candidate=False, oracle=True))
        else:
            # Fitted on contaminated scores, fpr flags a fixed share of them.
            candidate = name != "fpr"
            rows.append(Row(name, name, candidate=candidate))
            for params in VARIANTS.get(name, []):
                text = " ".join(f"{key}={value:g}" for key, value in params.items())
                rows.append(Row(f"{name} {text}", name, params, candidate=candidate))
    return rows


def evaluate(row, seed, train_scores, y_train, test_scores, y_test):
    """Fit ``row`` on the train scores; return (F1, MCC, flagged share, fell back)."""
    params = dict(row.params)
    if row.oracle:
        params["contamination"] = float(np.mean(y_train))
    strategy = get_threshold_strategy(row.strategy, **params)
    if "random_state" in strategy.get_params():
        strategy.set_params(random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strategy.fit(train_scores, y_train if row.supervised else None)
    fell_back = any(issubclass(w.category, UserWarning) for w in caught)
    predicted = strategy.predict(test_scores)
    return (
        f1_score(y_test, predicted, zero_division=0.0),
        matthews_corrcoef(y_test, predicted),
        float(np.mean(predicted)),
        float(fell_back),
    )


def score_split(X_train, y_train, X_test, y_test, seed, rows):
    """Fit the VAE once on X_train; return ({label: metrics}, test AUROC, epochs run)."""
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    with warnings.catch_warnings():
        # The VAE's own default strategy may warn on small data; it is not measured here.
        warnings.simplefilter("ignore", UserWarning)
        vae = VAE(random_state=seed).fit(X_train)
    train_scores, test_scores = -vae.score_samples(X_train), -vae.score_samples(X_test)
    results = {
        row.label: evaluate(row, seed, train_scores, y_train, test_scores, y_test) for row in rows
    }
    return results, roc_auc_score(y_test, test_scores), vae.n_epochs_


def run_one(name, seed, data_home, rows, small_n):
    """Both settings (full train part, small subsample) of one dataset and seed.

    A setting where the VAE fails with a :class:`DataError` maps to its message: that
    is a finding about the detector, reported below the tables, not about thresholds.
    """
    bunch = load_odds(name, data_home=data_home)
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.4, stratify=bunch.target, random_state=seed
    )
    splits = {"full": (X_train, y_train)}
    if small_n and small_n < len(y_train):
        X_small, _, y_small, _ = train_test_split(
            X_train, y_train, train_size=small_n, stratify=y_train, random_state=seed
        )
        splits["small"] = (X_small, y_small)
    runs = {}
    for setting, (X, y) in splits.items():
        try:
            runs[setting] = score_split(X, y, X_test, y_test, seed, rows)
        except DataError as error:
            runs[setting] = f"{type(error).__name__}: {error}"
    return runs, float(np.mean(y_test))


def summarise(per_dataset, names, labels):
    """Mean over seeds per dataset, then over datasets: {label: summary dict}.

    ``per_dataset[name]`` maps each seed to that run's results. ``mcc_sd`` is the
    standard deviation over seeds of the mean-over-datasets MCC: how much of a gap
    between two rows a different seed could explain.
    """
    seeds = sorted({seed for n in names for seed in per_dataset[n]})
    summary = {}
    for label in labels:
        by_dataset = np.array(
            [np.mean([r[label] for r in per_dataset[n].values()], axis=0) for n in names]
        )
        by_seed = [
            np.mean([per_dataset[n][seed][label][1] for n in names if seed in per_dataset[n]])
            for seed in seeds
        ]
        summary[label] = {
            "by_dataset": by_dataset,  # (n_datasets, 4): F1, MCC, flagged, fell back
            "f1": by_dataset[:, 0].mean(),
            "mcc": by_dataset[:, 1].mean(),
            "mcc_sd": float(np.std(by_seed)),
            "worst_mcc": by_dataset[:, 1].min(),
            "flagged": by_dataset[:, 2].mean(),
            "fallback": by_dataset[:, 3].mean(),
        }
    return summary


def print_table(rows, names, summary, order):
    top = f"{'':<31}" + "".join(f"{n:^14}" for n in names) + f"{'mean':^14}"
    top += f"{'seed':>7}{'worst':>7}{'flagged':>9}{'fallback':>9}"
    head = f"{'strategy':<31}" + "{:>7}{:>7}".format("F1", "MCC") * (len(names) + 1)
    head += f"{'sd':>7}{'MCC':>7}{'share':>9}{'share':>9}"
    print(top)
    print(head)
    print("-" * len(head))
    by_label = {row.label: row for row in rows}
    for label in order:
        s = summary[label]
        mark = "*" if by_label[label].candidate else " "
        if by_label[label].strategy == DEFAULT_THRESHOLD and not by_label[label].params:
            label += " (now)"
        cells = "".join(f"{f1:7.3f}{mcc:7.3f}" for f1, mcc, _, _ in s["by_dataset"])
        cells += f"{s['f1']:7.3f}{s['mcc']:7.3f}{s['mcc_sd']:7.3f}{s['worst_mcc']:7.3f}"
        cells += f"{s['flagged']:9.3f}{s['fallback']:9.2f}"
        print(f"{mark} {label:<29}{cells}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA") or DEFAULT_DATA_HOME)
    parser.add_argument("--datasets", nargs="+", choices=ODDS_NAMES, default=list(ODDS_NAMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--small-n",
        type=int,
        default=200,
        help="rows of the small-train check (0 skips it)",
    )
    parser.add_argument(
        "--pythresh", action="store_true", help="also measure PyThresh's strategies (slow)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: small networks)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = table_rows(args.pythresh)
    labels = [row.label for row in rows]
    started = time.perf_counter()
    # setting -> dataset -> seed -> (results, AUROC, epochs)
    runs = {"full": {}, "small": {}}
    test_share, failures = {}, []
    for name in args.datasets:
        shares = []
        for seed in args.seeds:
            by_setting, share = run_one(name, seed, args.data_home, rows, args.small_n)
            shares.append(share)
            for setting, run in by_setting.items():
                if isinstance(run, str):
                    failures.append(f"{setting} train, {name}, seed {seed}: {run}")
                else:
                    runs[setting].setdefault(name, {})[seed] = run
        test_share[name] = np.mean(shares)

    names = args.datasets
    print(
        f"ODDS {', '.join(names)}; stratified 60/40 split, seeds {args.seeds}; VAE package\n"
        "defaults; strategies fitted on train scores, judged on test.\n"
        "* = candidate default (unsupervised, no fixed fraction); (now) = the current\n"
        f"default, {DEFAULT_THRESHOLD!r}. Per dataset: mean over seeds; 'mean': over datasets;\n"
        "'seed sd': sd over seeds of the mean MCC; 'worst MCC': the lowest per-dataset MCC;\n"
        "'flagged': share of test rows flagged;\n"
        "'fallback': share of fits where the strategy warned and fell back.\n"
    )
    shares = "  ".join(f"{n} {test_share[n]:.3f}" for n in names)
    overall_share = np.mean(list(test_share.values()))
    print(f"true anomaly share of the test rows: {shares}  (mean {overall_share:.3f})")

    summaries, order = {}, None
    titles = {
        "full": "Train part = the full 60% split, sorted by mean MCC",
        "small": f"Train part = a stratified subsample of {args.small_n} rows (same test "
        "part), rows in the order above",
    }
    for setting, title in titles.items():
        done = [n for n in names if n in runs[setting]]
        if not done:
            continue
        per_dataset = {n: {seed: run[0] for seed, run in runs[setting][n].items()} for n in done}
        summary = summaries[setting] = summarise(per_dataset, done, labels)
        if order is None:
            order = sorted(labels, key=lambda label: -summary[label]["mcc"])
        vae_info = "  ".join(
            f"{n} {np.mean([a for _, a, _ in runs[setting][n].values()]):.3f}/"
            f"{np.mean([e for _, _, e in runs[setting][n].values()]):.0f}"
            for n in done
        )
        print(f"\n{title}\nVAE test AUROC / epochs run: {vae_info}")
        print_table(rows, done, summary, order)

    if failures:
        print("\nVAE failures (left out of the means above):")
        for failure in failures:
            print(f"  {failure}")
    print()
    candidates = [row.label for row in rows if row.candidate]
    for setting, summary in summaries.items():
        best = max(candidates, key=lambda label: summary[label]["mcc"])
        mccs = ", ".join(f"{other} {summaries[other][best]['mcc']:.3f}" for other in summaries)
        print(f"best candidate by mean MCC on {setting} data: {best} (mean MCC {mccs})")
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
