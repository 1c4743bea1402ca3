"""A cut with a guaranteed false-positive rate, from held-out normal scores."""

import math
import warnings
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from anovae.thresholds import check_scores

from ._base import BuiltinStrategy


class FPRThreshold(BuiltinStrategy):
    r"""Conformal cut that keeps the false-positive rate at most ``target_fpr``.

    Fit it on anomaly scores of held-out *normal* data (calibration scores, not the
    ones the detector was trained on). With :math:`n` calibration scores and
    :math:`\alpha` = ``target_fpr``, the cut is the
    :math:`\lceil (n + 1)(1 - \alpha) \rceil`-th smallest of them. If a new normal
    score is exchangeable with the calibration ones, the probability that it lies
    above the cut is at most :math:`\alpha` (and at least
    :math:`\alpha - 1/(n + 1)` for continuous scores).

    Parameters
    ----------
    target_fpr : float, default=0.01
        Largest acceptable false-positive rate on normal data, in (0, 1).

    Attributes
    ----------
    threshold_ : float
        The conformal cut.
    calibration_scores_ : ndarray of shape (n_samples,)
        The calibration scores, sorted ascending.

    Notes
    -----
    With fewer than :math:`1/\alpha - 1` calibration scores the rank exceeds
    :math:`n`: no cut can meet the target. The cut is then the largest calibration
    score, whose false-positive rate is about :math:`1/(n + 1)`, and a UserWarning
    says how many scores are needed.

    A score is flagged exactly when its p-value from :meth:`pvalues` is at most
    ``target_fpr`` (outside that fallback).

    References
    ----------
    .. [1] V. Vovk, A. Gammerman and G. Shafer, "Algorithmic Learning in a Random
       World", Springer, 2005.
    .. [2] S. Bates, E. Candes, L. Lei, Y. Romano and M. Sesia, "Testing for
       outliers with conformal p-values", The Annals of Statistics 51(1), 149-178,
       2023.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae_thresholds import FPRThreshold
    >>> strategy = FPRThreshold(target_fpr=0.2).fit(np.arange(1.0, 11.0))
    >>> float(strategy.threshold_)
    9.0
    >>> strategy.pvalues([0.0, 9.5, 11.0]).round(3)
    array([1.   , 0.182, 0.091])
    """

    description = "Conformal cut on held-out normal scores; bounds false positives."
    needs_held_out = True
    _parameter_constraints = {"target_fpr": [Interval(Real, 0, 1, closed="neither")]}

    def __init__(self, *, target_fpr=0.01):
        self.target_fpr = target_fpr

    def _compute_threshold(self, scores, y):
        self.calibration_scores_ = np.sort(scores)
        n = scores.size
        # ceil((n + 1)(1 - a)) written as (n + 1) - floor((n + 1) a): one rounding
        # fewer, so round cases such as n = 99, a = 0.01 land on the exact rank.
        rank = n + 1 - math.floor((n + 1) * self.target_fpr)
        if rank > n:
            needed = math.ceil(1.0 / self.target_fpr) - 1
            warnings.warn(
                f"FPRThreshold has {n} calibration scores but target_fpr="
                f"{self.target_fpr} needs at least {needed}; the cut is their maximum, "
                f"with a false-positive rate near {1 / (n + 1):.3g}.",
                UserWarning,
                stacklevel=2,
            )
            rank = n
        return self.calibration_scores_[rank - 1]

    def pvalues(self, scores):
        """Return the conformal p-value of each score against the calibration set.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.

        Returns
        -------
        pvalues : ndarray of shape (n_samples,)
            ``(1 + #{calibration >= s}) / (n + 1)`` for each score ``s``: in
            ``[1 / (n + 1), 1]``, small for anomalous scores, and uniform over that
            grid for normal ones.
        """
        check_is_fitted(self, "calibration_scores_")
        scores = check_scores(scores)
        calibration = self.calibration_scores_
        at_least = calibration.size - np.searchsorted(calibration, scores, side="left")
        return (1.0 + at_least) / (calibration.size + 1.0)
