"""Peaks over threshold: extrapolate a far quantile from the tail of the scores."""

import warnings
from numbers import Real

import numpy as np
from scipy.stats import genpareto
from sklearn.utils._param_validation import Interval

from ._base import BuiltinStrategy

# Below this many peaks a two-parameter maximum-likelihood fit is mostly noise.
MIN_PEAKS = 10
# Shapes closer to 0 than this use the exponential limit of the quantile formula.
_EXPONENTIAL_SHAPE = 1e-8


def fit_gpd(excesses):
    """Fit a generalized Pareto distribution with location 0 by maximum likelihood.

    Parameters
    ----------
    excesses : ndarray of shape (n_peaks,)
        Positive amounts by which the peaks exceed the initial threshold.

    Returns
    -------
    shape, scale : float
        The shape (gamma, positive for heavy tails) and scale (sigma) of the fit;
        NaN when the optimiser does not reach a valid distribution.
    """
    # The optimiser starts from a unit scale; fitting excesses in units of their
    # mean keeps it well conditioned whatever the scale of the scores.
    unit = float(np.mean(excesses))
    with np.errstate(all="ignore"):
        shape, _, scale = genpareto.fit(excesses / unit, floc=0)
    if not (np.isfinite(shape) and np.isfinite(scale) and scale > 0):
        return np.nan, np.nan
    return float(shape), float(scale) * unit


def gpd_quantile(initial, shape, scale, tail_ratio):
    """Return the score exceeded with probability ``q`` under the fitted tail.

    ``tail_ratio`` is ``q * n / n_peaks``: the wanted exceedance probability
    relative to that of the initial threshold.
    """
    log_ratio = np.log(tail_ratio)
    if abs(shape) < _EXPONENTIAL_SHAPE:
        return initial - scale * log_ratio
    # expm1 keeps the formula accurate for shapes just above the exponential cut-off.
    return initial + scale / shape * np.expm1(-shape * log_ratio)


class POTThreshold(BuiltinStrategy):
    r"""Peaks-over-threshold cut from extreme value theory (the SPOT initial step).

    The scores above an initial threshold ``t``, their ``level`` quantile, are the
    peaks. By the Pickands-Balkema-de Haan theorem their excesses over ``t`` follow
    approximately a generalized Pareto distribution (GPD), fitted here by maximum
    likelihood with the location fixed at 0. The cut is the score exceeded with
    probability ``q`` under that tail:

    .. math::

        z_q = t + \frac{\sigma}{\gamma}
              \left(\left(\frac{q\,n}{N_t}\right)^{-\gamma} - 1\right),

    with :math:`n` scores, :math:`N_t` peaks, shape :math:`\gamma` and scale
    :math:`\sigma`; when :math:`\gamma \approx 0` the tail is exponential and
    :math:`z_q = t - \sigma \log(q\,n/N_t)`. Unlike a plain quantile this can reach
    beyond the largest score seen, so ``q`` may be far smaller than ``1 / n``.

    Parameters
    ----------
    q : float, default=1e-3
        Risk: the probability that a normal score exceeds the cut, in (0, 1).
    level : float, default=0.98
        Quantile of the scores used as the initial threshold ``t``, in (0, 1).

    Attributes
    ----------
    threshold_ : float
        The cut :math:`z_q`, or the fallback described in the Notes.
    initial_threshold_ : float
        The initial threshold ``t``.
    n_peaks_ : int
        Number of scores strictly above ``t``.
    gpd_shape_ : float
        Fitted shape :math:`\gamma`; NaN when the fallback was used.
    gpd_scale_ : float
        Fitted scale :math:`\sigma`; NaN when the fallback was used.

    Notes
    -----
    The tail is not modelled, and the cut falls back to the empirical
    (1 - q) quantile (the next score up, never interpolated, so at most a fraction
    ``q`` of the fitted scores is flagged) when:

    - there are fewer than 10 peaks (a UserWarning says so). With the default
      ``level`` this is the case below about 500 scores; for 10 to 30 scores the
      cut is then their maximum and nothing in them is flagged;
    - ``q`` is not below the fraction of peaks, so the wanted quantile lies under
      ``t``, inside the data, where the empirical quantile needs no model;
    - the peaks are all equal, or the fit fails (also with a UserWarning).

    References
    ----------
    .. [1] A. Siffer, P.-A. Fouque, A. Termier and C. Largouet, "Anomaly Detection
       in Streams with Extreme Value Theory", Proceedings of KDD 2017, 1067-1075.
    .. [2] J. Pickands, "Statistical inference using extreme order statistics",
       The Annals of Statistics 3(1), 119-131, 1975.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae_thresholds import POTThreshold
    >>> scores = np.random.default_rng(0).exponential(size=20_000)
    >>> cut = POTThreshold(q=1e-3).fit(scores).threshold_
    >>> bool(abs(cut - np.log(1e3)) < 0.5)  # the exact 0.999 quantile is log(1000)
    True
    """

    description = "Extreme value theory: GPD fitted to the peaks over a high quantile."
    _parameter_constraints = {
        "q": [Interval(Real, 0, 1, closed="neither")],
        "level": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, q=1e-3, level=0.98):
        self.q = q
        self.level = level

    def _compute_threshold(self, scores, y):
        initial = float(np.quantile(scores, self.level))
        excesses = scores[scores > initial] - initial
        self.initial_threshold_ = initial
        self.n_peaks_ = int(excesses.size)
        self.gpd_shape_ = self.gpd_scale_ = np.nan

        if excesses.size < MIN_PEAKS:
            warnings.warn(
                f"POTThreshold found {excesses.size} scores above its initial "
                f"threshold (level={self.level}) and needs {MIN_PEAKS}; the cut falls "
                "back to the empirical quantile. Give more scores or lower `level`.",
                UserWarning,
                stacklevel=2,
            )
            return self._empirical(scores)
        tail_ratio = self.q * scores.size / excesses.size
        if tail_ratio >= 1.0 or np.ptp(excesses) == 0.0:
            return self._empirical(scores)

        shape, scale = fit_gpd(excesses)
        if np.isnan(shape):
            warnings.warn(
                "POTThreshold could not fit a generalized Pareto distribution to the "
                "peaks; the cut falls back to the empirical quantile.",
                UserWarning,
                stacklevel=2,
            )
            return self._empirical(scores)
        self.gpd_shape_, self.gpd_scale_ = shape, scale
        return gpd_quantile(initial, shape, scale, tail_ratio)

    def _empirical(self, scores):
        return np.quantile(scores, 1.0 - self.q, method="higher")
