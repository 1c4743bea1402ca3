"""Built-in threshold strategies of anovae, registered like any third-party plugin.

Each strategy turns anomaly scores (higher = more anomalous) into a cut; see
``anovae thresholds`` for the list and :mod:`anovae.thresholds` for the contract.

The strategies are registered as :class:`~anovae.plugins.Lazy` references with the
one-line description ``anovae thresholds`` shows, so that listing them imports
neither scikit-learn nor SciPy; the classes load on first use (also when imported
from this package, through ``__getattr__``).
"""

import functools
import importlib

from anovae import hookimpl
from anovae.plugins import Lazy

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

# Registered name -> (module, class, one line for listings, needs labels). A test
# checks that the line and the flag match the class's own attributes.
_BUILTIN = {
    "contamination": ("_statistical", "ContaminationThreshold",
                      "Flag a fixed fraction: cut at the (1 - contamination) quantile.", False),
    "zscore": ("_statistical", "ZScoreThreshold",
               "Cut at the mean plus k standard deviations of the scores.", False),
    "mad": ("_statistical", "MADThreshold",
            "Robust cut: median plus k times 1.4826 median absolute deviations.", False),
    "iqr": ("_statistical", "IQRThreshold",
            "Tukey's upper fence: third quartile plus k interquartile ranges.", False),
    "pot": ("_pot", "POTThreshold",
            "Extreme value theory: GPD fitted to the peaks over a high quantile.", False),
    "gmm": ("_mixture", "GaussianMixtureThreshold",
            "Decision boundary of a two-component Gaussian mixture on the scores.", False),
    "fpr": ("_conformal", "FPRThreshold",
            "Conformal cut on held-out normal scores; bounds false positives.", False),
    "f1": ("_supervised", "F1Threshold",
           "Supervised: the cut that maximises F1 on labelled scores.", True),
}  # fmt: skip

_CLASSES = {cls: module for module, cls, _, _ in _BUILTIN.values()}
_CLASSES["PyThreshThreshold"] = "_pythresh"


def __getattr__(name):
    if name in _CLASSES:
        module = importlib.import_module(f"{__name__}.{_CLASSES[name]}")
        return getattr(module, name)
    if name == "STRATEGIES":
        # Registered name -> class of every built-in strategy.
        return {key: __getattr__(cls) for key, (_, cls, _, _) in _BUILTIN.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pythresh_factory(method):
    reference = Lazy(f"{__name__}._pythresh:PyThreshThreshold")
    factory = functools.partial(reference, method=method)
    # Listings read these from the factory, as they would from a class.
    factory.description = f"PyThresh's {method.upper()} thresholder (optional)."
    factory.supervised = False
    return factory


@hookimpl
def register_thresholds(register):
    """Register the built-in strategies, and PyThresh's when it is installed."""
    from ._pythresh_methods import available_methods

    for name, (module, cls, description, supervised) in _BUILTIN.items():
        register(name, Lazy(f"{__name__}.{module}:{cls}", description=description,
                            supervised=supervised))  # fmt: skip
    for method in available_methods():
        register(f"pythresh:{method}", _pythresh_factory(method))
