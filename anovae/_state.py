"""What a fitted VAE or ConditionalVAE stores in its model file, and how it comes back.

The file format itself (a ZIP of JSON and ``.npy`` entries, read as hostile) is
``_persistence.py``'s; this module only says which parameters and fitted values go
into the JSON metadata and sets them again on a new estimator.
"""

import numpy as np
import torch

from ._persistence import loading_device
from ._tabular import TabularCodec
from .errors import DataError


def param_to_json(key, value):
    """A parameter's value as JSON (a tuple becomes a list, a device its name).

    A ``RandomState`` becomes None: a generator's state is not a parameter a file
    should carry, and the fitted weights and scoring draws are stored, so scores do
    not depend on it. Anything else JSON cannot hold is a DataError naming ``key``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [param_to_json(key, v) for v in value]
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.random.RandomState):
        return None
    raise DataError(f"parameter {key}={value!r} cannot be stored in a model file")


def params_to_json(params):
    """Every parameter of ``get_params(deep=False)`` through :func:`param_to_json`."""
    return {key: param_to_json(key, value) for key, value in params.items()}


def loadable_params(params):
    """Stored parameters as the estimator's constructor takes them, on this machine.

    Layer sizes come back as a tuple; a device this machine lacks becomes the CPU
    (:func:`~anovae._persistence.loading_device`).
    """
    params = dict(params)
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    if "device" in params:
        params["device"] = loading_device(params["device"])
    return params


def fitted_meta(estimator, params, extra):
    """The JSON metadata of a fitted estimator: its ``params`` (JSON already), codec,
    scoring draws' seed, training record and input columns, and the subclass's
    ``extra`` dict."""
    return {
        "params": params,
        "codec": estimator._codec.columns,
        "eps_seed": estimator._eps_seed,
        "history": estimator.history_,
        "training_budget": getattr(estimator, "training_budget_", None),
        "n_features_in": int(estimator.n_features_in_),
        "missing_offsets": missing_offsets_to_json(estimator),
        "feature_names_in": (
            [str(n) for n in estimator.feature_names_in_] if hasattr(estimator, "feature_names_in_") else None
        ),
        "extra": extra,
    }


def training_counts(history):
    """(epochs, steps) a training ``history_`` ran: its last record's, or (0, 0).

    Older model files, whose records lack these keys, count one epoch per record
    and no steps.
    """
    last = history[-1] if history else {}
    return int(last.get("epoch", len(history))), int(last.get("step", 0))


def restore_fitted(estimator, meta):
    """Set the fitted values of :func:`fitted_meta` (all but the network) on ``estimator``."""
    estimator._codec = TabularCodec(meta["codec"])
    estimator.feature_kinds_ = estimator._codec.kinds()
    estimator._eps_seed = int(meta["eps_seed"])
    estimator.history_ = list(meta["history"])
    estimator.n_epochs_, estimator.n_steps_ = training_counts(estimator.history_)
    if meta.get("training_budget"):
        estimator.training_budget_ = {k: int(v) for k, v in meta["training_budget"].items()}
    estimator.n_features_in_ = int(meta["n_features_in"])
    if meta.get("feature_names_in") is not None:
        estimator.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)


def missing_offsets_to_json(estimator):
    """What a missing cell adds to its expected log-likelihood, per column in table
    order (the likelihood holds them in its g|b|c block order)."""
    offsets = estimator.module_.likelihood.missing_offsets.detach().cpu().double().numpy()
    return [float(v) for v in offsets[estimator._codec.column_order()]]


def restore_missing_offsets(estimator, meta):
    """Inverse of :func:`missing_offsets_to_json` on the built network. A file written
    before the offsets existed has none: its blanks score their expected value alone,
    as they did when it was saved."""
    offsets = meta.get("missing_offsets")
    if offsets is None:
        return
    block = np.zeros(len(offsets))
    block[estimator._codec.column_order()] = offsets
    estimator.module_.likelihood.set_missing_offsets(block)
