"""Optional bridge to the thresholders of PyThresh, when it is installed."""

import importlib

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ._base import BuiltinStrategy, below
from ._pythresh_methods import METHODS, available_methods  # noqa: F401 - re-exported


class PyThreshThreshold(BuiltinStrategy):
    """Wrap a PyThresh thresholder as a threshold strategy.

    PyThresh labels the fitted scores 0 (inlier) or 1 (outlier) rather than
    returning a cut on their scale; the cut kept here is the highest score it
    labelled normal, so ``predict`` works on new scores and every score it called
    normal stays normal. Registered as ``pythresh:<method>`` when PyThresh is
    importable.

    Parameters
    ----------
    method : str, default="iqr"
        Name of the PyThresh module, such as ``"iqr"`` or ``"karch"``.

    Attributes
    ----------
    threshold_ : float
        Highest score labelled normal; just below the smallest score when PyThresh
        labels every score an outlier.

    Notes
    -----
    PyThresh's labels need not be monotone in the score; a score it called an
    outlier but that lies below the cut is normal here.

    References
    ----------
    .. [1] D. Kulik, "PyThresh: A Python toolbox for outlier detection
       thresholding", https://github.com/KulikDM/pythresh.
    """

    description = "A PyThresh thresholder, cut at the highest score it labels normal."
    _parameter_constraints = {"method": [StrOptions(set(METHODS))]}

    def __init__(self, *, method="iqr"):
        self.method = method

    def _compute_threshold(self, scores, y):
        module = importlib.import_module(f"pythresh.thresholds.{self.method}")
        thresholder = getattr(module, self.method.upper())()
        labels = np.asarray(thresholder.eval(scores)).ravel()
        normal = scores[labels == 0]
        return normal.max() if normal.size else below(scores.min())
