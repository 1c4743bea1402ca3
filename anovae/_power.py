"""The Yeo-Johnson power transform of one numeric column, with its Jacobian.

Sensor and traffic columns are often heavy-tailed (bytes sent run from hundreds to
millions): standardized as they are, a few large values set the scale and every
ordinary row is squeezed near zero, where a Gaussian decoder cannot tell its rows
apart. A power transform fitted per column by maximum likelihood (log-like for
such columns, close to the identity for symmetric ones) fixes that. The Jacobian
``log |dT/dx|`` of each cell is kept, so scores stay log-densities of the data in
the user's own units.

Reference: I.-K. Yeo and R. A. Johnson, "A new family of power transformations to
improve normality or symmetry", Biometrika 87(4), 954-959, 2000.
"""

import numpy as np
from scipy.optimize import minimize_scalar

#: Range searched for the exponent: from a reciprocal-like compression of a long
#: right tail (-1) to the identity (1). Exponents above 1 stretch a left tail,
#: which on bounded or discrete columns fits noise.
LAMBDA_BOUNDS = (-1.0, 1.0)
#: A column is transformed only when its largest value lies this many typical
#: distances (``reference``'s size) above its smallest: a tail spanning orders of
#: magnitude. Bounded or roughly symmetric columns stay linear.
HEAVY_TAIL_RATIO = 10.0
#: Gain in log-likelihood, per log(rows), that a transform must bring (see fit_lambda).
MIN_GAIN_PER_LOG_ROW = 1.0
#: Rows used to fit the exponent: the fit is a one-dimensional optimisation whose
#: answer is stable long before millions of rows.
MAX_FIT_ROWS = 100_000


def reference(observed):
    """(origin, size): the transform is applied to ``(x - origin) / size``.

    Measured from the column's smallest value, so that the transform does not
    depend on where the user's zero is (a centred or shifted copy of a column gets
    the same model), and in units of the median distance from it, because the
    transform bends at 1.
    """
    origin = float(np.min(observed))
    size = float(np.median(observed - origin))
    if not size > 1e-12:
        size = float(np.std(observed))
    return origin, (size if size > 1e-12 else 1.0)


def transform(x, lam):
    """Yeo-Johnson transform of ``x`` (float64 array; NaN stays NaN)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    neg = x < 0
    if abs(lam) < 1e-8:
        out[pos] = np.log1p(x[pos])
    else:
        out[pos] = np.expm1(lam * np.log1p(x[pos])) / lam
    if abs(lam - 2.0) < 1e-8:
        out[neg] = -np.log1p(-x[neg])
    else:
        out[neg] = -np.expm1((2.0 - lam) * np.log1p(-x[neg])) / (2.0 - lam)
    out[np.isnan(x)] = np.nan
    return out


def log_derivative(x, lam):
    """log dT/dx of each cell (T is increasing); NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, (lam - 1.0) * np.log1p(np.abs(x)), (1.0 - lam) * np.log1p(np.abs(x)))


def inverse(t, lam, lower=-np.inf, upper=np.inf):
    """Inverse transform, clipped to ``[lower, upper]`` (rescaled units).

    A decoder can output a value beyond the transform's range (for an exponent
    below 0 the positive branch is bounded by -1/exponent); its inverse would be
    infinite. Such values, and any beyond the bounds, are clipped: callers pass
    the range seen in training.
    """
    t = np.asarray(t, dtype=np.float64)
    out = np.empty_like(t)
    pos = t >= 0
    neg = ~pos
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if abs(lam) < 1e-8:
            out[pos] = np.expm1(t[pos])
        else:
            base = lam * t[pos] + 1.0
            out[pos] = np.where(base > 0, np.expm1(np.log(np.maximum(base, 1e-300)) / lam), np.inf)
        mu = 2.0 - lam
        if abs(mu) < 1e-8:
            out[neg] = -np.expm1(-t[neg])
        else:
            base = 1.0 - mu * t[neg]
            out[neg] = np.where(base > 0, -np.expm1(np.log(np.maximum(base, 1e-300)) / mu), -np.inf)
    return np.clip(out, lower, upper)


def surely_light_tailed(observed, low, high):
    """Whether :func:`heavy_tailed` is certainly False for ``observed`` (original
    units, smallest value ``low``, largest ``high``), decided by one count.

    The exact rule needs the median distance from the smallest value, a partial
    sort of the column; on a million rows that costs ten times this count. When
    fewer than half of the values lie within twice the largest distance the rule
    accepts (a tenth of the range, plus a margin far above rounding), the median
    is beyond that distance and the column is not heavy-tailed. False means "not
    known": the caller then applies the exact rule.
    """
    reach = (high - low) / HEAVY_TAIL_RATIO * (1.0 + 1e-6)
    if not reach > 1e-12:
        return False  # a (nearly) constant column: the exact rule's fallbacks decide
    bound = low + 2.0 * reach
    if not bound - low >= 1.5 * reach:
        return False  # the range is lost in the rounding of ``low``
    return bool(np.count_nonzero(observed <= bound) < observed.size // 2)


def heavy_tailed(x):
    """Whether rescaled values (``(x - origin) / size``) have a tail worth bending."""
    return bool(x.size) and float(np.max(x)) >= HEAVY_TAIL_RATIO


def fit_lambda(observed, random_state=0):
    """Maximum-likelihood exponent for (already rescaled) observed values, or 1.

    1 (the identity) unless the transform improves the column's Gaussian
    log-likelihood by more than ``MIN_GAIN_PER_LOG_ROW`` x log(n) nats, a BIC-like
    bar for one extra parameter: on a small table a noisy exponent would otherwise
    bend a column that was fine as it was.
    """
    x = np.asarray(observed, dtype=np.float64)
    if x.size > MAX_FIT_ROWS:
        x = np.random.RandomState(random_state).choice(x, MAX_FIT_ROWS, replace=False)
    if np.unique(x).size < 3:
        return 1.0
    log_size = np.sum(np.sign(x) * np.log1p(np.abs(x)))

    def negative_log_likelihood(lam):
        t = transform(x, lam)
        variance = t.var()
        if not variance > 1e-300 or not np.isfinite(variance):
            return np.inf
        return 0.5 * x.size * np.log(variance) - (lam - 1.0) * log_size

    found = minimize_scalar(negative_log_likelihood, bounds=LAMBDA_BOUNDS, method="bounded")
    if not np.isfinite(found.fun):
        return 1.0
    gain = negative_log_likelihood(1.0) - found.fun
    if gain <= MIN_GAIN_PER_LOG_ROW * np.log(x.size):
        return 1.0
    return float(found.x)
