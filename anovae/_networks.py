"""The neural networks: an MLP encoder q(z|x[,c]) and decoder p(x|z[,c]).

Kept free of scikit-learn concerns; the estimators build and drive it.
"""

import math

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}

# Bounds on the encoder's log-variance: a guard against exp() overflow early in
# training, far outside what a healthy posterior uses.
_MIN_LOG_VAR, _MAX_LOG_VAR = -12.0, 8.0


def mlp(sizes, activation):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class VAEModule(nn.Module):
    """Gaussian-latent VAE over a :class:`TabularLikelihood`.

    ``n_conditions`` > 0 makes it the conditional VAE of Lopez-Martin et al. (2017):
    a one-hot label joins the decoder input, and the encoder input too when
    ``condition_encoder``.
    """

    def __init__(
        self,
        likelihood,
        latent_dim,
        hidden_layer_sizes,
        activation="relu",
        n_conditions=0,
        condition_encoder=False,
    ):
        super().__init__()
        self.likelihood = likelihood
        self.latent_dim = latent_dim
        self.n_conditions = n_conditions
        self.condition_encoder = condition_encoder and n_conditions > 0
        hidden = list(hidden_layer_sizes)
        enc_in = likelihood.input_dim + (n_conditions if self.condition_encoder else 0)
        self.encoder = mlp([enc_in, *hidden, 2 * latent_dim], activation)
        self.decoder = mlp(
            [latent_dim + n_conditions, *reversed(hidden), likelihood.output_dim], activation
        )

    def reset_parameters(self, generator):
        """Initialize every Linear layer from ``generator`` (no global RNG involved).

        Same scheme as torch's default (uniform in ±1/sqrt(fan_in)).
        """
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, nn.Linear):
                    bound = 1.0 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)

    def encode(self, batch, condition=None):
        x = self.likelihood.embed(batch)
        if self.condition_encoder:
            x = torch.cat([x, condition], dim=-1)
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(_MIN_LOG_VAR, _MAX_LOG_VAR)

    @staticmethod
    def reparameterize(mu, log_var, eps):
        """z = mu + sigma * eps (Kingma & Welling 2014, Sec. 2.4); eps may add dims."""
        return mu + torch.exp(0.5 * log_var) * eps

    def decode(self, z, condition=None):
        if self.n_conditions:
            condition = condition.expand(*z.shape[:-1], condition.shape[-1])
            z = torch.cat([z, condition], dim=-1)
        return self.decoder(z)

    def forward(self, batch, eps, condition=None):
        mu, log_var = self.encode(batch, condition)
        out = self.decode(self.reparameterize(mu, log_var, eps), condition)
        return out, mu, log_var
