"""The example plugin's strategy and imputer, imported only when they are used."""

from numbers import Integral

import numpy as np
from sklearn.impute import SimpleImputer

from anovae import ThresholdStrategy


class TopKThreshold(ThresholdStrategy):
    """Flag the ``k`` highest anomaly scores (fewer when scores tie at the cut).

    Parameters
    ----------
    k : int, default=10
        How many scores to flag; with ``k`` at least the number of scores, all are.
    """

    # Shown by `anovae thresholds NAME` (the registration repeats it for the list).
    description = "Flag the k highest scores (example plugin)."

    def __init__(self, *, k=10):
        # Like a scikit-learn estimator: store the parameter, check it in fit.
        self.k = k

    def _compute_threshold(self, scores, y):
        if not isinstance(self.k, Integral) or isinstance(self.k, bool) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if self.k >= scores.size:
            # A score must be strictly above the cut to be flagged.
            return float(np.nextafter(scores.min(), -np.inf))
        return float(np.sort(scores)[-self.k - 1])


def median_imputer():
    """A scikit-learn transformer filling each numeric cell with its column's median."""
    return SimpleImputer(strategy="median", keep_empty_features=True).set_output(transform="pandas")
