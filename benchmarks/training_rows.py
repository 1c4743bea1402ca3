"""How few training rows are too few: anovae and IsolationForest trained on n rows.

The protocol behind ``anovae.VAE``'s small-table warning (``FEW_TRAINING_ROWS`` in
``anovae/_base.py``). For each of the ten ODDS sets anovae's defaults were chosen on
and each seed, the data are split 60/40 as in ``benchmarks/odds.py`` (stratified on
the label); ``n`` rows are drawn at random from the training part (anomalies
included, labels unused; a set with fewer training rows uses them all: hepatitis has
48), a StandardScaler is fitted on them, and both detectors at their package defaults
are trained on those rows and judged on the whole test part: AUROC, and for anovae
the share of the test part's normal rows its default threshold flags (the false
positive rate a user would see). ``all`` trains on the whole training part. Means
over sets and seeds; ``sd`` is the spread of a set's AUROC across seeds, averaged
over sets: how much the result depends on which rows happened to be drawn.

Run from the repository root::

    python benchmarks/training_rows.py                 # n = 2 ... 500 and all, 3 seeds
    python benchmarks/training_rows.py --rows 10 50 all --seeds 0

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``odds-dev/``.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from odds import CHOSEN_ON, DEFAULT_DATA_HOME

ROWS = ("2", "5", "10", "20", "30", "50", "100", "200", "500", "all")


def one_run(data, target, n, seed):
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from anovae import VAE

    X_train, X_test, _, y_test = train_test_split(
        data, target, test_size=0.4, stratify=target, random_state=seed
    )
    size = len(X_train) if n == "all" else min(int(n), len(X_train))
    rows = np.random.RandomState(seed).choice(len(X_train), size=size, replace=False)
    scaler = StandardScaler().fit(X_train[rows])
    fit_rows, X_test = scaler.transform(X_train[rows]), scaler.transform(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning under test, among others
        vae = VAE(random_state=seed).fit(fit_rows)
    forest = IsolationForest(random_state=seed).fit(fit_rows)
    flags = vae.predict(X_test) == -1
    return {
        "anovae": roc_auc_score(y_test, -vae.score_samples(X_test)),
        "IsolationForest": roc_auc_score(y_test, -forest.score_samples(X_test)),
        "fpr": float(flags[y_test == 0].mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help="row counts, or 'all'")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA", DEFAULT_DATA_HOME))
    args = parser.parse_args()

    import torch

    from anovae.datasets import load_odds

    torch.set_num_threads(1)
    sets = {name: load_odds(name, data_home=Path(args.data_home)) for name in CHOSEN_ON}
    print(f"{len(sets)} ODDS sets (chosen-on), seeds {args.seeds}; AUROC on the 40% test part")
    print()
    print("| training rows | anovae AUROC | sd | IsolationForest AUROC | sd | anovae FPR on test normals |")
    print("|---:|---:|---:|---:|---:|---:|")
    started = time.perf_counter()
    for n in args.rows:
        runs = {name: [one_run(b.data, b.target, n, seed) for seed in args.seeds] for name, b in sets.items()}
        cells = []
        for key in ("anovae", "IsolationForest"):
            per_set = np.array([[r[key] for r in runs[name]] for name in sets])
            cells += [f"{per_set.mean():.3f}", f"{per_set.std(axis=1).mean():.3f}"]
        fpr = np.mean([r["fpr"] for name in sets for r in runs[name]])
        print(f"| {n} | " + " | ".join(cells) + f" | {fpr:.3f} |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
