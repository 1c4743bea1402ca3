"""Turning a table into model inputs and likelihood targets, and back.

Each column gets one of three likelihoods: ``gaussian`` (numeric values, modelled
standardized), ``bernoulli`` (values in [0, 1], or a column of exactly two values
mapped onto 0 and 1: see :func:`two_values`) or ``categorical`` (anything else,
one-hot at the encoder input). Missing cells are kept as a mask so that the
likelihood counts observed cells only (the basis of imputation); at the encoder
input they are replaced by the column's training mean (zero after standardization),
as in MIWAE's zero imputation (Mattei & Frellsen, 2019).

A categorical column gets one slot more than the categories seen in training, for
any category first met at scoring time. It enters the encoder as the column's mean
one-hot vector and costs the fixed rule-of-succession probability 1/(n + 1) (see
``novelty_log_probs``), so an unseen category makes a row look unusual instead of
silently dropping out of the likelihood; a third value in a two-valued column
(0.5 in a column of 0s and 1s included), or a value outside [0, 1] in a column
declared Bernoulli, is treated alike.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _power
from .errors import DataError

GAUSSIAN, BERNOULLI, CATEGORICAL = "gaussian", "bernoulli", "categorical"
# Largest magnitude of a standardized value fed to the network.
_LIMIT = 1e4


@dataclass
class Encoded:
    """One table in model form; numpy arrays, aligned row by row."""

    num: np.ndarray  # (n, n_gaussian) standardized, NaN where missing
    bin: np.ndarray  # (n, n_bernoulli) in [0, 1], NaN where missing
    cat: np.ndarray  # (n, n_categorical) int codes, -1 where missing
    # (n, n_gaussian) log |d num / d original value| per cell; a missing cell gets its
    # column's training mean. None when no column is power-transformed: then it is
    # -log(scale) for every cell of a column. (n, 1) float64 when encoded with
    # ``cell_jacobian=False``: each row's sum, all a row's score needs.
    log_jac: np.ndarray = None

    def __len__(self):
        return self.num.shape[0]

    def take(self, index):
        log_jac = None if self.log_jac is None else self.log_jac[index]
        return Encoded(self.num[index], self.bin[index], self.cat[index], log_jac)


def _is_numeric(series):
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_plain_number(dtype):
    """A NumPy integer or float dtype: no missing-value marker to translate, no bool."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


#: Bytes of float64 columns gathered at once by ``_contiguous_columns``.
_COLUMN_GROUP_BYTES = 1 << 26
#: Cells of one tile of ``_transposed`` (and of one row chunk of ``encode``): a
#: few hundred kilobytes of float64, which stay in a core's cache.
_TILE_CELLS = 1 << 15


def _contiguous_columns(frame, positions):
    """Yield ``(position, float64 column)`` for the columns at ``positions``, each
    column contiguous in memory.

    A DataFrame built on a row-major array holds each column with a stride of the
    whole row, and every per-column pass over a million strided cells reads a
    cache line per cell. Gathering a group of neighbouring columns at once reads
    each row's cache lines once per group instead of once per column.
    """
    per_group = max(1, _COLUMN_GROUP_BYTES // (8 * max(1, len(frame))))
    for start in range(0, len(positions), per_group):
        group = positions[start : start + per_group]
        yield from zip(group, _transposed(frame.iloc[:, group].to_numpy(dtype=np.float64)))


def _transposed(values):
    """C-contiguous copy of ``values.T`` (no copy if it already is one), built tile
    by tile: numpy's copy of a transposed view strides through memory, and tiles
    that stay in cache made it three times faster on a million rows."""
    if values.T.flags.c_contiguous:
        return values.T
    out = np.empty(values.shape[::-1], dtype=values.dtype)
    rows = _TILE_CELLS // max(1, values.shape[1])
    for start in range(0, values.shape[0], rows):
        out[:, start : start + rows] = values[start : start + rows].T
    return out


def _python_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _category_codes(series, categories):
    """Codes of ``series`` in ``categories``; -1 where missing, len(categories) where
    never seen. Looked up once per distinct value (a million rows hold a handful)."""
    lookup = {value: code for code, value in enumerate(categories)}
    unseen = len(categories)
    row_codes, distinct = pd.factorize(series, use_na_sentinel=True)
    distinct_codes = np.fromiter(
        (lookup.get(_python_scalar(v), unseen) for v in np.asarray(distinct, dtype=object)),
        dtype=np.int64,
        count=len(distinct),
    )
    codes = np.full(len(series), -1, dtype=np.int64)
    seen = row_codes >= 0
    codes[seen] = distinct_codes[row_codes[seen]]
    return codes


def categorical_spec(name, counts):
    """A categorical column's codec entry from ``{category: count}`` (categories in a
    fixed order, whatever their types). Shared by the in-memory codec and the streamed
    statistics."""
    if not counts:
        raise DataError(f"column {name!r} has no observed value: every cell is empty")
    categories = sorted(counts, key=lambda v: (str(type(v)), v))
    total = sum(counts.values())
    return {
        "name": name,
        "kind": CATEGORICAL,
        "categories": categories,
        "frequencies": [counts[c] / total for c in categories],
        "count": int(total),
    }


#: How close (as a share of the gap between a two-valued column's values) a value
#: must be to one of them to count as it: a value written to float32 and read
#: back is not the float64 it was fitted on.
TWO_VALUE_TOLERANCE = 1e-6


def two_values(low, high, n_low, n_high, count):
    """``(low, high)`` when a numeric column holds exactly these two values, else None.

    ``n_low`` and ``n_high`` count the cells equal to the column's minimum and
    maximum among its ``count`` observed ones. Under ``likelihood="auto"`` such a
    column gets a Bernoulli likelihood on ``(x - low) / (high - low)``: a 0/1 column
    standardized by the user (every binary attribute of a table passed through a
    StandardScaler), a flag coded 1/2. A Gaussian on two values is a spiky density
    whose learned variance says little. Shared by the in-memory codec and the
    streamed statistics.
    """
    if high > low and n_low + n_high == count and n_low > 0 and n_high > 0:
        return float(low), float(high)
    return None


def numeric_kind(name, likelihood, in_unit, binary):
    """The likelihood of a numeric column: BERNOULLI or GAUSSIAN.

    ``in_unit``: every observed value is in [0, 1]; ``binary``: they are two values
    and both appear (0 and 1, or any two: :func:`two_values`). Shared by the
    in-memory codec and the streamed statistics.
    """
    if likelihood == BERNOULLI:
        if not in_unit:
            raise DataError(
                f"column {name!r} has values outside [0, 1], which the "
                "bernoulli likelihood cannot model; use likelihood='gaussian'"
            )
        return BERNOULLI
    if likelihood == "auto" and binary:
        return BERNOULLI
    return GAUSSIAN


def bernoulli_spec(spec, mean, pair, likelihood):
    """Finish a Bernoulli column's entry: its mean, and ``low``/``high`` for a column
    of two values ``pair`` (they map onto 0 and 1, and any other value at scoring is
    one never seen: 0.5 in a column of 0s and 1s as much as 7). Only under
    ``likelihood="auto"``: a column the user declared Bernoulli keeps its values in
    [0, 1] as they are, as probabilities."""
    if likelihood == "auto" and pair is not None:
        low, high = pair
        spec["low"], spec["high"] = low, high
        mean = (mean - low) / (high - low)
    spec["mean"] = float(mean)
    return spec


def unit_values(values, spec):
    """A Bernoulli column's values as the likelihood takes them: as they are, or,
    for a two-valued column, 0 for its low value, 1 for its high one and -1 (never
    seen: the novelty probability) for any other."""
    if "low" not in spec:
        return values
    low, high = spec["low"], spec["high"]
    t = (values - low) / (high - low)
    unit = np.where(np.abs(t) <= TWO_VALUE_TOLERANCE, 0.0, -1.0)
    unit = np.where(np.abs(t - 1.0) <= TWO_VALUE_TOLERANCE, 1.0, unit)
    return np.where(np.isnan(values), np.nan, unit)


class TabularCodec:
    """Learns per-column likelihoods and scales from a training table.

    ``columns`` is a list of dicts (JSON-serializable) so a fitted codec can be saved
    without pickle.
    """

    def __init__(self, columns=None):
        self.columns = columns or []

    # ---- fitting -------------------------------------------------------------------
    @classmethod
    def fit(cls, frame, likelihood="auto", numeric_transform="standardize"):
        """``numeric_transform``: "standardize", or "yeo-johnson" to power-transform
        each Gaussian column first (see ``_power``)."""
        columns = [None] * frame.shape[1]
        plain = [i for i, dtype in enumerate(frame.dtypes) if _is_plain_number(dtype)]
        for i, values in _contiguous_columns(frame, plain):
            columns[i] = cls._fit_numeric(str(frame.columns[i]), values, likelihood, numeric_transform)
        for i, name in enumerate(frame.columns):
            if columns[i] is None:
                columns[i] = cls._fit_column(str(name), frame.iloc[:, i], likelihood, numeric_transform)
        return cls(columns)

    @classmethod
    def _fit_column(cls, name, series, likelihood, numeric_transform="standardize"):
        if pd.api.types.is_bool_dtype(series) and likelihood != GAUSSIAN:
            series = series.astype("float64")
        if _is_numeric(series) or pd.api.types.is_bool_dtype(series):
            values = np.ascontiguousarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
            return cls._fit_numeric(name, values, likelihood, numeric_transform)
        observed = series.dropna()
        if observed.empty:
            raise DataError(f"column {name!r} has no observed value: every cell is empty")
        counts = {}
        for value, count in observed.value_counts(sort=False).items():
            if not count:
                continue  # an unused level of a pandas Categorical was never seen
            key = _python_scalar(value)
            counts[key] = counts.get(key, 0) + int(count)
        return categorical_spec(name, counts)

    @staticmethod
    def _fit_numeric(name, values, likelihood, numeric_transform):
        """The codec entry of a numeric column from its values (contiguous float64,
        NaN where missing)."""
        missing = np.isnan(values)
        # Without blanks the column is used as it is: a copy of 1M cells costs more
        # than every statistic below, and the sums see the same numbers in the same
        # order either way.
        observed = values[~missing] if missing.any() else values
        if observed.size == 0:
            raise DataError(f"column {name!r} has no observed value: every cell is empty")
        low, high = float(observed.min()), float(observed.max())
        if np.isinf(low) or np.isinf(high):
            row = int(np.flatnonzero(np.isinf(values))[0])
            raise DataError(f"column {name!r} has an infinite value (row {row})")
        in_unit = low >= 0 and high <= 1
        # Both values must appear: a constant 0 column is no evidence of a 0/1
        # feature, and a Bernoulli fit would then reject other values at scoring.
        pair = None
        head = observed[:1024]  # rules out almost every column without a full pass
        if ((head == low) | (head == high)).all():
            n_low, n_high = int(np.count_nonzero(observed == low)), int(np.count_nonzero(observed == high))
            pair = two_values(low, high, n_low, n_high, observed.size)
        binary = pair is not None
        kind = numeric_kind(name, likelihood, in_unit, binary)
        spec = {"name": name, "kind": kind, "count": int(observed.size)}
        if kind != GAUSSIAN:
            return bernoulli_spec(spec, float(observed.mean()), pair, likelihood)
        log_derivative = 0.0
        if numeric_transform == "yeo-johnson" and not _power.surely_light_tailed(observed, low, high):
            origin, size = _power.reference(observed)
            x = (observed - origin) / size
            power = _power.fit_lambda(x) if _power.heavy_tailed(x) else 1.0
            if power != 1.0:
                spec["origin"], spec["prescale"], spec["power"] = origin, size, power
                spec["upper"] = high
                log_derivative = float(np.mean(_power.log_derivative(x, power)) - np.log(size))
                observed = _power.transform(x, power)
        scale = float(observed.std())
        spec["mean"] = float(observed.mean())
        spec["scale"] = scale if scale > 1e-12 else 1.0
        # Mean log |dT/dx| of the column, for cells missing at scoring.
        spec["mean_log_jacobian"] = log_derivative - float(np.log(spec["scale"]))
        return spec

    # ---- layout --------------------------------------------------------------------
    def names(self, kind=None):
        return [c["name"] for c in self.columns if kind is None or c["kind"] == kind]

    def kinds(self):
        """``{column: kind}``: what ``feature_kinds_`` reports."""
        return {c["name"]: c["kind"] for c in self.columns}

    def _of(self, kind):
        return [c for c in self.columns if c["kind"] == kind]

    def categories(self, name):
        """The seen categories of the categorical column ``name``, in slot order."""
        for c in self._of(CATEGORICAL):
            if c["name"] == name:
                return list(c["categories"])
        raise KeyError(f"{name!r} is not a categorical column of this codec")

    @property
    def n_categories(self):
        """Slots per categorical column: the seen categories plus one for unseen."""
        return [len(c["categories"]) + 1 for c in self._of(CATEGORICAL)]

    @property
    def input_dim(self):
        return len(self._of(GAUSSIAN)) + len(self._of(BERNOULLI)) + sum(self.n_categories)

    def column_order(self):
        """Positions of the (gaussian, bernoulli, categorical) blocks in table order."""
        blocks = self.names(GAUSSIAN) + self.names(BERNOULLI) + self.names(CATEGORICAL)
        position = {name: i for i, name in enumerate(blocks)}
        return np.array([position[c["name"]] for c in self.columns], dtype=np.int64)

    def category_frequencies(self):
        return [c.get("frequencies") for c in self._of(CATEGORICAL)]

    def novelty_log_probs(self):
        """Log-probability of a value never seen in training, per Bernoulli then
        categorical column: -log(n + 1) for a column fitted on n observed cells.

        After n draws without a new value, 1/(n + 1) is the rule-of-succession
        estimate of the chance that the next one is new (Laplace). A fixed number
        per column, so the penalty does not depend on how long training ran.
        """
        specs = self._of(BERNOULLI) + self._of(CATEGORICAL)
        if any("count" not in c for c in specs):
            return None
        return [-float(np.log(c["count"] + 1.0)) for c in specs]

    def log_scales(self):
        return np.log([c["scale"] for c in self._of(GAUSSIAN)]).astype(np.float64)

    # ---- encoding ------------------------------------------------------------------
    def encode(self, frame, cell_jacobian=True):
        """``frame`` in model form. ``cell_jacobian=False`` keeps only each row's sum
        of the log-Jacobian (the same numbers as summing the cells): a wide table
        with power-transformed columns then costs no second n x d array, which on
        1M x 100 was 400 MB written for nothing but row scores."""
        n = len(frame)
        gauss, bern, cats = self._of(GAUSSIAN), self._of(BERNOULLI), self._of(CATEGORICAL)
        num, log_jac = self._standardized(frame, gauss, cell_jacobian)
        binm = np.empty((n, len(bern)), dtype=np.float32)
        for j, spec in enumerate(bern):
            # A value outside [0, 1] (-1 for any value a two-valued column never
            # held) is kept: the likelihood gives it the fixed probability of a
            # never-seen value (see novelty_log_probs).
            binm[:, j] = unit_values(self._numeric(frame, spec), spec)
        cat = np.empty((n, len(cats)), dtype=np.int64)
        for j, spec in enumerate(cats):
            cat[:, j] = _category_codes(frame[spec["name"]], spec["categories"])
        return Encoded(num, binm, cat, log_jac)

    def _standardized(self, frame, specs, cell_jacobian=True):
        """Standardized float32 block of the Gaussian columns, converted chunk by chunk,
        and the float32 log-Jacobian of each cell, or with ``cell_jacobian=False``
        its float64 sum per row, (n, 1) (None without a power transform)."""
        if not specs:
            return np.empty((len(frame), 0), dtype=np.float32), None
        try:
            values = frame[[spec["name"] for spec in specs]].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            # Some column is not numeric: find it and say which.
            values = np.column_stack([self._numeric(frame, spec) for spec in specs])
        means = np.array([spec["mean"] for spec in specs])
        scales = np.array([spec["scale"] for spec in specs])
        powered = [j for j, spec in enumerate(specs) if "power" in spec]
        standardized = np.empty(values.shape, dtype=np.float32)
        # Per cell only with a power transform; otherwise the Jacobian is one
        # constant per column (``log_scales``), and no n x d array is built.
        log_jac = None
        if powered:
            log_jac = np.empty(values.shape if cell_jacobian else (len(values), 1),
                               dtype=np.float32 if cell_jacobian else np.float64)
        fill = np.array([spec.get("mean_log_jacobian", -np.log(spec["scale"])) for spec in specs])
        # Row chunks that stay in cache: whole-table float64 temporaries cost more
        # in page faults than in arithmetic. Each cell gets the same operations.
        rows = max(1, _TILE_CELLS // values.shape[1])
        buffer = np.empty((min(rows, len(values)), values.shape[1]))
        for start in range(0, len(values), rows):
            chunk = values[start : start + rows]
            # One sum says "no infinity" for most tiles; NaN (a blank) or an
            # infinite sum needs the cell-by-cell test.
            if not np.isfinite(np.add.reduce(chunk, axis=None)) and np.isinf(chunk).any():
                for spec in specs:
                    self._numeric(frame, spec)  # raises, naming column and row
            if powered:
                chunk, jac = self._power_transformed(chunk, specs, powered, scales, fill)
                if cell_jacobian:
                    log_jac[start : start + rows] = jac
                else:
                    # Summed from the float32 cells, as a row's score sums them.
                    log_jac[start : start + rows, 0] = jac.astype(np.float32).sum(axis=1, dtype=np.float64)
            # In one reused buffer: fresh temporaries per tile, with the
            # cell-by-cell infinity test, were a tenth of the encoding of a
            # million rows of 100 columns.
            out = buffer[: len(chunk)]
            np.subtract(chunk, means, out=out)
            np.divide(out, scales, out=out)
            # A value far beyond anything seen can overflow a power transform; past
            # this bound it is an extreme anomaly either way, and float32 must stay
            # finite.
            np.clip(out, -_LIMIT, _LIMIT, out=out)
            standardized[start : start + rows] = out
        return standardized, log_jac

    @staticmethod
    def _power_transformed(values, specs, powered, scales, fill):
        """``values`` with the columns ``powered`` power-transformed, and the float64
        log-Jacobian of each cell (``fill`` where missing)."""
        values = np.array(values, dtype=np.float64)  # to_numpy may return a read-only view
        log_jac = np.broadcast_to(-np.log(scales), values.shape).copy()
        for j in powered:
            spec = specs[j]
            x = (values[:, j] - spec["origin"]) / spec["prescale"]
            values[:, j] = _power.transform(x, spec["power"])
            log_jac[:, j] += _power.log_derivative(x, spec["power"]) - np.log(spec["prescale"])
        missing = np.isnan(values)
        if missing.any():
            log_jac[missing] = np.broadcast_to(fill, values.shape)[missing]
        return values, log_jac

    @staticmethod
    def _numeric(frame, spec):
        series = frame[spec["name"]]
        try:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(
                f"column {spec['name']!r} was numeric when the model was fitted but now "
                f"holds non-numeric values such as {series.dropna().iloc[0]!r}"
            ) from None
        if np.isinf(values).any():
            row = int(np.flatnonzero(np.isinf(values))[0])
            raise DataError(f"column {spec['name']!r} has an infinite value (row {row})")
        return values

    # ---- decoding ------------------------------------------------------------------
    def decode(self, num_mean, bin_prob, cat_probs):
        """Build a DataFrame in the original feature space from decoder outputs.

        ``cat_probs`` is a list of (n, k+1) arrays; the unseen slot is never chosen.
        """
        out = {}
        gi = bi = ci = 0
        for spec in self.columns:
            if spec["kind"] == GAUSSIAN:
                values = num_mean[:, gi] * spec["scale"] + spec["mean"]
                if "power" in spec:
                    # Decoded values stay within the range seen in training.
                    upper = (spec.get("upper", np.inf) - spec["origin"]) / spec["prescale"]
                    values = _power.inverse(values, spec["power"], 0.0, upper) * spec["prescale"] + spec["origin"]
                out[spec["name"]] = values
                gi += 1
            elif spec["kind"] == BERNOULLI:
                values = bin_prob[:, bi]
                if "low" in spec:
                    # Between its two values: a mean of float32 probabilities can pass 1.
                    values = spec["low"] + np.clip(values, 0.0, 1.0) * (spec["high"] - spec["low"])
                out[spec["name"]] = values
                bi += 1
            else:
                probs = cat_probs[ci][:, :-1]
                categories = np.asarray(spec["categories"], dtype=object)
                out[spec["name"]] = categories[probs.argmax(axis=1)]
                ci += 1
        return pd.DataFrame(out)
