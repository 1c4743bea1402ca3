"""Built-in threshold strategies of anovae, registered like any third-party plugin.

Each strategy turns anomaly scores (higher = more anomalous) into a cut; see
``anovae thresholds`` for the list and :mod:`anovae.thresholds` for the contract.
"""

import functools

from anovae import hookimpl

from ._conformal import FPRThreshold
from ._mixture import GaussianMixtureThreshold
from ._pot import POTThreshold
from ._pythresh import PyThreshThreshold, available_methods
from ._statistical import (
    ContaminationThreshold,
    IQRThreshold,
    MADThreshold,
    ZScoreThreshold,
)
from ._supervised import F1Threshold

__all__ = [
    "ContaminationThreshold",
    "F1Threshold",
    "FPRThreshold",
    "GaussianMixtureThreshold",
    "IQRThreshold",
    "MADThreshold",
    "POTThreshold",
    "PyThreshThreshold",
    "ZScoreThreshold",
    "STRATEGIES",
    "register_thresholds",
]

#: Registered name -> class of every built-in strategy.
STRATEGIES = {
    "contamination": ContaminationThreshold,
    "zscore": ZScoreThreshold,
    "mad": MADThreshold,
    "iqr": IQRThreshold,
    "pot": POTThreshold,
    "gmm": GaussianMixtureThreshold,
    "fpr": FPRThreshold,
    "f1": F1Threshold,
}


def _pythresh_factory(method):
    factory = functools.partial(PyThreshThreshold, method=method)
    # Listings read these from the factory, as they would from a class.
    factory.description = f"PyThresh's {method.upper()} thresholder (optional)."
    factory.supervised = False
    return factory


@hookimpl
def register_thresholds(register):
    """Register the built-in strategies, and PyThresh's when it is installed."""
    for name, strategy in STRATEGIES.items():
        register(name, strategy)
    for method in available_methods():
        register(f"pythresh:{method}", _pythresh_factory(method))
