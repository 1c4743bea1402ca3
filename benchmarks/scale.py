"""Scoring at scale: ``anovae score`` in one process beside ``anovae score --dask``.

(Training at scale, in memory vs streamed vs 2 DDP processes, is its companion
``benchmarks/scale_training.py``; ``--training`` here runs it after the scoring runs.)

Data, written into ``--work`` (a temporary folder by default, never the repository):

- ``telemetry``: ``--rows`` rows (10M by default) of generated fleet telemetry, 20
  feature columns (18 numeric channels driven by 4 latent factors, a 4-level
  category, a 0/1 flag; 1% of rows perturbed, marked in a ``label`` column that is
  not a feature), as ``--parts`` Parquet files (100 by default), generated part by
  part with numpy (memory: one part);
- ``donors``: the real KDD Cup 2014 donors set (``adbench-large/11_donors.npz``
  under ``$ANOVAE_DATA``, 619,326 rows x 10 features) as 8 Parquet parts.

A VAE at the package defaults is fitted on the first telemetry part (100k rows) and
on all of donors, and saved. Then, for each data set, four runs score every row
into Parquet, one after the other, each command in its own process:

- ``1 process``: ``anovae score DATA --model M -o OUT.parquet`` (streamed in chunks of
  100k rows; each chunk's network pass spread over torch's threads, one thread per
  sub-chunk: anovae's rule for small networks);
- ``--dask``: ``anovae score DATA --model M -o OUT --dask``, the command starting its
  own LocalCluster (one single-threaded worker process per core, here 2): its wall
  time includes starting the cluster and importing torch in the workers;
- ``--dask ADDRESS``: the same against a running cluster (``dask scheduler`` and
  ``dask worker --nworkers 2 --nthreads 1``, started and warmed up beforehand): the
  scoring itself. Twice: with the worker configuration the README recommends
  (:data:`WORKER_CONFIG`: no ``MALLOC_TRIM_THRESHOLD_``), and with Dask's defaults,
  whose ``MALLOC_TRIM_THRESHOLD_=65536`` turns off glibc's adaptive mmap threshold
  and makes every scoring chunk's tensors fresh mappings.

Peak memory is the largest resident set size seen by polling every process of a
run (psutil, every 50 ms): the command's own process (for ``--dask``: client and
scheduler), the scheduler process, and each worker process (the largest shown).

Projection to N machines, from the running cluster's task stream (each part task's
compute span on its worker): the per-part overhead is the median task of a job of
100 parts of 100 rows (opening, reading, checking, scoring and writing a part whose
rows cost nothing); rows per worker-second come from the big job's tasks once that
overhead is taken out of each; the fixed cost is the big job's wall time outside the
span of its tasks (the command's start, model, first chunk, scatter, publishing).
For N machines of 2 cores like this one, the projected wall time is fixed + (rows /
rate + parts x overhead) / min(2N, parts). It assumes storage and network keep up,
that the scheduler is not the bottleneck (100 tasks) and no straggler: a
projection, not a measurement.

``--profile-rows`` rows (1M by default) of telemetry are also scored in this
process with the command's own steps timed apart (read, checks, encoding,
network, result columns, Parquet write), to show where single-process time goes.

Run from the repository root (about 15 minutes at 10M rows on two busy cores)::

    python benchmarks/scale.py                       # 10M rows, 100 parts, and donors
    python benchmarks/scale.py --repeat 2 --work /tmp/scale --keep   # fastest of 2 rounds
    python benchmarks/scale.py --rows 1000000 --parts 20 --no-donors
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N_NUMERIC = 18
KINDS = np.array(["sensor", "plug", "camera", "gateway"])


# ---- data -------------------------------------------------------------------------------
def telemetry_part(rows, seed, part):
    """One part of generated telemetry as an Arrow table (the same law for every part)."""
    loadings = np.random.default_rng(seed).normal(size=(4, N_NUMERIC))
    rng = np.random.default_rng([seed, part])
    kind = rng.integers(0, 4, size=rows)
    factors = rng.normal(size=(rows, 4)) + kind[:, None] * 0.5
    values = factors @ loadings + rng.normal(scale=0.3, size=(rows, N_NUMERIC))
    odd = rng.random(rows) < 0.01
    values[odd] += rng.normal(scale=4.0, size=(int(odd.sum()), N_NUMERIC))
    columns = {"kind": KINDS[kind]}
    columns.update({f"ch{i:02d}": values[:, i].round(4) for i in range(N_NUMERIC)})
    columns["flag"] = (values[:, 0] > 1.0).astype(np.int64)
    columns["label"] = odd.astype(np.int64)
    return pa.table(columns)


def write_parts(folder, rows, parts, make_part, seed=0, **write_options):
    """``rows`` rows as ``parts`` Parquet files ``part-NNNNN.parquet`` in ``folder``;
    ``make_part(rows, seed, part)`` builds each one's Arrow table."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [rows // parts + (i < rows % parts) for i in range(parts)]
    for i, size in enumerate(sizes):
        pq.write_table(make_part(size, seed, i), folder / f"part-{i:05d}.parquet", **write_options)
    return folder


def write_telemetry(folder, rows, parts, seed=0):
    """Generated telemetry (:func:`telemetry_part`) as :func:`write_parts` writes it."""
    return write_parts(folder, rows, parts, telemetry_part, seed)


def write_donors(folder, data_home, parts=8):
    """The donors set's 10 features and 0/1 label as ``parts`` Parquet files."""
    source = Path(data_home) / "adbench-large" / "11_donors.npz"
    if not source.is_file():
        raise SystemExit(f"{source}: not found; set ANOVAE_DATA (or --data-home), or pass --no-donors")
    with np.load(source, allow_pickle=False) as archive:
        X, y = archive["X"], archive["y"]
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(len(X)), parts)):
        columns = {f"f{j}": X[rows, j] for j in range(X.shape[1])}
        columns["label"] = y[rows].astype(np.int64)
        pq.write_table(pa.table(columns), folder / f"part-{i:05d}.parquet")
    return folder


def fit_model(files, path):
    """A VAE at the package defaults fitted on ``files`` (label left out), saved."""
    import anovae
    from anovae import VAE

    frame = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
    started = time.perf_counter()
    vae = VAE(random_state=0).fit(frame.drop(columns="label"))
    anovae.save(vae, path)
    return time.perf_counter() - started, len(frame)


# ---- measuring processes -----------------------------------------------------------------
class Peaks:
    """Polls the resident memory of processes (and their children) in a thread.

    ``watch(name, pid)`` adds a process; each child found later is recorded as
    ``name + " child"`` (the worker processes of a nanny or of a LocalCluster).
    """

    def __init__(self, interval=0.05):
        self.interval = interval
        self.roots = {}
        self.peaks = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def watch(self, name, pid):
        self.roots[pid] = name

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        import psutil

        while not self._stop.is_set():
            for pid, name in list(self.roots.items()):
                try:
                    root = psutil.Process(pid)
                    found = [(pid, name, root)] + [
                        (c.pid, f"{name} child", c) for c in root.children(recursive=True)
                        if "resource_tracker" not in " ".join(c.cmdline())
                    ]
                except psutil.Error:
                    continue
                for key, role, process in found:
                    try:
                        rss = process.memory_info().rss
                    except psutil.Error:
                        continue
                    self.peaks[(role, key)] = max(self.peaks.get((role, key), 0), rss)
            self._stop.wait(self.interval)

    def _of(self, role):
        return [rss for (name, _), rss in self.peaks.items() if name == role]

    def largest(self, role):
        """The largest peak (MiB) among processes of ``role``, or None."""
        values = self._of(role)
        return max(values) / 2**20 if values else None

    def total(self, role):
        """The sum of the peaks (MiB) of the processes of ``role`` (0 if none)."""
        return sum(self._of(role)) / 2**20


def anovae_command():
    found = shutil.which("anovae", path=os.path.dirname(sys.executable)) or shutil.which("anovae")
    if found is None:
        raise SystemExit("the anovae executable is not installed: pip install -e .")
    return [found]


# The 1-minute load average at the end of each timed command: how busy the machine was.
LOADS = []


def timed(command, peaks=None):
    """Run ``command``; return its wall seconds, with its processes' memory polled."""
    started = time.perf_counter()
    process = subprocess.Popen([str(c) for c in command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if peaks is not None:
        peaks.watch("command", process.pid)
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    LOADS.append(os.getloadavg()[0])
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(map(str, command))}\n{stderr}")
    return seconds


# The worker configuration the README recommends: without Dask's MALLOC_TRIM_THRESHOLD_.
WORKER_CONFIG = """\
distributed:
  nanny:
    pre-spawn-environ:
      MALLOC_TRIM_THRESHOLD_: null
"""


@contextlib.contextmanager
def running_cluster(workers, work, recommended=True):
    """A ``dask scheduler`` and ``dask worker`` processes on loopback; yields (address, pids).

    ``recommended``: the workers read :data:`WORKER_CONFIG` (else Dask's defaults).
    """
    env = dict(os.environ)
    if recommended:
        config = work / "dask-config"
        config.mkdir(exist_ok=True)
        (config / "anovae.yaml").write_text(WORKER_CONFIG)
        env["DASK_CONFIG"] = str(config)
    scheduler_file = work / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    log = open(work / "cluster.log", "w")
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen(
        dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        stdout=log, stderr=log,
    )
    worker = None
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise SystemExit(f"the scheduler did not start; see {work / 'cluster.log'}")
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", str(workers),
             "--nthreads", "1", "--memory-limit", "auto", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=log, stderr=log, env=env,
        )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, {"scheduler": scheduler.pid, "workers": worker.pid}
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
        log.close()


# ---- the runs --------------------------------------------------------------------------------
def score_runs(name, data, model, rows, parts, work, workers, repeat):
    """The runs on one data set, ``repeat`` rounds interleaved: for each run its
    fastest wall time and largest peaks (table rows), and telemetry's Timing."""
    measured = {}
    for _ in range(repeat):
        for label, seconds, command, scheduler, worker, timing in one_round(name, data, model, work, workers):
            measured.setdefault(label, []).append((seconds, command, scheduler, worker, timing))
    results, timing = [], None
    for label, runs in measured.items():
        fastest = min(runs, key=lambda run: run[0])
        peaks = [max((run[i] for run in runs if run[i] is not None), default=None) for i in (1, 2, 3)]
        results.append((name, label, rows, parts, fastest[0], *peaks))
        timing = timing or fastest[4]
    return results, timing


def one_round(name, data, model, work, workers):
    """Each run once: yields (label, wall s, command / scheduler / worker peak MiB, Timing)."""
    anovae = anovae_command()
    with Peaks() as peaks:
        seconds = timed(anovae + ["score", data, "--model", model, "-o", work / f"out-{name}-single.parquet", "-q",
                                  "--force"], peaks)
    yield "1 process", seconds, peaks.largest("command"), None, None, None

    with Peaks() as peaks:
        seconds = timed(anovae + ["score", data, "--model", model, "-o", work / f"out-{name}-local", "--dask", "-q",
                                  "--force"], peaks)
    yield (f"--dask (LocalCluster, {workers} workers, started by the command)", seconds, peaks.largest("command"),
           None, peaks.largest("command child"), None)

    for recommended in (True, False):
        with running_cluster(workers, work, recommended) as (address, pids):
            warm = work / "warm"
            if not warm.exists():
                write_telemetry(warm, 200, 2)
            # Warm-up: the workers import torch once, as in a long-lived cluster.
            timed(anovae + ["score", warm, "--model", work / "telemetry.anovae", "-o", work / "warm-out",
                            "--dask", address, "-q", "--force"])
            with Peaks() as peaks:
                peaks.watch("scheduler", pids["scheduler"])
                peaks.watch("workers", pids["workers"])
                out = work / f"out-{name}-address-{recommended}"
                command = anovae + ["score", data, "--model", model, "-o", out, "--dask", address, "-q", "--force"]
                seconds, tasks = with_task_stream(address, lambda: timed(command, peaks))
            timing = None
            if name == "telemetry" and recommended:
                tiny = work / "tiny"
                if not tiny.exists():
                    write_telemetry(tiny, 100 * 100, 100)
                command = anovae + ["score", tiny, "--model", model, "-o", work / "tiny-out", "--dask", address, "-q",
                                    "--force"]
                _, tiny_tasks = with_task_stream(address, lambda: timed(command))
                timing = Timing(seconds, tasks, tiny_tasks)
            how = "README's worker config" if recommended else "Dask's default MALLOC_TRIM_THRESHOLD_"
            yield (f"--dask ADDRESS (running cluster, {workers} workers, {how})", seconds, peaks.largest("command"),
                   peaks.largest("scheduler"), peaks.largest("workers child"), timing)


def with_task_stream(address, run):
    """``run()``'s result, and the (start, stop) of every part task the cluster computed meanwhile."""
    from distributed import Client, get_task_stream

    with Client(address, timeout="60s") as client, get_task_stream(client) as stream:
        result = run()
    spans = [(span["start"], span["stop"]) for task in stream.data if str(task["key"]).startswith("score_part")
             for span in task["startstops"] if span["action"] == "compute"]
    return result, spans


class Timing:
    """Where a --dask job's time goes, from its tasks' compute spans on the workers.

    ``overhead``: a part task's cost beyond its rows, the median task of 100 parts of
    100 rows; ``rate``: rows per worker-second of the big job once each task's
    overhead is taken out; ``fixed``: the big job's wall time outside its tasks'
    span (the command's start, reading the model and the first chunk, scatter,
    publishing).
    """

    def __init__(self, wall, tasks, tiny_tasks):
        self.wall = wall
        self.overhead = float(np.median([stop - start for start, stop in tiny_tasks]))
        busy = sum(stop - start for start, stop in tasks)
        self.parts = len(tasks)
        self.busy = busy
        self.span = max(stop for _, stop in tasks) - min(start for start, _ in tasks)
        self.fixed = wall - self.span
        self.rows_busy = busy - self.parts * self.overhead


def profile_single(data, model, rows):
    """Seconds per step of single-process scoring of the first ``rows`` rows of ``data``."""
    import anovae
    from anovae.cli._detection import (
        check_model_values, model_dtypes, model_features, result_names, score_rows, with_results,
    )
    from anovae.cli._io import iter_table
    from anovae.cli._output import open_table_output

    estimator = anovae.load(model)
    dtype = model_dtypes(estimator)
    steps = dict.fromkeys(["read", "checks", "encode", "network", "result columns", "write"], 0.0)
    seen = 0
    out = Path(tempfile.mkdtemp()) / "profile.parquet"
    with open_table_output(out) as table:
        chunks = iter_table(data, chunksize=100_000, dtype=dtype)
        while seen < rows:
            started = time.perf_counter()
            chunk = next(chunks, None)
            steps["read"] += time.perf_counter() - started
            if chunk is None:
                break
            if seen == 0:
                features = model_features(estimator, chunk.columns, data, "label")
                names = result_names(chunk.columns)
            marks = [time.perf_counter()]
            check_model_values(estimator, chunk, features, data)
            marks.append(time.perf_counter())
            # score_samples is these two steps; the threshold comparison is negligible.
            encoded, _ = estimator._encode(chunk[features])
            marks.append(time.perf_counter())
            log_likelihood = estimator._log_likelihood_bound(encoded)
            marks.append(time.perf_counter())
            result = with_results(chunk, names, *score_rows(estimator, None, log_likelihood))
            marks.append(time.perf_counter())
            table.write(result)
            marks.append(time.perf_counter())
            for step, (a, b) in zip(["checks", "encode", "network", "result columns", "write"], zip(marks, marks[1:])):
                steps[step] += b - a
            seen += len(chunk)
        chunks.close()
    shutil.rmtree(out.parent)
    return seen, steps


# ---- report ----------------------------------------------------------------------------------
def _mb(value):
    return "-" if value is None else f"{value:,.0f}"


def print_runs(results):
    print("| data | run | rows | parts | wall s | rows/s | command peak MB | scheduler peak MB | worker peak MB (largest) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, run, rows, parts, seconds, command, scheduler, worker in results:
        print(f"| {name} | {run} | {rows:,} | {parts} | {seconds:.1f} | {rows / seconds:,.0f} | {_mb(command)} "
              f"| {_mb(scheduler)} | {_mb(worker)} |")


def print_projection(rows, timing, workers, cores_per_machine=2):
    rate = rows / timing.rows_busy
    print(f"\nOn the running cluster: {timing.parts} part tasks kept the {workers} workers busy "
          f"{timing.busy:.1f} worker-seconds over a {timing.span:.1f} s span ({timing.busy / timing.span / workers:.0%} "
          f"busy); outside that span the job took {timing.fixed:.1f} s (command start, model, first chunk, publish).")
    print(f"Per-part overhead (median task of 100 parts of 100 rows): {timing.overhead * 1000:.0f} ms; "
          f"{rate:,.0f} rows per worker-second once it is taken out.")
    print("\n| machines (2 cores each) | workers | projected wall s | projected rows/s |")
    print("|---:|---:|---:|---:|")
    for machines in (1, 2, 4, 8, 16, 32):
        used = min(machines * cores_per_machine, timing.parts)
        projected = timing.fixed + (rows / rate + timing.parts * timing.overhead) / used
        print(f"| {machines} | {machines * cores_per_machine} | {projected:.1f} | {rows / projected:,.0f} |")


def print_profile(seen, steps):
    total = sum(steps.values())
    print(f"\nWhere single-process time goes ({seen:,} rows of telemetry from Parquet, this process):")
    print("| step | seconds | share | rows/s of this step alone |")
    print("|---|---:|---:|---:|")
    for step, seconds in steps.items():
        print(f"| {step} | {seconds:.2f} | {100 * seconds / total:.0f}% | {seen / seconds:,.0f} |")
    print(f"| all | {total:.2f} | 100% | {seen / total:,.0f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="telemetry rows (default 10M)")
    parser.add_argument("--parts", type=int, default=100, help="telemetry Parquet parts (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes of the running cluster")
    parser.add_argument("--work", type=Path, default=None, help="folder for data and outputs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep --work's data for a rerun")
    parser.add_argument("--no-donors", action="store_true", help="skip the real donors set")
    parser.add_argument("--profile-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of runs, interleaved; the fastest is shown")
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA", "~/anovae_data"))
    parser.add_argument("--training", action="store_true",
                        help="then run benchmarks/scale_training.py on the same sizes")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="anovae-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        telemetry = work / f"telemetry-{args.rows}-{args.parts}"
        if not telemetry.exists():
            write_telemetry(telemetry, args.rows, args.parts)
        print(f"telemetry: {args.rows:,} rows in {args.parts} parts, "
              f"{sum(f.stat().st_size for f in telemetry.iterdir()) / 2**20:,.0f} MB of Parquet, "
              f"written in {time.perf_counter() - started:.0f} s")
        sets = [("telemetry", telemetry, args.rows, args.parts, sorted(telemetry.iterdir())[:1])]
        if not args.no_donors:
            donors = work / "donors"
            if not donors.exists():
                write_donors(donors, os.path.expanduser(args.data_home))
            sets.append(("donors", donors, 619_326, 8, sorted(donors.iterdir())))
        results, timing = [], None
        for name, data, rows, parts, train_on in sets:
            model = work / f"{name}.anovae"
            if not model.exists():  # a rerun on --keep's data keeps its models too
                seconds, n = fit_model(train_on, model)
                print(f"{name}: model fitted on {n:,} rows in {seconds:.0f} s")
            ran, measured = score_runs(name, data, model, rows, parts, work, args.workers, args.repeat)
            results.extend(ran)
            timing = timing or measured
        print(f"\n1-minute load average after each run: {min(LOADS):.1f} to {max(LOADS):.1f} "
              f"(median {np.median(LOADS):.1f}), {os.cpu_count()} cores\n")
        print_runs(results)
        print_projection(args.rows, timing, args.workers)
        print_profile(*profile_single(telemetry, work / "telemetry.anovae", args.profile_rows))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.training:
        import scale_training

        scale_training.main(
            ["--rows", str(args.rows), "--parts", str(args.parts), "--data-home", args.data_home]
            + (["--no-donors"] if args.no_donors else [])
        )


if __name__ == "__main__":
    main()
