"""Peak memory of scoring 1M and 10M generated rows: it should not grow with the rows.

A small VAE (anovae defaults, 5 epochs, no early stopping) is fitted on 10k rows of
the Gaussian mixture of ``benchmarks/speed.py`` (20 columns) and saved with
``anovae.save``. Each case then runs in a fresh Python process that loads the model,
scores, and reports its own peak resident memory (``VmHWM`` of /proc/self/status,
else ``ru_maxrss``):

- ``baseline``: imports and the loaded model, scoring 1,000 rows: the floor;
- ``stream``: rows generated chunk by chunk (``--chunk`` rows, 100k by default: the
  default ``--chunksize`` of ``anovae score``, which reads a CSV this way), each chunk
  scored with ``score_samples`` and dropped; only a running sum and minimum of the
  scores are kept, so input and output take no memory that grows with the rows;
- ``array``: the rows made as one float64 array first, then one ``score_samples``
  call on all of it; its peak includes the array (``input MiB``) and whatever
  scoring copies of it.

Scoring is flat when ``stream`` peaks at the same memory for 1M and 10M rows, and
``array`` costs little beyond its input. ``score s`` of a ``stream`` case includes
generating its rows. ``--threads`` (1 by default) sets torch's intra-op threads in
each process. glibc's adaptive mmap threshold makes a peak vary by about 100 MiB
from one process to the next; ``MALLOC_MMAP_THRESHOLD_=1048576`` in the environment
makes it steady (and lower). Run from the repository root (about 4 minutes on two
cores)::

    python benchmarks/score_memory.py
    python benchmarks/score_memory.py --sizes 1000000 --no-array
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anovae
from anovae import VAE

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from speed import label, mixture  # noqa: E402

N_COLUMNS = 20

_CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import torch
import anovae
from speed import mixture, mixture_chunks
_, _, model_path, mode, n, d, chunk, threads = sys.argv
n, d, chunk, threads = int(n), int(d), int(chunk), int(threads)
torch.set_num_threads(threads)
vae = anovae.load(model_path)
vae.score_samples(mixture(1000, d, seed=1))
input_bytes = 0
started = time.perf_counter()
if mode == "stream":
    total, low = 0.0, np.inf
    for block in mixture_chunks(n, d, seed=1, chunk=chunk):
        scores = vae.score_samples(block)
        total += float(scores.sum())
        low = min(low, float(scores.min()))
elif mode == "array":
    X = mixture(n, d, seed=1)
    input_bytes = X.nbytes
    started = time.perf_counter()
    scores = vae.score_samples(X)
    total, low = float(scores.sum()), float(scores.min())
else:
    total, low = 0.0, 0.0
seconds = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"peak_kib": peak_kib, "seconds": seconds, "input_bytes": input_bytes,
                  "mean": total / max(n, 1), "min": low}))
"""


def run_case(model_path, mode, n, args):
    """Run one case in a fresh process; return its JSON record."""
    command = [sys.executable, "-c", _CHILD, str(HERE), str(model_path), mode, str(n), str(N_COLUMNS),
               str(args.chunk), str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{mode} {n} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated row counts")
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per streamed chunk")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    parser.add_argument("--no-array", action="store_true", help="skip the whole-array cases")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="anovae-memory-") as folder:
        model_path = Path(folder) / "model.anovae"
        X = mixture(10_000, N_COLUMNS)
        anovae.save(VAE(max_epochs=5, early_stopping=False, random_state=0).fit(X), model_path)
        print(f"load average at start {os.getloadavg()}", flush=True)
        cases = [("baseline", 0)]
        for n in sizes:
            cases.append(("stream", n))
            if not args.no_array:
                cases.append(("array", n))
        rows = []
        for mode, n in cases:
            started = time.perf_counter()
            record = run_case(model_path, mode, n, args)
            rows.append((mode, n, record))
            print(f"{mode} {label(n) if n else ''} done in {time.perf_counter() - started:.0f}s",
                  file=sys.stderr, flush=True)

    base = rows[0][2]["peak_kib"] / 1024
    print(f"\nscore_samples of a VAE fitted on 10k x {N_COLUMNS} (anovae defaults, 5 epochs); "
          f"stream chunks of {args.chunk:,} rows; {args.threads} thread(s) per process")
    print("| case | rows | input MiB held | peak RSS MiB | peak - baseline MiB | peak - baseline - input MiB "
          "| score s | rows/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode, n, record in rows:
        peak = record["peak_kib"] / 1024
        held = record["input_bytes"] / 2**20
        rate = f"{n / record['seconds']:,.0f}" if n else "-"
        seconds = f"{record['seconds']:.1f}" if n else "-"
        print(f"| {mode} | {label(n) if n else '1k'} | {held:.0f} | {peak:.0f} | {peak - base:.0f} | "
              f"{peak - base - held:.0f} | {seconds} | {rate} |")
    print(f"\nload average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
