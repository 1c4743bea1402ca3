"""Self-normalized importance sampling under a fitted VAE (the MIWAE imputation rule).

Given a row's observed cells x_o, draw z_k ~ q(z | x_o) (missing cells are filled
with zeros at the encoder input, as in training) and weight each draw by

    w_k ∝ p(x_o | z_k) p(z_k) / q(z_k | x_o),

normalized over the K draws. Then E[x_m | x_o] ≈ Σ_k w_k E[x_m | z_k], which is
consistent in K, unlike a single decode of the posterior mean. Multiple imputations
come from sampling importance resampling: pick k with probability w_k, then draw
x_m ~ p(x_m | z_k).

Reference: P.-A. Mattei and J. Frellsen, "MIWAE: Deep Generative Modelling and
Imputation of Incomplete Data Sets", ICML 2019, Eq. 11-12 and Sec. 4.2.
"""

import math

import numpy as np
import torch

_LOG_2PI = math.log(2 * math.pi)


def importance_weights(module, batch, eps):
    """Decoder outputs (K, n, D) and normalized weights (K, n) for each row.

    ``eps`` (K, 1, latent) are standard normal draws shared by every row, so a row's
    result does not depend on the rows processed beside it.
    """
    mu, log_var = module.encode(batch)
    z = module.reparameterize(mu, log_var, eps)
    out = module.decode(z)
    log_px = module.likelihood(out, batch).sum(dim=-1)
    log_pz = -0.5 * (_LOG_2PI + z.pow(2)).sum(dim=-1)
    # z = mu + sigma * eps, so (z - mu)^2 / sigma^2 is eps^2.
    log_qz = -0.5 * (_LOG_2PI + log_var + eps.pow(2)).sum(dim=-1)
    return out, torch.softmax(log_px + log_pz - log_qz, dim=0)


def conditional_means(likelihood, out, weights):
    """Weighted expectations under the K draws, in model space: (n, G + B + S).

    Standardized means of the Gaussian columns, probabilities of the Bernoulli
    columns, then each categorical column's probabilities over its seen categories
    (the slot kept for unseen values left out). Expectations, not modes, so that
    several models' results can be averaged before a value is picked
    (:func:`most_probable`).
    """
    mean, prob, cats = likelihood.expected_values(out)
    w = weights.unsqueeze(-1)
    parts = [(w * mean).sum(dim=0), (w * prob).sum(dim=0)]
    parts.extend((w * p[..., :-1]).sum(dim=0) for p in cats)
    return torch.cat(parts, dim=1)


def most_probable(means, n_numeric, binary, n_seen):
    """Values from :func:`conditional_means` (NumPy, (n, G + B + S)): (n, G + B + C).

    Numbers stay expectations; a Bernoulli column keeps its probability, or gets 0/1
    where ``binary``; each categorical column (``n_seen`` categories each) gets the
    code of its most probable category.
    """
    flat = n_numeric + len(binary)
    bern = means[:, n_numeric:flat]
    bern = np.where(binary, (bern > 0.5).astype(means.dtype), bern)
    codes, start = [], flat
    for k in n_seen:
        codes.append(means[:, start : start + k].argmax(axis=1).astype(means.dtype))
        start += k
    return np.column_stack([means[:, :n_numeric], bern, *codes])


def resampled_draws(likelihood, out, weights, binary, n_draws, generator):
    """``n_draws`` imputations per row by sampling importance resampling.

    Returns (n, n_draws, G + B + C) in the same model space as
    :func:`most_probable`. Sampling happens on the CPU so that ``generator``
    (a CPU generator) fixes the result whatever the device.
    """
    n, device = out.shape[1], out.device
    picks = torch.multinomial(weights.T.cpu(), n_draws, replacement=True, generator=generator)
    rows = torch.arange(n, device=device).unsqueeze(1)
    chosen = out.permute(1, 0, 2)[rows, picks.to(device)]  # (n, M, D)
    mean, log_var, _, _ = likelihood.split(chosen)
    _, prob, cats = likelihood.expected_values(chosen)
    mean, log_var, prob, binary = mean.cpu(), log_var.cpu(), prob.cpu(), binary.cpu()
    num = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator)
    bits = (torch.rand(prob.shape, generator=generator) < prob).to(prob.dtype)
    bern = torch.where(binary, bits, prob)
    codes = []
    for p in cats:
        seen = p[..., :-1].cpu().reshape(n * n_draws, -1)
        pick = torch.multinomial(seen, 1, generator=generator).reshape(n, n_draws, 1)
        codes.append(pick.to(num.dtype))
    return torch.cat([num, bern, *codes], dim=-1)
