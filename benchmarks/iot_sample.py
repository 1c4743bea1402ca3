"""The bundled IoT sample, per anomaly kind: ``anovae detect`` against IsolationForest.

For each generator seed (0 is the committed ``datasets/iot_sample.csv``; 1-3 are
fresh samples the defaults never saw) the sample is written by
``datasets/make_iot_sample.py``, scored by the README's first command (``anovae
detect`` at its defaults, run as a subprocess exactly as a user would) and by
IsolationForest on the same file (numeric columns, ``device_type`` one-hot, missing
cells filled with the column median). AUROC is reported overall and for each of the
five kinds (that kind's rows against the normal rows).

Kept: a cap on what trimming takes from a large group of rows that share their
categorical values (``kept_rows`` in ``anovae/_objectives.py``; here the groups
are the four device types). A group holding more than ``trim_fraction`` of a
minibatch loses at most its own trimmed share, the rest of the trimming going to
the other rows, worst first. Why: the trimmed training left the standby smart
plugs (13% of the rows, 42% of the plugs: a normal regime) out from the first
steps on some model seeds and not others, which put type_mimicry behind
IsolationForest on the 20,000-row sample of seed 0 and spread the bundled
sample's AUROC over model seeds.

How it was chosen, in three rounds, each rule written before its runs, on samples
never reported (4,000 rows of seeds 4-7 and 20,000 rows of seeds 5-7, each with
model seeds 0 and 1, ``VAE(random_state=...)`` as ``--seed``). Round one, the
rule: fewer (run, kind) cells behind IsolationForest than the plain trimming, the
mean AUROC of neither size down by more than 0.005, the ODDS figures unchanged
(they have no categorical column), the tests passing. It was met first by
trimming every group on its own (groups of fewer than ``1 / trim_fraction`` rows
pooled; written after one look at the bundled sample with model seeds 0-3: 0.980
/ 0.948 / 0.976 / 0.874), which was committed. A check afterwards on data with
several text columns (a VAE trained on NSL-KDD's KDDTrain+ normal rows plus 5%
attacks, AUROC on KDDTest+, seeds 0 and 1; used here for choosing, never
reported as a result) found that it learned attacks that share a protocol,
service and flag: 0.9273 / 0.9231 against 0.9486 / 0.9459. Rounds two and three
added that check to the rule (among the variants passing round one's clauses,
the highest NSL-KDD mean): pooling every group smaller than the trimmed share
(0.9393 / 0.9329), then the cap (0.9486 / 0.9459, the plain rule's figures: the
cap never binds there).

| trimming | 4,000 rows: mean AUROC, cells behind | 20,000 rows: mean AUROC, cells behind | NSL-KDD 5% |
|---|---|---|---|
| the batch as one group (before) | 0.9514, 4 of 40 | 0.9455, 3 of 30 | 0.9473 |
| every group on its own | 0.9638, 1 of 40 | 0.9758, 1 of 30 | 0.9252 |
| groups below the trimmed share pooled | 0.9680, 0 of 40 | 0.9753, 1 of 30 | 0.9361 |
| **a cap on large groups (kept)** | **0.9634**, 1 of 40 | **0.9737**, 1 of 30 | **0.9473** |

Reported after the decision: seeds 0-3 of 4,000 rows 0.979 / 0.976 / 0.945 /
0.973 (before 0.972 / 0.955 / 0.936 / 0.959), every cell ahead; 20,000 rows 0.988
/ 0.989 / 0.986 / 0.963 (before 0.925 / 0.969 / 0.964 / 0.960), every cell ahead
(before, type_mimicry on seed 0 was behind); the bundled sample with model seeds
0-7: 0.979 / 0.949 / 0.977 / 0.977 / 0.974 / 0.982 / 0.981 / 0.976, mean 0.974, no
cell behind (before 0.972 / 0.931 / 0.963 / 0.939 / 0.988 / 0.979 / 0.980 /
0.981, mean 0.967, two cells behind); NSL-KDD with 1% and 10% attacks (seed 2):
0.9503 and 0.9487, as before. The ODDS chosen-on figure stayed 0.8363 / 0.534.
Fitting costs about a fifth more on a table with a categorical column (the
bundled sample 2.11 -> 2.5 s, 20,000 rows 3.0 -> 3.5 s; 2-core machine).

Run from the repository root::

    python benchmarks/iot_sample.py                    # seeds 0-3, 4,000 rows
    python benchmarks/iot_sample.py --rows 20000       # the larger sample
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("spike", "broken_physics", "exfiltration", "sensor_drift", "type_mimicry")
EXCLUDED = ("timestamp", "device_id", "anomaly_type")


def make_sample(seed, rows, folder):
    if seed == 0 and rows == 4000:
        return ROOT / "datasets" / "iot_sample.csv"
    path = Path(folder) / f"iot_{seed}_{rows}.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "datasets" / "make_iot_sample.py"), "--seed", str(seed),
         "--rows", str(rows), "-o", str(path)],
        check=True, capture_output=True,
    )
    return path


def anovae_scores(path, folder):
    out = Path(folder) / "scores.csv"
    command = ["anovae", "detect", str(path), *(a for c in EXCLUDED for a in ("--exclude", c)),
               "--label-column", "label", "-o", str(out), "--force"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return pd.read_csv(out)["anomaly_score"].to_numpy(), time.perf_counter() - started


def isolation_forest_scores(frame, seed):
    started = time.perf_counter()
    X = pd.get_dummies(frame.drop(columns=[*EXCLUDED, "label"]), columns=["device_type"], dtype=float)
    X = X.fillna(X.median())
    scores = -IsolationForest(random_state=seed).fit(X).score_samples(X)
    return scores, time.perf_counter() - started


def by_kind(frame, scores):
    y, kind = frame["label"].to_numpy(), frame["anomaly_type"].to_numpy()
    row = [roc_auc_score(y, scores)]
    for name in KINDS:
        keep = (kind == "none") | (kind == name)
        row.append(roc_auc_score(y[keep], scores[keep]))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args(argv)
    header = f"{'seed':<6}{'detector':<10}{'s':>6}{'AUROC':>7}" + "".join(f"{k[:12]:>14}" for k in KINDS)
    print(f"IoT sample, {args.rows} rows, per-kind AUROC (each kind against the normal rows)\n")
    print(header)
    print("-" * len(header))
    totals = {"anovae": [], "IForest": []}
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            path = make_sample(seed, args.rows, folder)
            frame = pd.read_csv(path)
            for label, (scores, seconds) in (
                ("anovae", anovae_scores(path, folder)),
                ("IForest", isolation_forest_scores(frame, seed)),
            ):
                row = by_kind(frame, scores)
                totals[label].append(row)
                print(f"{seed:<6}{label:<10}{seconds:>6.1f}" + f"{row[0]:>7.3f}" + "".join(f"{v:>14.3f}" for v in row[1:]))
    print("-" * len(header))
    for label, rows in totals.items():
        mean = np.mean(rows, axis=0)
        print(f"{'mean':<6}{label:<10}{'':>6}{mean[0]:>7.3f}" + "".join(f"{v:>14.3f}" for v in mean[1:]))
    ours, theirs = np.array(totals["anovae"]), np.array(totals["IForest"])
    print(f"\nlowest per-kind AUROC of anovae over the seeds: {ours[:, 1:].min():.3f} (target >= 0.80)")
    ahead = (ours[:, 1:] > theirs[:, 1:]).mean()
    print(f"share of (seed, kind) cells where anovae is ahead of IForest: {ahead:.0%}")


if __name__ == "__main__":
    main()
