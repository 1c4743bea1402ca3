"""The codec's statistics from one pass over a table read piece by piece.

``TabularCodec.fit`` needs the whole table; a streamed fit reads it once, in
pieces, keeping per column:

- exact, whatever the table's size: the count of observed cells, mean and
  variance (merged piece by piece, Chan, Golub & LeVeque 1979), minimum, maximum,
  the counts of 0s and 1s (which decide a Bernoulli column), and each category's
  count;
- from a uniform sample of at most ``sample_rows`` rows drawn in the same pass:
  what needs the distribution itself, that is the power transform's reference
  size (a median), its exponent (``_power.fit_lambda`` subsamples to 100,000 rows
  in memory too) and, for a power-transformed column only, the mean and scale of
  the transformed values and the mean log-Jacobian (the transform is known only
  once the pass is over).

The sample is a bottom-k sample: each row gets a pseudo-random key from a hash of
its global id (see ``_sources``) and the ``sample_rows`` rows with the smallest
keys are kept. That is a uniform sample without replacement, it does not depend
on the order the pieces are read in or on how processes share them, and samples
of disjoint shards merge into the sample of their union by keeping the smallest
keys again. The fit uses it three more times: its first rows (smallest keys) are
the held-out validation rows, and its scores set the threshold.
"""

import numpy as np
import pandas as pd

from . import _power
from ._tabular import (
    GAUSSIAN,
    TabularCodec,
    _python_scalar,
    bernoulli_spec,
    categorical_spec,
    numeric_kind,
    two_values,
)
from .errors import DataError

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_keys(ids, seed):
    """Uniform pseudo-random keys in [0, 1) for global row ids (SplitMix64 hash)."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) * _GOLDEN + np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class NumericStats:
    """Exact moments and extremes of one numeric column's observed cells."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.min, self.max = np.inf, -np.inf
        self.at_min = self.at_max = 0  # cells equal to min and to max

    def add(self, values):
        """``values``: the observed (non-NaN, finite) cells of one piece."""
        if not values.size:
            return
        piece = NumericStats()
        piece.count, piece.mean = values.size, float(values.mean())
        piece.m2 = float(np.sum((values - piece.mean) ** 2))
        piece.min, piece.max = float(values.min()), float(values.max())
        piece.at_min, piece.at_max = int(np.sum(values == piece.min)), int(np.sum(values == piece.max))
        self.merge(piece)

    def merge(self, other):
        if not other.count:
            return
        n = self.count + other.count
        delta = other.mean - self.mean
        self.m2 += other.m2 + delta * delta * self.count * other.count / n
        self.mean += delta * other.count / n
        self.count = n
        low, high = min(self.min, other.min), max(self.max, other.max)
        # Cells equal to the minimum and to the maximum, for two_values.
        self.at_min = (self.at_min if self.min == low else 0) + (other.at_min if other.min == low else 0)
        self.at_max = (self.at_max if self.max == high else 0) + (other.at_max if other.max == high else 0)
        self.min, self.max = low, high

    @property
    def std(self):
        return float(np.sqrt(self.m2 / self.count)) if self.count else 0.0


class RowSample:
    """The ``size`` rows with the smallest keys seen so far (a bottom-k sample).

    Candidates are collected and cut back to ``size`` rows whenever more than
    twice that many are held: memory stays bounded and each row is handled a
    constant number of times on average.
    """

    def __init__(self, size, seed):
        self.size, self.seed = size, seed
        self.parts, self.held = [], 0
        self.cut = np.inf  # rows with a key above the size-th smallest key are out

    def add(self, frame, ids):
        keys = row_keys(ids, self.seed)
        keep = keys < self.cut
        if not keep.any():
            return
        self.parts.append((keys[keep], ids[keep], frame[keep].reset_index(drop=True)))
        self.held += int(keep.sum())
        if self.held > 2 * self.size:
            self._compact()

    def _compact(self):
        keys = np.concatenate([p[0] for p in self.parts])
        ids = np.concatenate([p[1] for p in self.parts])
        frame = pd.concat([p[2] for p in self.parts], ignore_index=True)
        order = np.argsort(keys, kind="stable")[: self.size]
        self.parts = [(keys[order], ids[order], frame.take(order).reset_index(drop=True))]
        self.held = len(order)
        if self.held == self.size:
            self.cut = float(keys[order[-1]])

    def merge(self, other):
        self.parts.extend(other.parts)
        self.held += other.held
        self._compact()

    def result(self):
        """(ids, frame) of the sample, by increasing key: any prefix is a uniform sample."""
        if not self.parts:
            return np.empty(0, dtype=np.int64), None
        self._compact()
        _, ids, frame = self.parts[0]
        return ids, frame


class StreamStats:
    """Statistics of the feature columns of every piece ``add``-ed, plus a row sample.

    ``numeric``: names of the feature columns read as numbers (the others are
    categorical); ``extra``: columns kept in the sample only (a label column).
    """

    def __init__(self, features, numeric, sample_rows, seed, extra=()):
        self.features = list(features)
        self.numeric = set(numeric) & set(self.features)
        self.extra = list(extra)
        self.numbers = {name: NumericStats() for name in self.features if name in self.numeric}
        self.categories = {name: {} for name in self.features if name not in self.numeric}
        self.sample = RowSample(sample_rows, seed)
        self.n_rows = 0

    def add(self, frame, ids, where):
        """Add one piece (columns ``features + extra``) whose rows have global ``ids``.

        ``where(position)`` names the piece's row at ``position`` for error messages:
        ``(file, "row N")``.
        """
        for name, stats in self.numbers.items():
            stats.add(_observed_numbers(frame[name], name, where))
        for name, counts in self.categories.items():
            for value, count in frame[name].value_counts(sort=False, dropna=True).items():
                if count:  # an unused level of a pandas Categorical was never seen
                    key = _python_scalar(value)
                    counts[key] = counts.get(key, 0) + int(count)
        self.sample.add(frame[self.features + self.extra], ids)
        self.n_rows += len(frame)

    def merge(self, other):
        """Fold the statistics of another shard into these ones."""
        for name, stats in self.numbers.items():
            stats.merge(other.numbers[name])
        for name, counts in self.categories.items():
            for key, count in other.categories[name].items():
                counts[key] = counts.get(key, 0) + count
        self.sample.merge(other.sample)
        self.n_rows += other.n_rows

    def codec(self, sample_frame, likelihood="auto", numeric_transform="yeo-johnson"):
        """The fitted :class:`TabularCodec`, as ``TabularCodec.fit`` would build it
        from the whole table (see the module docstring for what is sampled)."""
        columns = []
        for name in self.features:
            if name in self.numbers:
                sample = sample_frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
                columns.append(_numeric_spec(name, self.numbers[name], sample[~np.isnan(sample)], likelihood, numeric_transform))
            else:
                columns.append(categorical_spec(name, self.categories[name]))
        return TabularCodec(columns)


def _observed_numbers(series, name, where):
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        text = pd.to_numeric(series, errors="coerce").isna().to_numpy() & series.notna().to_numpy()
        position = int(np.flatnonzero(text)[0])
        label, place = where(position)
        raise DataError(
            f"{label}: column {name!r} holds the non-numeric value {series.iloc[position]!r} on {place}, "
            "but it is numeric in the rest of the data"
        ) from None
    infinite = np.isinf(values)
    if infinite.any():
        label, place = where(int(np.flatnonzero(infinite)[0]))
        raise DataError(f"{label}: column {name!r} has an infinite value on {place}")
    return values[~np.isnan(values)]


def _numeric_spec(name, stats, sample, likelihood, numeric_transform):
    # The same decisions as TabularCodec._fit_column, from streamed statistics.
    if not stats.count:
        raise DataError(f"column {name!r} has no observed value: every cell is empty")
    in_unit = stats.min >= 0 and stats.max <= 1
    pair = two_values(stats.min, stats.max, stats.at_min, stats.at_max, stats.count)
    kind = numeric_kind(name, likelihood, in_unit, pair is not None)
    spec = {"name": name, "kind": kind, "count": int(stats.count)}
    if kind != GAUSSIAN:
        return bernoulli_spec(spec, float(stats.mean), pair, likelihood)
    mean, scale, log_derivative = stats.mean, stats.std, 0.0
    if numeric_transform == "yeo-johnson":
        origin = float(stats.min)
        size = float(np.median(sample - origin)) if sample.size else 0.0
        if not size > 1e-12:
            size = stats.std
        size = size if size > 1e-12 else 1.0
        tail = np.array([(stats.max - origin) / size])
        power = _power.fit_lambda((sample - origin) / size) if _power.heavy_tailed(tail) and sample.size else 1.0
        if power != 1.0:
            spec["origin"], spec["prescale"], spec["power"] = origin, size, power
            spec["upper"] = float(stats.max)
            x = (sample - origin) / size
            log_derivative = float(np.mean(_power.log_derivative(x, power)) - np.log(size))
            transformed = _power.transform(x, power)
            mean, scale = float(transformed.mean()), float(transformed.std())
    spec["mean"] = float(mean)
    spec["scale"] = scale if scale > 1e-12 else 1.0
    spec["mean_log_jacobian"] = log_derivative - float(np.log(spec["scale"]))
    return spec

