"""Pixel likelihoods, network presets and the image VAE module.

The module has the interface of the core's ``VAEModule`` (``encode``,
``reparameterize``, ``decode``, ``forward``, ``likelihood``, ``latent_dim``), so the
core objectives and training loop drive it unchanged. Images travel flat, (n, h*w);
the convolutional preset reshapes inside its own layers.
"""

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from anovae.modeling import MAX_LOG_VAR as _MAX_LOG_VAR
from anovae.modeling import MIN_LOG_VAR as _MIN_LOG_VAR
from anovae.modeling import VAEModule, mlp

_LOG_2PI = math.log(2 * math.pi)


class BernoulliPixels(nn.Module):
    """log p(x|z) for pixels in [0, 1] under Bernoulli logits (AEVB Appendix C.1)."""

    outputs_per_pixel = 1

    def forward(self, out, x):
        """Per-pixel log-likelihood; ``out`` may carry leading sample dimensions."""
        return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none")

    def mean(self, out):
        return torch.sigmoid(out)


class GaussianPixels(nn.Module):
    """Gaussian pixels whose means are squashed into (0, 1) by a sigmoid.

    As for Frey Face in AEVB Sec. 5: "the means were constrained to the interval (0, 1)
    using a sigmoidal activation function at the decoder output". The decoder also
    emits a log-variance per pixel unless ``noise_std`` fixes it.

    The floor of the log-variance (sigma >= 0.0067, about two grey levels of 1/255)
    keeps the density of 8-bit pixels from growing without bound on a memorized image,
    while leaving room for the ~2.5 nats per pixel the paper's figures imply.
    """

    def __init__(self, n_pixels, noise_std=None, min_log_var=-10.0, max_log_var=2.0):
        super().__init__()
        self.n_pixels = n_pixels
        self.noise_std = noise_std
        self.min_log_var = min_log_var
        self.max_log_var = max_log_var

    @property
    def outputs_per_pixel(self):
        return 1 if self.noise_std is not None else 2

    def split(self, out):
        mean = torch.sigmoid(out[..., : self.n_pixels])
        if self.noise_std is None:
            log_var = out[..., self.n_pixels :].clamp(self.min_log_var, self.max_log_var)
        else:
            log_var = torch.full_like(mean, 2 * math.log(self.noise_std))
        return mean, log_var

    def forward(self, out, x):
        mean, log_var = self.split(out)
        return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))

    def mean(self, out):
        return self.split(out)[0]


def make_likelihood(kind, n_pixels, noise_std=None):
    if kind == "bernoulli":
        return BernoulliPixels()
    return GaussianPixels(n_pixels, noise_std)


class ImageVAEModule(nn.Module):
    """Gaussian-latent VAE over flat images, with any encoder and decoder.

    ``encoder`` maps (n, h*w) to (n, 2 * latent_dim) (means, then log-variances);
    ``decoder`` maps (n, latent_dim) to (n, outputs_per_pixel * h*w).
    """

    def __init__(self, likelihood, encoder, decoder, latent_dim):
        super().__init__()
        self.likelihood = likelihood
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim

    def reset_parameters(self, generator):
        """Initialize every weight from ``generator`` (no global RNG involved).

        torch's default scheme, uniform in ±1/sqrt(fan_in), for dense and
        convolutional layers alike.
        """
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                    weight = layer.weight
                    fan_in = weight.shape[1] * weight[0, 0].numel()
                    bound = 1.0 / math.sqrt(fan_in)
                    weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)

    def encode(self, x, condition=None):
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(_MIN_LOG_VAR, _MAX_LOG_VAR)

    reparameterize = staticmethod(VAEModule.reparameterize)

    def decode(self, z, condition=None):
        # Scoring decodes (samples, [importance samples,] rows, latent); a convolution
        # only takes one batch dimension, so fold the leading ones and unfold after.
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*lead, out.shape[-1])

    def forward(self, x, eps, condition=None):
        mu, log_var = self.encode(x)
        out = self.decode(self.reparameterize(mu, log_var, eps))
        return out, mu, log_var


# ---- presets ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A network family and the optimizer settings that suit it.

    ``build(backend, latent_dim, n_out)`` returns (encoder, decoder); ``n_out`` is the
    decoder's output width.
    """

    build: Callable
    optimizer: str
    learning_rate: float
    description: str


def _paper(backend, latent_dim, n_out):
    # AEVB Sec. 5: one tanh hidden layer in encoder and decoder.
    sizes = [backend.n_pixels, backend.paper_hidden]
    encoder = mlp([*sizes, 2 * latent_dim], "tanh")
    decoder = mlp([latent_dim, backend.paper_hidden, n_out], "tanh")
    return encoder, decoder


def _mlp2(backend, latent_dim, n_out):
    width = backend.paper_hidden
    encoder = mlp([backend.n_pixels, width, width, 2 * latent_dim], "relu")
    decoder = mlp([latent_dim, width, width, n_out], "relu")
    return encoder, decoder


def _conv(backend, latent_dim, n_out):
    height, width = backend.shape
    if height % 4 or width % 4:
        raise ValueError(
            f"preset 'conv' halves the image twice and needs sides divisible by 4; "
            f"backend images are {height}x{width}"
        )
    channels = n_out // backend.n_pixels
    h4, w4 = height // 4, width // 4
    encoder = nn.Sequential(
        nn.Unflatten(1, (1, height, width)),
        nn.Conv2d(1, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * h4 * w4, 2 * latent_dim),
    )
    # Channel-major flattening puts every pixel's first output (mean or logit) before
    # its second (log-variance), the layout the likelihoods expect.
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 64 * h4 * w4),
        nn.ReLU(),
        nn.Unflatten(1, (64, h4, w4)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(32, channels, 4, stride=2, padding=1),
        nn.Flatten(),
    )
    return encoder, decoder


#: Network presets by name.
PRESETS = {
    "paper": Preset(
        _paper,
        "adagrad",
        0.02,
        "AEVB paper: one tanh hidden layer (500 units MNIST, 200 Frey Face), Adagrad",
    ),
    "mlp2": Preset(_mlp2, "adam", 1e-3, "two ReLU hidden layers of the paper's width, Adam"),
    "conv": Preset(_conv, "adam", 1e-3, "two stride-2 convolutions each way, Adam"),
}


def build_module(backend, preset, latent_dim, noise_std=None):
    likelihood = make_likelihood(backend.likelihood, backend.n_pixels, noise_std)
    n_out = likelihood.outputs_per_pixel * backend.n_pixels
    # torch initializes layers from its global generator as it builds them; fork it
    # so that building leaves the caller's random stream alone (the weights that
    # count come from ``reset_parameters``).
    with torch.random.fork_rng(devices=[]):
        encoder, decoder = PRESETS[preset].build(backend, latent_dim, n_out)
    return ImageVAEModule(likelihood, encoder, decoder, latent_dim)
