"""Built-in image plugin: MNIST and Frey Face, as in "Auto-Encoding Variational Bayes".

Registers the image backends ``mnist`` and ``frey-face`` (shape, pixel likelihood,
loader), the datasets of the same names, the model class ``ImageVAE`` (so that
``anovae.load`` reads its files) and the ``anovae images`` commands.

Everything is registered by :class:`~anovae.plugins.Lazy` reference and the public
names below are imported on first use (PEP 562): loading the plugin, as every
``anovae`` command does, imports neither torch nor scikit-learn.
"""

import importlib

from anovae import hookimpl
from anovae.plugins import Lazy

__all__ = [
    "BACKENDS",
    "FREY_HELD_OUT",
    "ImageBackend",
    "ImageVAE",
    "PRESETS",
    "Preset",
    "available_backends",
    "get_backend",
    "register_commands",
    "register_datasets",
    "register_image_backends",
    "register_model_classes",
]

_LAZY = {
    "BACKENDS": "._backends",
    "FREY_HELD_OUT": "._backends",
    "ImageBackend": "._backends",
    "available_backends": "._backends",
    "get_backend": "._backends",
    "ImageVAE": "._estimator",
    "PRESETS": "._networks",
    "Preset": "._networks",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_image_backends(register):
    """Register the MNIST and Frey Face backends."""
    register("mnist", Lazy(f"{__name__}._backends:MNIST", description="MNIST digits, 28x28"))
    register("frey-face", Lazy(f"{__name__}._backends:FREY_FACE", description="Frey Face, 28x20"))


@hookimpl
def register_datasets(register):
    """Register the MNIST and Frey Face loaders."""
    register(
        "mnist",
        Lazy("anovae.datasets:load_mnist"),
        "MNIST handwritten digits, 28x28 (LeCun et al. 1998)",
    )
    register(
        "frey-face",
        Lazy("anovae.datasets:load_frey_face"),
        "Frey Face, 1965 faces of 28x20 (Roweis's data page)",
    )


@hookimpl
def register_model_classes(register):
    """Let ``anovae.load`` rebuild :class:`ImageVAE` from its files."""
    register("anovae_images.ImageVAE", Lazy(f"{__name__}._estimator:ImageVAE"))


@hookimpl
def register_commands(cli):
    """Add the ``anovae images`` command group."""
    from ._cli import images

    cli.add_command(images)
