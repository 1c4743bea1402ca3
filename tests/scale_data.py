"""Generated telemetry with known anomalies, for the streamed and distributed fit tests.

Normal rows lie near a two-dimensional curved manifold (six sensor channels driven
by two hidden factors, plus a heavy-tailed byte count and a three-level mode that
follow the same factors). An anomaly is a normal row with two of its cells copied
from another row: every value is ordinary on its own, only the joint distribution
gives it away, so a detector must learn that distribution to rank it high.
"""

import numpy as np
import pandas as pd

WEIGHTS = np.array([[1.0, 0.5, -0.8, 0.3, 1.2, -0.4], [0.2, -1.0, 0.6, 1.1, -0.3, 0.9]])


def telemetry(n, seed=0, anomaly_rate=0.05):
    """``(frame, labels)``: ``n`` rows of 8 features; ``labels`` is 1 for anomalies."""
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(n, 2))
    sensors = 2.0 * np.tanh(factors) @ WEIGHTS + 0.2 * rng.normal(size=(n, 6))
    traffic = np.exp(1.5 * factors[:, 0] + 0.3 * rng.normal(size=n) + 5.0)
    cells = np.column_stack([sensors, traffic])
    labels = np.zeros(n, dtype=int)
    anomalies = rng.choice(n, int(anomaly_rate * n), replace=False)
    labels[anomalies] = 1
    donors = rng.randint(n, size=len(anomalies))
    for row, donor in zip(anomalies, donors):
        columns = rng.choice(7, 2, replace=False)
        cells[row, columns] = cells[donor, columns]
    frame = pd.DataFrame(cells[:, :6], columns=[f"s{j}" for j in range(6)])
    frame["bytes"] = cells[:, 6]
    frame["mode"] = np.where(factors[:, 1] > 0.5, "hi", np.where(factors[:, 1] < -0.5, "lo", "mid"))
    return frame, labels


def write_parquet_parts(frame, folder, rows_per_file, row_group_size):
    """Write ``frame`` as numbered Parquet files in ``folder``, each cut into row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, len(frame), rows_per_file)):
        part = frame.iloc[start : start + rows_per_file].reset_index(drop=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"part-{i:04d}.parquet", row_group_size=row_group_size)
    return folder
