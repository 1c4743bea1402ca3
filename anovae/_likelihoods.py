"""Per-cell log-likelihoods of a table under the decoder's outputs.

The decoder emits one flat vector per row; :class:`TabularLikelihood` knows which
slice parametrizes which column: a mean (and, unless the noise is fixed, a
log-variance) per Gaussian column, a logit per Bernoulli column and a logit per
category slot of each categorical column. Missing cells contribute nothing.

Gaussian and Bernoulli decoders follow Kingma & Welling, "Auto-Encoding Variational
Bayes" (ICLR 2014), Appendix C.
"""

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

_LOG_2PI = math.log(2 * math.pi)


class Batch(NamedTuple):
    num: torch.Tensor  # (n, G) float, NaN where missing
    bin: torch.Tensor  # (n, B) float, NaN where missing
    cat: torch.Tensor  # (n, C) long, -1 where missing

    def __len__(self):
        return self.num.shape[0]

    def index(self, rows):
        return Batch(self.num[rows], self.bin[rows], self.cat[rows])


class TabularLikelihood(nn.Module):
    """Likelihood of mixed-type rows.

    Parameters
    ----------
    n_gaussian, n_bernoulli : int
        Number of columns of each kind.
    n_categories : list of int
        Slots per categorical column.
    bernoulli_means : sequence of float
        Training means of the Bernoulli columns, used for missing inputs.
    noise_std : "column", "cell" or float
        Standard deviation of the Gaussian columns (standardized units): one learned
        value per column, shared by all rows (a calibrated decoder, Rybkin et al.
        2021); a per-cell value output by the decoder; or a fixed number.
    min_log_var, max_log_var : float
        Bounds of a learned log-variance; without a floor a Gaussian decoder can
        shrink its variance on one row without limit and the likelihood diverges.
    """

    def __init__(
        self,
        n_gaussian,
        n_bernoulli,
        n_categories,
        bernoulli_means=(),
        noise_std=1.0,
        min_log_var=-6.0,
        max_log_var=4.0,
    ):
        super().__init__()
        self.n_gaussian = n_gaussian
        self.n_bernoulli = n_bernoulli
        self.n_categories = list(n_categories)
        self.noise_std = noise_std
        self.min_log_var = min_log_var
        self.max_log_var = max_log_var
        if noise_std == "column":
            self.column_log_var = nn.Parameter(torch.zeros(n_gaussian))
        self.register_buffer(
            "bernoulli_means",
            torch.as_tensor(list(bernoulli_means) or [0.5] * n_bernoulli, dtype=torch.float32),
        )
        offsets = [0]
        for k in self.n_categories:
            offsets.append(offsets[-1] + k)
        self.n_slots = offsets[-1]
        self.register_buffer("cat_offsets", torch.tensor(offsets[:-1], dtype=torch.long))
        # Gather index that pads every categorical block to the widest one; padding
        # points at an extra -inf logit so it gets zero probability.
        k_max = max(self.n_categories, default=1)
        pad = torch.full((len(self.n_categories), k_max), self.n_slots, dtype=torch.long)
        for j, (start, k) in enumerate(zip(offsets[:-1], self.n_categories)):
            pad[j, :k] = torch.arange(start, start + k)
        self.register_buffer("pad_index", pad)

    # ---- layout --------------------------------------------------------------------
    @property
    def per_cell_variance(self):
        return self.noise_std == "cell"

    @property
    def input_dim(self):
        return self.n_gaussian + self.n_bernoulli + self.n_slots

    @property
    def output_dim(self):
        per_gaussian = 2 if self.per_cell_variance else 1
        return per_gaussian * self.n_gaussian + self.n_bernoulli + self.n_slots

    @property
    def n_columns(self):
        return self.n_gaussian + self.n_bernoulli + len(self.n_categories)

    def split(self, out):
        """Split decoder outputs into (mean, log_var, bernoulli logits, category logits)."""
        g, b = self.n_gaussian, self.n_bernoulli
        mean = out[..., :g]
        at = g
        if self.per_cell_variance:
            log_var = out[..., at : at + g].clamp(self.min_log_var, self.max_log_var)
            at += g
        elif self.noise_std == "column":
            log_var = self.column_log_var.clamp(self.min_log_var, self.max_log_var).expand_as(mean)
        else:
            log_var = torch.full_like(mean, 2 * math.log(self.noise_std))
        logits_b = out[..., at : at + b]
        logits_c = out[..., at + b :]
        return mean, log_var, logits_b, logits_c

    # ---- encoder input -------------------------------------------------------------
    def embed(self, batch):
        """Encoder input: standardized numbers, Bernoulli values, one-hot categories."""
        num = torch.nan_to_num(batch.num, nan=0.0)
        missing_b = torch.isnan(batch.bin)
        binary = torch.where(missing_b, self.bernoulli_means.expand_as(batch.bin), batch.bin)
        parts = [num, binary]
        if self.n_categories:
            observed = batch.cat >= 0
            onehot = torch.zeros(len(batch), self.n_slots, device=num.device, dtype=num.dtype)
            index = self.cat_offsets + batch.cat.clamp(min=0)
            onehot.scatter_(1, index, observed.to(num.dtype))
            parts.append(onehot)
        return torch.cat(parts, dim=1)

    # ---- likelihood ----------------------------------------------------------------
    def category_log_probs(self, logits_c):
        """(…, C, K_max) log-probabilities per categorical column, padded with -inf."""
        extra = torch.full_like(logits_c[..., :1], float("-inf"))
        padded = torch.cat([logits_c, extra], dim=-1)[..., self.pad_index]
        return torch.log_softmax(padded, dim=-1)

    def forward(self, out, batch):
        """Per-cell log-likelihood, shape (…, n, n_columns), block order g|b|c.

        Missing cells give 0. ``out`` may carry leading sample dimensions.
        """
        mean, log_var, logits_b, logits_c = self.split(out)
        parts = []
        if self.n_gaussian:
            observed = ~torch.isnan(batch.num)
            x = torch.nan_to_num(batch.num, nan=0.0)
            ll = -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))
            parts.append(ll * observed)
        if self.n_bernoulli:
            observed = ~torch.isnan(batch.bin)
            x = torch.nan_to_num(batch.bin, nan=0.0).expand_as(logits_b)
            ll = -F.binary_cross_entropy_with_logits(logits_b, x, reduction="none")
            parts.append(ll * observed)
        if self.n_categories:
            log_probs = self.category_log_probs(logits_c)
            codes = batch.cat.clamp(min=0).expand(log_probs.shape[:-1])
            ll = log_probs.gather(-1, codes.unsqueeze(-1)).squeeze(-1)
            parts.append(ll * (batch.cat >= 0))
        return torch.cat(parts, dim=-1)

    @torch.no_grad()
    def expected_values(self, out):
        """Means in model space: (gaussian means, bernoulli probs, category probs list)."""
        mean, _, logits_b, logits_c = self.split(out)
        probs = self.category_log_probs(logits_c).exp()
        cat = [probs[..., j, :k] for j, k in enumerate(self.n_categories)]
        return mean, torch.sigmoid(logits_b), cat
