"""The core's own plugin: the model classes anovae defines, for :func:`anovae.load`.

Registered first, like every built-in plugin, and by reference, so that finding the
class of a model file imports only that class's module.
"""

from ._plugins import Lazy
from .hookspecs import hookimpl


@hookimpl
def register_model_classes(register):
    register("anovae.VAE", Lazy("anovae._vae:VAE", description="VAE anomaly detector"))
    register(
        "anovae.ConditionalVAE",
        Lazy("anovae._cvae:ConditionalVAE", description="conditional VAE classifier"),
    )
