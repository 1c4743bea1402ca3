"""Wall time and peak memory of the ``anovae`` command line, beside IsolationForest.

For each size (10k, 100k and 1M rows by default) the script writes a CSV of 20
columns (18 numeric channels driven by 4 latent factors, one 4-level category, one
0/1 flag; about 1 % of rows perturbed, marked in a ``label`` column that neither
detector uses as a feature) and, with ``--donors``, the real 619k-row KDD Cup 2014
donors set (``adbench-large/11_donors.npz``) as CSV (``--parquet``: each table also
written as Parquet and measured again, both detectors reading that file); then it
runs, each as its own
process:

- ``anovae detect DATA -o OUT --label-column label --quiet`` at the package defaults
  (or ``--epochs E``): read, train, score, write;
- IsolationForest (scikit-learn defaults, ``random_state=0``) in a Python process
  that reads the same CSV with pandas, one-hot encodes the category, fits, scores
  and writes the same kind of output CSV; its time is reported without the write
  (read + fit + score, the yardstick of the speed target), anovae's with it;
- ``anovae score DATA --model M -o OUT``: streams the file through a model trained
  on the smallest size, chunk by chunk. Its peak memory should not grow with the
  file; ``--big`` adds a 10M-row file to show it.

Every process gets ``OMP_NUM_THREADS`` (and the MKL/OpenBLAS equivalents) from
``--threads``, 1 by default: on a shared machine whose cores are busy, torch's
spinning intra-op threads made training up to 40x slower than one thread, and the
figures would measure the neighbours. IsolationForest is single-threaded by default.

Each process is started by a small wrapper process whose ``RUSAGE_CHILDREN``
``ru_maxrss`` is then the peak resident memory of that one process. Times are wall
clock, generation of the CSV excluded.

Run from the repository root (several minutes for 1M rows on two CPU cores)::

    python benchmarks/cli.py                      # 10k, 100k, 1M
    python benchmarks/cli.py --sizes 10000        # quick check
    python benchmarks/cli.py --big                # also score 10M rows (~4 GB of CSV)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_NUMERIC = 18

# Runs a command and prints its wall time and peak memory (this wrapper's only child).
_MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(json.dumps({"code": code, "seconds": time.perf_counter() - started,
                  "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

_ISOLATION_FOREST = """
import sys, time
import pandas as pd
from sklearn.ensemble import IsolationForest
data, out, timing = sys.argv[1], sys.argv[2], sys.argv[3]
frame = pd.read_parquet(data) if data.endswith(".parquet") else pd.read_csv(data)
X = frame.drop(columns=["label"])
X = pd.get_dummies(X, columns=["kind"], dtype=float) if "kind" in X else X
forest = IsolationForest(random_state=0).fit(X)
frame["anomaly_score"] = -forest.score_samples(X)
frame["is_anomaly"] = (forest.predict(X) == -1).astype(int)
started = time.perf_counter()
frame.to_parquet(out, index=False) if out.endswith(".parquet") else frame.to_csv(out, index=False)
open(timing, "w").write(str(time.perf_counter() - started))
"""


def write_csv(path, n_rows, seed=0, chunk=200_000):
    """Write ``n_rows`` rows of synthetic telemetry, chunk by chunk (flat memory)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(4, N_NUMERIC))
    kinds = np.array(["sensor", "plug", "camera", "gateway"])
    with open(path, "w", newline="") as handle:
        for start in range(0, n_rows, chunk):
            n = min(chunk, n_rows - start)
            kind = rng.integers(0, 4, size=n)
            factors = rng.normal(size=(n, 4)) + kind[:, None] * 0.5
            values = factors @ loadings + rng.normal(scale=0.3, size=(n, N_NUMERIC))
            odd = rng.random(n) < 0.01
            values[odd] += rng.normal(scale=4.0, size=(int(odd.sum()), N_NUMERIC))
            frame = pd.DataFrame(values.round(4), columns=[f"ch{i:02d}" for i in range(N_NUMERIC)])
            frame.insert(0, "kind", kinds[kind])
            frame["flag"] = (values[:, 0] > 1.0).astype(int)
            frame["label"] = odd.astype(int)
            frame.to_csv(handle, index=False, header=start == 0)


def write_donors(path, data_home):
    """The donors set as a CSV of its 10 features and its 0/1 label."""
    with np.load(Path(data_home) / "adbench-large" / "11_donors.npz", allow_pickle=False) as archive:
        X, y = archive["X"], archive["y"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = y.astype(int)
    frame.to_csv(path, index=False)


def auroc(out):
    """AUROC of the ``anomaly_score`` column of an output file against its ``label``."""
    from sklearn.metrics import roc_auc_score

    columns = ["label", "anomaly_score"]
    if str(out).endswith(".parquet"):
        frame = pd.read_parquet(out, columns=columns)
    else:
        frame = pd.read_csv(out, usecols=columns)
    return roc_auc_score(frame["label"], frame["anomaly_score"])


def measure(command, threads):
    """Run ``command`` in its own process; return (seconds, peak MiB)."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    result = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, command)],
                            capture_output=True, text=True, check=True, env=env)
    record = json.loads(result.stdout.strip().splitlines()[-1])
    if record["code"] != 0:
        raise SystemExit(f"failed ({record['code']}): {' '.join(map(str, command))}")
    return record["seconds"], record["peak_kib"] / 1024


def anovae_executable():
    found = shutil.which("anovae", path=os.path.dirname(sys.executable)) or shutil.which("anovae")
    if found is None:
        raise SystemExit("the anovae executable is not installed: pip install -e .")
    return found


def label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated row counts for detect, IsolationForest and score")
    parser.add_argument("--epochs", type=int, default=None,
                        help="cap on training epochs of anovae detect (default: its step budget)")
    parser.add_argument("--donors", action="store_true", help="also the real 619k-row donors set")
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA")
                        or Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of each process")
    parser.add_argument("--big", action="store_true", help="also stream 10M rows through anovae score")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("--parquet", action="store_true",
                        help="also run detect and IsolationForest on each table written as Parquet")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    anovae = anovae_executable()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="anovae-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    model = folder / "model.anovae"
    try:
        jobs = [(label(n), n, lambda path, n=n: write_csv(path, n)) for n in sizes]
        if args.donors:
            jobs.append(("donors", 619_326, lambda path: write_donors(path, args.data_home)))
        epochs = [] if args.epochs is None else ["--epochs", args.epochs]
        if args.parquet:
            jobs = [job for name, n, write in jobs for job in ((name, n, write), (name + " (Parquet)", n, write))]
        for name, n, write in jobs:
            parquet = name.endswith("(Parquet)")
            data = folder / f"rows_{name.split()[0]}.csv"
            if not data.exists():
                write(data)
            out = folder / ("out.parquet" if parquet else "out.csv")
            if parquet:
                csv = data
                data = folder / f"rows_{name.split()[0]}.parquet"
                pd.read_csv(csv).to_parquet(data, index=False)
                csv.unlink()
            model_out = ["--model-out", model, "--force"] if n == sizes[0] and not parquet else []
            detect = measure([anovae, "detect", data, "-o", out, "--force", *epochs, "--label-column", "label",
                              "--seed", "0", "--quiet", *model_out], args.threads)
            detect_auroc = auroc(out)
            timing = folder / "write_seconds"
            forest = measure([sys.executable, "-c", _ISOLATION_FOREST, data, out, timing], args.threads)
            forest_auroc = auroc(out)
            # IsolationForest's read + fit + score: its process without the CSV write.
            forest = (forest[0] - float(timing.read_text()), forest[1])
            score = measure([anovae, "score", data, "--model", model, "-o", out, "--force", "--quiet"],
                            args.threads) if not name.startswith("donors") else None
            rows.append((name, detect, forest, score, data.stat().st_size, detect_auroc, forest_auroc))
            print(f"{name} rows done", file=sys.stderr, flush=True)
            if parquet or not args.parquet:
                data.unlink()
        if args.big:
            n = 10_000_000
            data = folder / f"rows_{label(n)}.csv"
            write_csv(data, n)
            score = measure([anovae, "score", data, "--model", model, "-o", folder / "out.csv",
                             "--force", "--quiet"], args.threads)
            rows.append((label(n), None, None, score, data.stat().st_size, None, None))
            data.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    budget = "its default step budget" if args.epochs is None else f"--epochs {args.epochs}"
    print(f"\nGenerated: 20 columns; anovae detect with {budget}; "
          f"anovae score with the {label(sizes[0])} model, default --chunksize; "
          f"{args.threads} thread(s) per process on {os.cpu_count()} CPU(s)\n")
    print("| rows | file MB | detect s | detect peak MB | AUROC | IsolationForest s | IForest peak MB "
          "| AUROC | detect / IForest time | score s | score peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, detect, forest, score, size, ours, theirs in rows:
        def cells(measured):
            return ("-", "-") if measured is None else (f"{measured[0]:.1f}", f"{measured[1]:.0f}")

        def number(value):
            return "-" if value is None else f"{value:.3f}"

        ratio = "-" if detect is None else f"{detect[0] / forest[0]:.1f}x"
        print(f"| {name} | {size / 2**20:.0f} | {' | '.join(cells(detect))} | {number(ours)} | "
              f"{' | '.join(cells(forest))} | {number(theirs)} | {ratio} | {' | '.join(cells(score))} |")


if __name__ == "__main__":
    main()
