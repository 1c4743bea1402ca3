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

__all__ = [
    "ThresholdStrategy",
    "available_thresholds",
    "check_scores",
    "get_threshold_strategy",
    "strategy_name",
]


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
    #: Whether ``fit`` should see scores of rows the detector was *not* trained on.
    #: A detector's scores of its own training rows are optimistic, so a cut whose
    #: guarantee rests on exchangeability with new data (a conformal one) must be
    #: calibrated on held-out rows; :class:`anovae.VAE` then fits the strategy on its
    #: validation split.
    needs_held_out = False

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
    A strategy built from a name remembers it (see :func:`strategy_name`).

    Raises
    ------
    anovae.errors.PluginError
        The name is not registered, or its factory does not make a
        :class:`ThresholdStrategy`.
    """
    from sklearn.base import clone

    from ._plugins import lookup, registrations
    from .errors import PluginError

    if isinstance(spec, str):
        missing = _missing_package(spec)
        if missing is not None and spec not in registrations("thresholds"):
            raise PluginError(missing)
        strategy = lookup("thresholds", spec)(**params)
        if not isinstance(strategy, ThresholdStrategy):
            plugin = registrations("thresholds")[spec].plugin
            raise PluginError(
                f"threshold strategy {spec!r} of plugin {plugin!r} made a "
                f"{type(strategy).__name__}, not an anovae.ThresholdStrategy"
            )
        strategy._anovae_name = spec
        return _validated(strategy)
    if hasattr(spec, "fit") and hasattr(spec, "predict"):
        if not hasattr(spec, "get_params"):
            return spec
        copy = clone(spec)
        if getattr(spec, "_anovae_name", None):
            copy._anovae_name = spec._anovae_name
        return _validated(copy)
    raise DataError(
        f"threshold must be a strategy name or an object with fit/predict, got {spec!r}"
    )


#: Name prefixes of strategies that are registered only when an optional package is
#: installed: prefix -> (the package's name, its import name, what pip installs).
_OPTIONAL_PACKAGES = {"pythresh:": ("PyThresh", "pythresh", "pythresh")}


def _missing_package(name):
    # Without the package its names are simply absent, and "unknown threshold
    # strategy" would send the user looking for a typo instead of an install.
    import importlib.util

    for prefix, (package, module, requirement) in _OPTIONAL_PACKAGES.items():
        if name.startswith(prefix) and importlib.util.find_spec(module) is None:
            return (
                f"threshold strategy {name!r} needs the {package} package, which is not "
                f"installed: pip install {requirement}"
            )
    return None


def _validated(strategy):
    # A strategy's own fit checks its parameters, but inside an estimator's fit
    # scikit-learn skips nested validation (prefer_skip_nested_validation): check
    # them here, before any training, with scikit-learn's wording.
    if getattr(strategy, "_parameter_constraints", None):
        strategy._validate_params()
    return strategy


def strategy_name(strategy, *, for_display=False):
    """The registered name of a strategy, as model files and messages give it.

    The name recorded when the strategy was built from one, else the name under
    which its class is registered, directly or through a ``functools.partial``
    whose fixed parameters the strategy shares (``pythresh:iqr``).

    Parameters
    ----------
    strategy : ThresholdStrategy
    for_display : bool, default=False
        For a message rather than a model file: a strategy no plugin registers is
        named by its class instead of raising.

    Raises
    ------
    anovae.errors.PluginError
        No plugin registers the strategy's class (a model using it cannot be
        saved), unless ``for_display``.
    """
    import functools

    from ._plugins import Lazy, registrations
    from .errors import PluginError

    found = registrations("thresholds")
    recorded = getattr(strategy, "_anovae_name", None)
    if recorded in found:
        return recorded
    params = strategy.get_params(deep=False) if hasattr(strategy, "get_params") else {}
    for name, reg in found.items():
        factory, fixed = reg.obj, {}
        if isinstance(factory, functools.partial):
            factory, fixed = factory.func, factory.keywords
        if isinstance(factory, Lazy):
            factory = factory.resolve()
        if factory is type(strategy) and all(params.get(k) == v for k, v in fixed.items()):
            return name
    if for_display:
        return type(strategy).__name__
    raise PluginError(
        f"threshold strategy {type(strategy).__name__} is not registered by any plugin, "
        "so a model using it cannot be saved"
    )
