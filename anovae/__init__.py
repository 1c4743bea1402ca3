"""anovae: anomaly detection on tabular and IoT data with variational autoencoders."""

from ._cvae import ConditionalVAE
from ._vae import VAE
from .hookspecs import hookimpl
from .thresholds import ThresholdStrategy

__version__ = "0.1.0"

__all__ = ["VAE", "ConditionalVAE", "hookimpl", "ThresholdStrategy", "__version__"]
