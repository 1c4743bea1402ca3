"""anovae: anomaly detection on tabular and IoT data with variational autoencoders.

The public names below are imported on first use (PEP 562): ``import anovae`` and
``from anovae import hookimpl`` stay cheap, so that the command line can print its
help and a plugin can declare its hooks without loading torch or scikit-learn.
"""

import importlib

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "ConditionalVAE",
    "save",
    "load",
    "register_model_class",
    "hookimpl",
    "ThresholdStrategy",
    "__version__",
]

# public name -> module that defines it
_LAZY = {
    "VAE": "._vae",
    "ConditionalVAE": "._cvae",
    "save": "._persistence",
    "load": "._persistence",
    "register_model_class": "._persistence",
    "ThresholdStrategy": ".thresholds",
    # Lazy too, though cheap: until anovae.cli's first lines run, a Ctrl-C would
    # print the traceback of whatever import it interrupted (pluggy's, here).
    "hookimpl": ".hookspecs",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
