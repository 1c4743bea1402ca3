"""Cuts from a location and a spread of the scores, or from one of their quantiles."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import BuiltinStrategy

# Make the median absolute deviation, and the mean absolute deviation around the
# median, estimate the standard deviation when the scores are normal.
_MAD_TO_STD = 1.4826
_MEAN_AD_TO_STD = np.sqrt(np.pi / 2)


class ContaminationThreshold(BuiltinStrategy):
    """Flag a fixed fraction of the scores: cut at their (1 - contamination) quantile.

    Parameters
    ----------
    contamination : float, default=0.1
        Expected fraction of anomalies, in (0, 0.5].

    Attributes
    ----------
    threshold_ : float
        The (1 - contamination) quantile of the fitted scores, linearly interpolated.

    Notes
    -----
    Ties at the quantile are all left normal, so fewer scores than expected can be
    flagged. With fewer than ``1 / contamination`` scores the quantile falls between
    the two largest, and only the largest is flagged.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae_thresholds import ContaminationThreshold
    >>> scores = np.arange(100.0)
    >>> int(ContaminationThreshold(contamination=0.05).fit_predict(scores).sum())
    5
    """

    description = "Flag a fixed fraction: cut at the (1 - contamination) quantile."
    _parameter_constraints = {"contamination": [Interval(Real, 0, 0.5, closed="right")]}

    def __init__(self, *, contamination=0.1):
        self.contamination = contamination

    def _compute_threshold(self, scores, y):
        return np.quantile(scores, 1.0 - self.contamination)


class ZScoreThreshold(BuiltinStrategy):
    """Cut at ``k`` standard deviations above the mean of the scores.

    Parameters
    ----------
    k : float, default=3.0
        How many standard deviations above the mean the cut lies; non-negative.

    Attributes
    ----------
    threshold_ : float
        ``center_ + k * scale_``.
    center_ : float
        Mean of the fitted scores.
    scale_ : float
        Standard deviation of the fitted scores (population form, ``ddof=0``, so
        that a single score gives 0 rather than NaN).

    Notes
    -----
    When all scores are equal the spread is 0, the cut is that value and nothing in
    the fitted scores is flagged. Mean and standard deviation are pulled up by the
    very anomalies they should reveal; ``mad`` is the robust alternative.

    Examples
    --------
    >>> from anovae_thresholds import ZScoreThreshold
    >>> round(ZScoreThreshold(k=2.0).fit([1, 2, 3, 4, 5]).threshold_, 3)
    5.828
    """

    description = "Cut at the mean plus k standard deviations of the scores."
    _parameter_constraints = {"k": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, k=3.0):
        self.k = k

    def _compute_threshold(self, scores, y):
        self.center_ = float(np.mean(scores))
        self.scale_ = float(np.std(scores))
        return self.center_ + self.k * self.scale_


class MADThreshold(BuiltinStrategy):
    r"""Cut at ``k`` robust standard deviations above the median of the scores.

    The robust standard deviation is 1.4826 times the median absolute deviation
    (MAD) around the median; with the default ``k`` this is the modified z-score
    rule of Iglewicz and Hoaglin.

    Parameters
    ----------
    k : float, default=3.5
        How many robust standard deviations above the median the cut lies;
        non-negative.

    Attributes
    ----------
    threshold_ : float
        ``center_ + k * scale_``.
    center_ : float
        Median of the fitted scores.
    scale_ : float
        Robust standard deviation used for the cut.

    Notes
    -----
    The MAD is 0 as soon as more than half of the scores are equal. The scale then
    falls back to the mean absolute deviation around the median times
    :math:`\sqrt{\pi/2}` (also a standard-deviation estimate for normal data), which
    is 0 only when every score is equal; the cut is then that value and nothing in
    the fitted scores is flagged.

    References
    ----------
    .. [1] B. Iglewicz and D. C. Hoaglin, "How to Detect and Handle Outliers",
       ASQC Quality Press, 1993.
    .. [2] C. Leys, C. Ley, O. Klein, P. Bernard and L. Licata, "Detecting outliers:
       Do not use standard deviation around the mean, use absolute deviation around
       the median", Journal of Experimental Social Psychology 49(4), 764-766, 2013.

    Examples
    --------
    >>> from anovae_thresholds import MADThreshold
    >>> round(MADThreshold().fit([1, 2, 3, 4, 100]).threshold_, 4)
    8.1891
    """

    description = "Robust cut: median plus k times 1.4826 median absolute deviations."
    _parameter_constraints = {"k": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, k=3.5):
        self.k = k

    def _compute_threshold(self, scores, y):
        center = float(np.median(scores))
        deviations = np.abs(scores - center)
        scale = _MAD_TO_STD * float(np.median(deviations))
        if scale == 0.0:
            scale = _MEAN_AD_TO_STD * float(np.mean(deviations))
        self.center_, self.scale_ = center, scale
        return center + self.k * scale


class IQRThreshold(BuiltinStrategy):
    """Cut at Tukey's upper fence, ``Q3 + k * (Q3 - Q1)``.

    Parameters
    ----------
    k : float, default=1.5
        How many interquartile ranges above the third quartile the cut lies;
        non-negative (Tukey used 1.5 for "outside" and 3 for "far out" values).

    Attributes
    ----------
    threshold_ : float
        The upper fence; quartiles are linearly interpolated.

    Notes
    -----
    If more than half of the scores are equal the interquartile range can be 0, and
    then every score above the third quartile is flagged.

    References
    ----------
    .. [1] J. W. Tukey, "Exploratory Data Analysis", Addison-Wesley, 1977.

    Examples
    --------
    >>> from anovae_thresholds import IQRThreshold
    >>> float(IQRThreshold().fit([1, 2, 3, 4, 5, 6, 7, 8, 9]).threshold_)
    13.0
    """

    description = "Tukey's upper fence: third quartile plus k interquartile ranges."
    _parameter_constraints = {"k": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, k=1.5):
        self.k = k

    def _compute_threshold(self, scores, y):
        q1, q3 = np.quantile(scores, [0.25, 0.75])
        return q3 + self.k * (q3 - q1)
