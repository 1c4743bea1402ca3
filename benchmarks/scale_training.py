"""Training at scale: ``anovae fit`` in memory, streamed, and with 2 DDP processes, side by side.

Data (written into ``--work``, a temporary folder by default, never the repository):

- ``telemetry``: ``--rows`` rows (10M by default) of generated telemetry whose
  anomalies only the joint distribution reveals (six sensor channels driven by two
  hidden factors, a heavy-tailed byte count and a three-level mode; in 2% of the
  rows two cells are copied from another row, so every value is ordinary on its
  own), as ``--parts`` Parquet files of 100,000-row row groups; the label is a
  column that is not a feature. (``benchmarks/scale.py``'s telemetry is made for
  scoring speed: its anomalies are so far out that every run scores AUROC 1.000.)
- ``donors``: the real KDD Cup 2014 donors set (``adbench-large/11_donors.npz``
  under ``$ANOVAE_DATA``, 619,326 rows x 10 features; 5.9% anomalies), written as
  8 parts by ``benchmarks/scale.py``'s writer.

Runs, each one ``anovae fit DATA --model-out M --exclude label --seed 0 -q`` at the
package defaults (automatic batch size and step budget) in its own process:

- ``in memory``: ``--no-streaming``, the table read whole;
- ``streamed``: ``--streaming``, row groups through a 65,536-row shuffle buffer;
- ``2 DDP processes``: ``--nproc 2`` (gloo on the CPU, each process reading half of
  the row groups; both share this machine's two cores).

Every run trains with ``--threads`` torch threads per process (``OMP_NUM_THREADS``,
1 by default, as torchrun sets for its processes): on two cores that other jobs
also use, torch's default pool of two threads made a 1024-row step of this network
10 to 20 times slower in one run at 3M rows (71-137 ms, against 5-7 ms with one
thread), which would have compared thread settings, not ways to train.

Reported per run: wall seconds of the command (start-up, reading, statistics,
training, scoring the sample, writing), training seconds and milliseconds per
gradient step (from the model's own history), peak resident memory (psutil,
polled every 50 ms: the command's process, and for DDP the largest training
process and the sum over all of them), and AUROC of the saved model against the
labels on an evaluation set scored afterwards (for telemetry a uniform 200,000-row
subset, every row for donors). Two runs of a seed give the same model; the AUROC
spread between runs of *different* kinds is the sampling noise of a training run.

Run from the repository root (about 5 minutes at 10M rows on two busy cores, most
of it writing the data and scoring the evaluation rows)::

    python benchmarks/scale_training.py
    python benchmarks/scale_training.py --rows 500000 --parts 10 --no-donors
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import Peaks, anovae_command, timed, write_donors, write_parts  # noqa: E402

WEIGHTS = np.array([[1.0, 0.5, -0.8, 0.3, 1.2, -0.4], [0.2, -1.0, 0.6, 1.1, -0.3, 0.9]])
MODES = np.array(["lo", "mid", "hi"])

RUNS = {
    "in memory": ["--no-streaming"],
    "streamed": ["--streaming"],
    "2 DDP processes": ["--nproc", "2"],
}


def subtle_telemetry(rows, seed, part, anomaly_rate=0.02):
    """One part of telemetry whose anomalies break only the joint distribution."""
    import pyarrow as pa

    rng = np.random.default_rng([seed, part])
    factors = rng.normal(size=(rows, 2))
    cells = np.empty((rows, 7))
    cells[:, :6] = 2.0 * np.tanh(factors) @ WEIGHTS + rng.normal(scale=0.2, size=(rows, 6))
    cells[:, 6] = np.exp(1.5 * factors[:, 0] + rng.normal(scale=0.3, size=rows) + 5.0)
    odd = rng.random(rows) < anomaly_rate
    where = np.flatnonzero(odd)
    donors = rng.integers(0, rows, size=len(where))
    pick = rng.random((len(where), 7)).argsort(axis=1)[:, :2]  # two distinct columns per anomaly
    for k in range(2):
        cells[where, pick[:, k]] = cells[donors, pick[:, k]]
    columns = {f"s{j}": cells[:, j].round(4) for j in range(6)}
    columns["bytes"] = cells[:, 6].round(0)
    columns["mode"] = MODES[np.digitize(factors[:, 1], [-0.5, 0.5])]
    columns["label"] = odd.astype(np.int64)
    return pa.table(columns)


def write_subtle_telemetry(folder, rows, parts, seed=0):
    return write_parts(folder, rows, parts, subtle_telemetry, seed, row_group_size=100_000)


def fit_runs(name, data, work, evaluation):
    """Fit ``data`` the three ways; return one row of figures per run."""
    import anovae
    from sklearn.metrics import roc_auc_score

    X, y = evaluation
    rows = []
    for run, options in RUNS.items():
        model = work / f"{name}-{run.replace(' ', '-')}.anovae"
        command = anovae_command() + ["fit", data, "--model-out", model, "--exclude", "label", "--seed", "0",
                                      "-q", "--force", *options]
        with Peaks() as peaks:
            seconds = timed(command, peaks)
        vae = anovae.load(model)
        training = sum(record["seconds"] for record in vae.history_)
        auroc = roc_auc_score(y, -vae.score_samples(X))
        rows.append({
            "data": name, "run": run, "wall": seconds, "training": training, "steps": vae.n_steps_,
            "batch": vae.training_budget_["batch_size"], "auroc": auroc,
            "peak": max(peaks.largest("command") or 0, peaks.largest("command child") or 0),
            "total": (peaks.largest("command") or 0) + peaks.total("command child"),
        })
        print(f"  {name} / {run}: {seconds:.0f} s", flush=True)
    return rows


def evaluation_set(folder, rows=None, seed=0):
    """Features and labels of ``rows`` rows drawn uniformly from ``folder`` (all rows if None)."""
    table = ds.dataset(folder, format="parquet").to_table()
    if rows is not None and rows < table.num_rows:
        # Drawn on the Arrow table: only the chosen rows become pandas objects.
        table = table.take(np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False)))
    table = table.to_pandas()
    return table.drop(columns="label"), table["label"].to_numpy()


def print_fit_runs(rows):
    print("| data | run | wall s | training s | steps x batch | ms/step | peak MB (largest process) "
          "| peak MB (all processes) | AUROC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['data']} | {r['run']} | {r['wall']:.1f} | {r['training']:.1f} | {r['steps']} x {r['batch']} "
              f"| {1000 * r['training'] / max(1, r['steps']):.1f} | {r['peak']:,.0f} | {r['total']:,.0f} "
              f"| {r['auroc']:.3f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="telemetry rows (default 10M)")
    parser.add_argument("--parts", type=int, default=100, help="telemetry Parquet parts (default 100)")
    parser.add_argument("--evaluation-rows", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=None, help="folder for data and models (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep --work's data for a rerun")
    parser.add_argument("--no-donors", action="store_true", help="skip the real donors set")
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA", "~/anovae_data"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by every command run

    work = args.work or Path(tempfile.mkdtemp(prefix="anovae-scale-training-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        telemetry = work / f"telemetry-{args.rows}-{args.parts}"
        if not telemetry.exists():
            write_subtle_telemetry(telemetry, args.rows, args.parts)
        size = sum(f.stat().st_size for f in telemetry.iterdir()) / 2**20
        print(f"telemetry: {args.rows:,} rows in {args.parts} parts, {size:,.0f} MB of Parquet", flush=True)
        sets = [("telemetry", telemetry, evaluation_set(telemetry, args.evaluation_rows))]
        if not args.no_donors:
            donors = work / "donors"
            if not donors.exists():
                write_donors(donors, os.path.expanduser(args.data_home))
            sets.append(("donors", donors, evaluation_set(donors)))
        rows = []
        for name, data, evaluation in sets:
            rows.extend(fit_runs(name, data, work, evaluation))
        print(f"\nload average during the runs: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores, "
              f"{args.threads} torch thread(s) per process\n")
        print_fit_runs(rows)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
