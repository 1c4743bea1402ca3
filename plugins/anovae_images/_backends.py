"""Image backends: what ImageVAE needs to know about an image dataset.

A backend names the image shape, the pixel likelihood, the width of the paper's
hidden layer and a loader of the train and test images. The built-in ones are the two
datasets of Kingma & Welling, "Auto-Encoding Variational Bayes" (ICLR 2014), Sec. 5.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.utils import Bunch

from anovae.plugins import lookup, registry
from anovae.datasets import load_frey_face, load_mnist

LIKELIHOODS = ("bernoulli", "gaussian")

# Frey Face has no official split; hold out a fixed random 10% so "held-out lower
# bound" means the same images on every run.
FREY_HELD_OUT = 200
_FREY_SPLIT_SEED = 0


@dataclass(frozen=True)
class ImageBackend:
    """An image dataset as :class:`ImageVAE` sees it.

    Parameters
    ----------
    shape : tuple of int
        (height, width) of one grey-level image.
    likelihood : {"bernoulli", "gaussian"}
        Pixel likelihood: Bernoulli for (binarized) digits, Gaussian with means
        squashed into (0, 1) for continuous grey levels.
    paper_hidden : int
        Units of the single hidden layer of the ``paper`` preset.
    load : callable
        ``load(subset="train", data_home=None)`` returning a Bunch with ``images``
        (uint8, shape (n, height, width)) and ``target`` (labels, or None).
    description : str
        One line for listings.
    """

    shape: tuple
    likelihood: str
    paper_hidden: int
    load: Callable
    description: str

    @property
    def n_pixels(self):
        return int(self.shape[0] * self.shape[1])


def _load_mnist(subset="train", data_home=None):
    bunch = load_mnist(subset, data_home=data_home)
    return Bunch(images=bunch.images, target=bunch.target)


def _load_frey(subset="train", data_home=None):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    images = load_frey_face(data_home=data_home).images
    order = np.random.RandomState(_FREY_SPLIT_SEED).permutation(len(images))
    rows = np.sort(order[FREY_HELD_OUT:] if subset == "train" else order[:FREY_HELD_OUT])
    return Bunch(images=images[rows], target=None)


MNIST = ImageBackend(
    shape=(28, 28),
    likelihood="bernoulli",
    paper_hidden=500,
    load=_load_mnist,
    description="MNIST digits, 28x28, Bernoulli pixels (60000 train / 10000 test)",
)

FREY_FACE = ImageBackend(
    shape=(28, 20),
    likelihood="gaussian",
    paper_hidden=200,
    load=_load_frey,
    description=(
        f"Frey Face, 28x20, Gaussian pixels with means in (0, 1) "
        f"({1965 - FREY_HELD_OUT} train / {FREY_HELD_OUT} held out at random)"
    ),
)

#: The backends this plugin registers, by name.
BACKENDS = {"mnist": MNIST, "frey-face": FREY_FACE}


def get_backend(name):
    """The image backend registered under ``name``.

    The built-in backends resolve even when plugin loading is restricted (or before the
    entry point is installed): whoever imports this module already has them.
    """
    found = registry("image_backends")
    if name in found:
        return found[name]
    if name in BACKENDS:
        return BACKENDS[name]
    return lookup("image_backends", name)


def available_backends():
    """Names of every usable backend, registered or built in."""
    return sorted(set(registry("image_backends")) | set(BACKENDS))
