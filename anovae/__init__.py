"""anovae: anomaly detection on tabular and IoT data with variational autoencoders."""

from ._cvae import ConditionalVAE
from ._persistence import load, register_model_class, save
from ._vae import VAE
from .hookspecs import hookimpl
from .thresholds import ThresholdStrategy

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
