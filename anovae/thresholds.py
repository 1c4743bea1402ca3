"""Threshold strategies: turning anomaly scores into a cut.

Scores given to a strategy follow the "higher = more anomalous" convention (the
negated ``score_samples`` of an estimator). Concrete strategies come from plugins
(the built-in ones live in ``plugins/anovae_thresholds``); look them up with
:func:`get_threshold_strategy`.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .errors import DataError

__all__ = ["ThresholdStrategy", "check_scores", "get_threshold_strategy", "available_thresholds"]


def check_scores(scores):
    """Return ``scores`` as a finite 1-D float array, or raise :class:`DataError`."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise DataError("no scores to threshold: the input is empty")
    if not np.all(np.isfinite(scores)):
        raise DataError("anomaly scores contain NaN or infinite values")
    return scores


class ThresholdStrategy(BaseEstimator):
    """Base class of threshold strategies.

    Subclasses implement ``_compute_threshold(scores, y)`` and return the cut; a
    score strictly above ``threshold_`` is an anomaly. ``y`` (0 = normal,
    1 = anomaly) is only given to supervised strategies.

    Attributes
    ----------
    threshold_ : float
        The fitted cut on the anomaly-score scale.
    """

    #: One line shown by ``anovae thresholds``.
    description = ""
    #: Whether ``fit`` needs labels.
    supervised = False

    def fit(self, scores, y=None):
        scores = check_scores(scores)
        if y is not None:
            y = np.asarray(y).ravel()
            if y.shape[0] != scores.shape[0]:
                raise DataError(
                    f"labels have {y.shape[0]} rows but scores have {scores.shape[0]}"
                )
        elif self.supervised:
            raise DataError(f"threshold strategy {type(self).__name__} needs labels (y)")
        self.threshold_ = float(self._compute_threshold(scores, y))
        return self

    def predict(self, scores):
        check_is_fitted(self, "threshold_")
        return (check_scores(scores) > self.threshold_).astype(np.int64)

    def fit_predict(self, scores, y=None):
        return self.fit(scores, y).predict(scores)

    def _compute_threshold(self, scores, y):  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _compute_threshold(scores, y)")


def available_thresholds():
    """Return ``{name: factory}`` of every registered threshold strategy."""
    from ._plugins import registry

    return dict(registry("thresholds"))


def get_threshold_strategy(spec, **params):
    """Return an unfitted strategy from a registered name or an instance.

    An instance is cloned, so fitting the result never changes the caller's object.
    """
    from sklearn.base import clone

    from ._plugins import lookup

    if isinstance(spec, str):
        return lookup("thresholds", spec)(**params)
    if hasattr(spec, "fit") and hasattr(spec, "predict"):
        return clone(spec) if hasattr(spec, "get_params") else spec
    raise DataError(
        f"threshold must be a strategy name or an object with fit/predict, got {spec!r}"
    )
