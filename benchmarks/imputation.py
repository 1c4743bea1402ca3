"""Numeric imputation on the ODDS development sets: VAEImputer against the usual imputers.

Protocol (as in Mattei & Frellsen, MIWAE, ICML 2019, Sec. 4.2): each data set is
standardized with the statistics of its complete data, then cells are hidden
completely at random (each cell independently, with probability 20% or 50%). Every
imputer sees only the incomplete table and fills it; the score is the root mean
squared error over the hidden cells, in standard deviations (so 1.0 is about what
the column mean scores). Three seeds per setting; the table shows mean ± std.

Settings (identical for every data set; the VAE's epochs and batch size were set for
run time, not tuned on these results):

- ``mean``: ``SimpleImputer(strategy="mean")``.
- ``knn``: ``KNNImputer(n_neighbors=5)``.
- ``iterative``: ``IterativeImputer(max_iter=10)`` (BayesianRidge, sklearn defaults)
  with ``random_state`` = seed.
- ``vae``: ``VAEImputer`` with 100 importance samples over ``anovae.VAE(noise_std="cell",
  trim_fraction=0, batch_size=128, max_epochs=100, n_iter_no_change=20)`` (the
  imputer's default model: a learned variance per cell, every row trained on) and the
  other VAE defaults (latent_dim=8, hidden layers 64-32, Adam 1e-3, early stopping on
  10% of the rows), ``random_state`` = seed.

Torch runs on one thread per job; two settings run in parallel (``--jobs``). Run:
``ANOVAE_DATA=../shared/data python benchmarks/imputation.py`` (``--quick``: one seed).
The full run (30 settings, 2 jobs) takes about 2 minutes on an otherwise idle 2-core
machine (133 s measured; 564 s while other jobs shared it). Reads
``<data>/odds-dev/``.
"""

import argparse
import sys
import time
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

from anovae import VAE
from anovae.datasets import ODDS_NAMES, load_odds
from anovae_imputation import VAEImputer

RATES = (0.2, 0.5)
SEEDS = (0, 1, 2)
MAX_EPOCHS = 100
PATIENCE = 20
BATCH_SIZE = 128


def imputers(seed):
    return {
        "mean": SimpleImputer(strategy="mean"),
        "knn": KNNImputer(n_neighbors=5),
        "iterative": IterativeImputer(max_iter=10, random_state=seed),
        "vae": VAEImputer(
            estimator=VAE(
                noise_std="cell",
                trim_fraction=0.0,
                contamination=0.1,
                batch_size=BATCH_SIZE,
                max_epochs=MAX_EPOCHS,
                n_iter_no_change=PATIENCE,
            ),
            n_importance_samples=100,
            random_state=seed,
        ),
    }


def hide(X, rate, seed):
    rng = np.random.RandomState(seed)
    mask = rng.rand(*X.shape) < rate
    X_missing = X.copy()
    X_missing[mask] = np.nan
    return X_missing, mask


def standardized(name):
    X = load_odds(name).data
    scale = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def one_setting(name, rate, seed):
    """RMSE and seconds of every imputer on one data set, rate and seed."""
    # Networks this small train several times faster on one thread than on two
    # threads of a shared machine (measured: 3-6 ms against 28-40 ms per step).
    torch.set_num_threads(1)
    X = standardized(name)
    X_missing, mask = hide(X, rate, seed)
    rmse, seconds = {}, {}
    for method, imputer in imputers(seed).items():
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            filled = imputer.fit_transform(X_missing)
        seconds[method] = time.perf_counter() - started
        rmse[method] = float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2)))
    print(f"  {name} {rate:.0%} seed {seed} done", file=sys.stderr, flush=True)
    return (name, rate), rmse, seconds


def run(names, seeds, n_jobs):
    """{(name, rate, method): [rmse per seed]} and {method: seconds}, settings in parallel."""
    tasks = [delayed(one_setting)(n, r, s) for n in names for r in RATES for s in seeds]
    results, seconds = {}, {}
    for (name, rate), rmse, spent in Parallel(n_jobs=n_jobs)(tasks):
        for method in rmse:
            results.setdefault((name, rate, method), []).append(rmse[method])
            seconds[method] = seconds.get(method, 0.0) + spent[method]
    return results, seconds


def report(results, seconds, names):
    methods = list(imputers(0))
    print("\nRMSE on hidden cells (standardized units), mean ± std over seeds; * = lowest")
    header = f"| data set | missing | {' | '.join(methods)} |"
    print(header)
    print("|" + "---|" * (len(methods) + 2))
    average = {m: [] for m in methods}
    wins = {m: 0 for m in methods}
    for name in names:
        for rate in RATES:
            means = {m: np.mean(results[(name, rate, m)]) for m in methods}
            best = min(means, key=means.get)
            wins[best] += 1
            cells = []
            for m in methods:
                values = results[(name, rate, m)]
                average[m].extend(values)
                mark = "*" if m == best else ""
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}{mark}")
            print(f"| {name} | {rate:.0%} | {' | '.join(cells)} |")
    print(f"| **mean** | all | {' | '.join(f'{np.mean(average[m]):.3f}' for m in methods)} |")
    print(f"| settings won | | {' | '.join(str(wins[m]) for m in methods)} |")
    print(f"| seconds (summed) | | {' | '.join(f'{seconds[m]:.0f}' for m in methods)} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed only")
    parser.add_argument("--datasets", nargs="*", default=list(ODDS_NAMES), choices=ODDS_NAMES)
    parser.add_argument("--jobs", type=int, default=2, help="settings run in parallel (default 2)")
    args = parser.parse_args(argv)
    seeds = SEEDS[:1] if args.quick else SEEDS
    started = time.perf_counter()
    results, seconds = run(args.datasets, seeds, args.jobs)
    print(f"torch {torch.__version__}; {time.perf_counter() - started:.0f}s wall with {args.jobs} job(s)")
    report(results, seconds, args.datasets)


if __name__ == "__main__":
    main()
