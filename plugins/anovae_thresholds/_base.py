"""What every built-in strategy shares: parameter validation and score checks."""

import numpy as np
from sklearn.base import _fit_context

from anovae import ThresholdStrategy


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
