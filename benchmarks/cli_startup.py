"""Start-up time of the ``anovae`` command line: commands that only print.

``anovae --help``, ``--version``, ``detect --help``, ``plugins`` and ``thresholds``
compute nothing, so they should answer as fast as any well-made Python command line
(target: at most 0.5 s wall each on the 2-core development machine). Each is run
``--runs`` times (5 by default) as a fresh process through the installed ``anovae``
executable, as a user runs it, and the median wall time is reported beside the
fastest and slowest run, and ``python -c "import anovae"`` and ``python -c "pass"``
(the interpreter's own start) for scale. Output is discarded; each process must
succeed.

The figures include whatever else the machine is doing: on a shared machine, run it
when idle, or read the ``python -c pass`` row as the floor.

Run from the repository root::

    python benchmarks/cli_startup.py
    python benchmarks/cli_startup.py --runs 9
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["--help"],
    ["--version"],
    ["detect", "--help"],
    ["plugins"],
    ["thresholds"],
]
TARGET_S = 0.5


def wall_times(argv, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()

    executable = shutil.which("anovae", path=os.path.dirname(sys.executable)) or shutil.which("anovae")
    if executable is None:
        sys.exit("the anovae executable is not installed (pip install -e .)")
    rows = [(f"anovae {' '.join(c)}", [executable, *c], True) for c in COMMANDS]
    rows.append(('python -c "import anovae"', [sys.executable, "-c", "import anovae"], False))
    rows.append(('python -c "pass"', [sys.executable, "-c", "pass"], False))

    print(f"{args.runs} runs each, wall seconds; {os.cpu_count()} CPU(s)\n")
    print(f"| {'command':<28} | median | min   | max   | <= {TARGET_S} s |")
    print(f"|{'-' * 30}|--------|-------|-------|----------|")
    for label, argv, targeted in rows:
        times = wall_times(argv, args.runs)
        median = statistics.median(times)
        verdict = ("yes" if median <= TARGET_S else "NO") if targeted else ""
        print(f"| {label:<28} | {median:6.3f} | {min(times):5.3f} | {max(times):5.3f} | {verdict:<8} |")


if __name__ == "__main__":
    main()
