"""What every built-in strategy shares: parameter validation and score checks."""

import numpy as np
from sklearn.base import _fit_context

from anovae import ThresholdStrategy
from anovae.errors import DataError


def check_scores(scores):
    """Return ``scores`` as a finite 1-D float array, or raise :class:`DataError`.

    The core checks the scores given to ``fit`` and ``predict``; this check is for
    the extra methods a strategy adds (such as ``pvalues``), with the same wording.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise DataError("no scores to threshold: the input is empty")
    if not np.all(np.isfinite(scores)):
        raise DataError("anomaly scores contain NaN or infinite values")
    return scores


class BuiltinStrategy(ThresholdStrategy):
    """A :class:`~anovae.ThresholdStrategy` whose parameters are checked by ``fit``.

    Subclasses declare ``_parameter_constraints`` as scikit-learn estimators do, so
    a bad parameter is reported with scikit-learn's own wording when fitting, never
    in ``__init__``.
    """

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y=None):
        """Learn ``threshold_`` from anomaly scores.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores, higher meaning more anomalous.
        y : array-like of shape (n_samples,), default=None
            Labels, 0 = normal and 1 = anomaly; only supervised strategies use them.

        Returns
        -------
        self : object
            The fitted strategy.
        """
        return super().fit(scores, y)


def below(value):
    """Return the largest float smaller than ``value``.

    A cut just below the smallest score flags every score, since a score must be
    strictly above ``threshold_`` to be an anomaly.
    """
    return float(np.nextafter(value, -np.inf))
