"""Built-in image plugin: MNIST and Frey Face, as in "Auto-Encoding Variational Bayes".

Registers the image backends ``mnist`` and ``frey-face`` (shape, pixel likelihood,
loader), the datasets of the same names and the ``anovae images`` commands, and
provides :class:`ImageVAE`, the estimator that trains on them.
"""

from anovae import hookimpl
from anovae.datasets import load_frey_face, load_mnist

from ._backends import BACKENDS, FREY_HELD_OUT, ImageBackend, available_backends, get_backend
from ._estimator import ImageVAE
from ._networks import PRESETS, Preset

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
]


@hookimpl
def register_image_backends(register):
    """Register the MNIST and Frey Face backends."""
    for name, backend in BACKENDS.items():
        register(name, backend)


@hookimpl
def register_datasets(register):
    """Register the MNIST and Frey Face loaders."""
    register("mnist", load_mnist, "MNIST handwritten digits, 28x28 (LeCun et al. 1998)")
    register("frey-face", load_frey_face, "Frey Face, 1965 faces of 28x20 (Roweis's data page)")


@hookimpl
def register_commands(cli):
    """Add the ``anovae images`` command group."""
    from ._cli import images

    cli.add_command(images)
