"""Per-cell log-likelihoods of a table under the decoder's outputs.

The decoder emits one flat vector per row; :class:`TabularLikelihood` knows which
slice parametrizes which column: a mean (and, unless the noise is fixed, a
log-variance) per Gaussian column, a logit per Bernoulli column and a logit per
category slot of each categorical column. Missing cells contribute nothing to
training; when a row is scored, a missing cell counts its expected log-likelihood
plus an offset calibrated on held-out rows (``anovae/_missing_cells.py``).

Gaussian and Bernoulli decoders follow Kingma & Welling, "Auto-Encoding Variational
Bayes" (ICLR 2014), Appendix C.
"""

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

_LOG_2PI = math.log(2 * math.pi)
#: The per-column log-variance is stored divided by this gain. Adam moves a
#: parameter by about its learning rate per step, whatever the gradient's size; a
#: column the decoder predicts well needs its log-variance to travel from 0 (the
#: data's own variance) towards -6, thousands of steps at lr=1e-3, long after the
#: network's weights have settled: on the bundled IoT sample the loss was still
#: falling steeply when the budget ran out (AUROC 0.785). With the gain the
#: variances keep pace with the weights (AUROC 0.940, same budget; the choice is
#: recorded in benchmarks/odds.py's protocol).
LOG_VAR_GAIN = 30.0
#: Log-probability of a never-seen value when the codec does not say how many rows
#: the column was fitted on: that of one new value in 10,000 rows.
DEFAULT_NOVELTY_LOG_PROB = -math.log(10_001)


class Batch(NamedTuple):
    num: torch.Tensor  # (n, G) float, NaN where missing
    bin: torch.Tensor  # (n, B) float, NaN where missing
    cat: torch.Tensor  # (n, C) long, -1 where missing

    def __len__(self):
        return self.num.shape[0]

    def index(self, rows):
        """The rows at ``rows`` (a 1-D tensor of indices)."""
        # index_select, not advanced indexing: on a CPU it gathers 256 rows of 100
        # columns four times faster, and a training step gathers a minibatch.
        return Batch(self.num.index_select(0, rows), self.bin.index_select(0, rows), self.cat.index_select(0, rows))


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
    category_frequencies : list of sequences, optional
        Training frequency of each seen category, per categorical column: the
        encoder input of a missing or never-seen category (the column's mean, as
        for the other kinds).
    novelty_log_probs : sequence of float, optional
        Log-probability, per Bernoulli column then per categorical column, of a
        value the column never produced in training (a category first met at
        scoring time, a Bernoulli value outside [0, 1]). A fixed number, not a
        decoder output: a slot that never receives data gets no gradient, so a
        learned probability would depend on the initialization and drift with the
        training length.
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
        category_frequencies=None,
        novelty_log_probs=None,
    ):
        super().__init__()
        self.n_gaussian = n_gaussian
        self.n_bernoulli = n_bernoulli
        self.n_categories = list(n_categories)
        self.noise_std = noise_std
        self.min_log_var = min_log_var
        self.max_log_var = max_log_var
        if noise_std == "column":
            self.column_log_var_scaled = nn.Parameter(torch.zeros(n_gaussian))
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
        # The same gather without the unseen slot, each column's unseen code, and
        # the column owning each one-hot slot: fixed by the layout, built once
        # (not per forward pass). Not saved: the layout rebuilds them.
        seen = pad.clone()
        for j, k in enumerate(self.n_categories):
            seen[j, k - 1] = self.n_slots
        self.register_buffer("seen_index", seen, persistent=False)
        self.register_buffer(
            "unseen_codes", torch.tensor([k - 1 for k in self.n_categories], dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "slot_owner",
            torch.repeat_interleave(torch.arange(len(self.n_categories)), torch.tensor(self.n_categories, dtype=torch.long)),
            persistent=False,
        )
        # The unseen slot is kept in the layout (and never chosen): a fixed
        # probability replaces it, see ``novelty_log_probs``.
        frequencies = torch.zeros(self.n_slots)
        for j, (start, k) in enumerate(zip(offsets[:-1], self.n_categories)):
            seen = category_frequencies[j] if category_frequencies is not None else None
            if seen is not None and len(seen) == k - 1:
                frequencies[start : start + k - 1] = torch.as_tensor(seen, dtype=torch.float32)
        self.register_buffer("category_frequencies", frequencies, persistent=False)
        novelty = list(novelty_log_probs) if novelty_log_probs is not None else []
        if len(novelty) != n_bernoulli + len(self.n_categories):
            novelty = [DEFAULT_NOVELTY_LOG_PROB] * (n_bernoulli + len(self.n_categories))
        self.register_buffer("novelty_log_probs", torch.tensor(novelty, dtype=torch.float32), persistent=False)
        # Added to a missing cell's expected log-likelihood (block order g|b|c); set
        # after training from held-out rows (``_missing_cells``). Not in the weights:
        # a model file carries it in its metadata, and one without it scores blanks
        # by their expected value alone, as before.
        self.register_buffer("missing_offsets", torch.zeros(self.n_columns), persistent=False)

    # ---- layout --------------------------------------------------------------------
    @property
    def column_log_var(self):
        """The learned log-variance of each Gaussian column (``noise_std="column"``)."""
        return self.column_log_var_scaled * LOG_VAR_GAIN

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

    def split(self, out, expand=True):
        """Split decoder outputs into (mean, log_var, bernoulli logits, category logits).

        With ``expand=False`` a log-variance shared by every row (``noise_std`` a
        number or ``"column"``) comes as one value per column, broadcastable against
        ``mean``, so that what depends on it is computed once, not once per cell.
        """
        g, b = self.n_gaussian, self.n_bernoulli
        mean = out[..., :g]
        at = g
        if self.per_cell_variance:
            log_var = out[..., at : at + g].clamp(self.min_log_var, self.max_log_var)
            at += g
        elif self.noise_std == "column":
            log_var = self.column_log_var.clamp(self.min_log_var, self.max_log_var)
        else:
            log_var = torch.full_like(mean[..., :1, :], 2 * math.log(self.noise_std))
        if expand:
            log_var = log_var.expand_as(mean)
        logits_b = out[..., at : at + b]
        logits_c = out[..., at + b :]
        return mean, log_var, logits_b, logits_c

    # ---- encoder input -------------------------------------------------------------
    def embed(self, batch):
        """Encoder input: standardized numbers, Bernoulli values, one-hot categories."""
        num = torch.nan_to_num(batch.num, nan=0.0)
        if not self.n_bernoulli and not self.n_categories:
            return num  # what the concatenation below would copy, one pass fewer
        unusable = torch.isnan(batch.bin) | (batch.bin < 0) | (batch.bin > 1)
        binary = torch.where(unusable, self.bernoulli_means.expand_as(batch.bin), batch.bin)
        parts = [num, binary]
        if self.n_categories:
            # Missing and never-seen categories enter as the column's mean one-hot
            # vector (its training frequencies), like a missing number enters as its
            # mean: an input the encoder has a defined answer for.
            known = (batch.cat >= 0) & (batch.cat < self.unseen_codes)
            onehot = torch.zeros(len(batch), self.n_slots, device=num.device, dtype=num.dtype)
            index = self.cat_offsets + batch.cat.clamp(min=0)
            onehot.scatter_(1, index, known.to(num.dtype))
            if not bool(known.all()):
                fill = self.category_frequencies.to(num.dtype) * self._slot_mask(~known).to(num.dtype)
                onehot = onehot + fill
            parts.append(onehot)
        return torch.cat(parts, dim=1)

    def _slot_mask(self, column_mask):
        """(n, C) per-column flags spread over each column's slots: (n, n_slots)."""
        return column_mask[:, self.slot_owner]

    # ---- likelihood ----------------------------------------------------------------
    def category_log_probs(self, logits_c):
        """(…, C, K_max) log-probabilities per categorical column, padded with -inf.

        Over the seen categories only: the unseen slot gets -inf too.
        """
        extra = torch.full_like(logits_c[..., :1], float("-inf"))
        padded = torch.cat([logits_c, extra], dim=-1)[..., self.seen_index]
        return _log_softmax(padded)

    def forward(self, out, batch, fill_missing=False):
        """Per-cell log-likelihood, shape (…, n, n_columns), block order g|b|c.

        ``out`` may carry leading sample dimensions. A missing cell gives 0, or with
        ``fill_missing`` its expected log-likelihood under the decoder (minus the
        entropy of p(x_j | z)) plus its column's ``missing_offsets``: the model's
        own expectation, corrected by how far observed cells of held-out rows fell
        from theirs, so that a row with blanks is scored neither more nor less
        normal than a complete row.
        """
        mean, log_var, logits_b, logits_c = self.split(out, expand=False)
        g, b = self.n_gaussian, self.n_bernoulli
        parts = []
        if self.n_gaussian:
            observed = ~torch.isnan(batch.num)
            x = torch.nan_to_num(batch.num, nan=0.0)
            ll = -0.5 * ((x - mean) ** 2 * torch.exp(-log_var) + (_LOG_2PI + log_var))
            if fill_missing:
                ll = torch.where(observed, ll, _gaussian_expected(log_var) + self.missing_offsets[:g])
            else:
                ll = ll * observed
            parts.append(ll)
        if self.n_bernoulli:
            ll, _, missing, _ = self.bernoulli_cells(logits_b, batch.bin)
            if fill_missing:
                ll = torch.where(missing, _bernoulli_expected(logits_b) + self.missing_offsets[g : g + b], ll)
            else:
                ll = ll * ~missing
            parts.append(ll)
        if self.n_categories:
            ll, log_probs, _, missing, _ = self.categorical_cells(logits_c, batch.cat)
            if fill_missing:
                ll = torch.where(missing, _categorical_expected(log_probs) + self.missing_offsets[g + b :], ll)
            else:
                ll = ll * ~missing
            parts.append(ll)
        return torch.cat(parts, dim=-1)

    def bernoulli_cells(self, logits_b, binary):
        """Per-cell log-likelihood of the 0/1 cells ``binary`` under ``logits_b``, a
        value out of [0, 1] at its novelty log-probability and a missing cell as if
        it were 0 (the caller leaves it out or fills it); with the targets used and
        the missing and out-of-range flags: ``(ll, x, missing, outside)``."""
        missing = torch.isnan(binary)
        outside = (binary < 0) | (binary > 1)
        x = torch.where(missing | outside, 0.0, binary).expand_as(logits_b)
        ll = -F.binary_cross_entropy_with_logits(logits_b, x, reduction="none")
        return torch.where(outside, self.novelty_log_probs[: self.n_bernoulli], ll), x, missing, outside

    def categorical_cells(self, logits_c, codes):
        """Per-cell log-likelihood of the category ``codes`` under ``logits_c``, a
        never-seen category at its novelty log-probability and a missing one as if
        it were the first (the caller leaves it out or fills it); with what made it:
        ``(ll, log_probs, index, missing, unseen)``, ``index`` the codes gathered."""
        log_probs = self.category_log_probs(logits_c)
        unseen = codes == self.unseen_codes
        missing = codes < 0
        index = torch.where(unseen | missing, 0, codes).expand(log_probs.shape[:-1]).unsqueeze(-1)
        ll = log_probs.gather(-1, index).squeeze(-1)
        return torch.where(unseen, self.novelty_log_probs[self.n_bernoulli :], ll), log_probs, index, missing, unseen

    def complete_rows(self, batch):
        """(n,) flags: rows whose every cell holds a value the likelihood models (none
        missing, no never-seen category, no 0/1 value out of range), which
        :meth:`row_log_likelihood` can score."""
        # A missing number makes its row's sum NaN: one reduction, where a NaN test
        # per cell and a per-row "any" cost twenty times as much on a CPU. (Infinite
        # values of both signs flag a row too: it is then scored cell by cell, as
        # correctly, only more slowly.)
        bad = torch.isnan(batch.num.sum(dim=1))
        if self.n_bernoulli:
            bad |= ((batch.bin >= 0) & (batch.bin <= 1)).logical_not_().any(dim=1)
        if self.n_categories:
            bad |= ((batch.cat >= 0) & (batch.cat < self.unseen_codes)).logical_not_().any(dim=1)
        return ~bad

    def row_log_likelihood(self, out, batch):
        """(…, n): ``forward(out, batch).sum(-1)`` for rows that :meth:`complete_rows`
        accepts, up to float rounding, without the (…, n, n_columns) array of cell
        terms or the masks that missing cells need: scoring's common case, in about
        a third of the elementwise passes."""
        mean, log_var, logits_b, logits_c = self.split(out, expand=False)
        total = 0.0
        if self.n_gaussian:
            # In place on the one (…, n, G) array. A matrix-vector product for the
            # weighted sum would be faster still, but BLAS rounds it differently
            # depending on memory alignment: scores must repeat to the bit.
            squares = batch.num - mean
            squares.mul_(squares).mul_(torch.exp(-log_var))
            if self.per_cell_variance:
                total = -0.5 * (squares + (_LOG_2PI + log_var)).sum(dim=-1)
            else:
                # One log-variance per column, the same for every row: its sum once.
                log_var = log_var.reshape(-1, log_var.shape[-1])[0]
                total = -0.5 * (squares.sum(dim=-1) + (_LOG_2PI + log_var).sum())
        if self.n_bernoulli:
            x = batch.bin.expand_as(logits_b)
            total = total - F.binary_cross_entropy_with_logits(logits_b, x, reduction="none").sum(dim=-1)
        if self.n_categories:
            log_probs = self.category_log_probs(logits_c)
            codes = batch.cat.expand(log_probs.shape[:-1]).unsqueeze(-1)
            total = total + log_probs.gather(-1, codes).squeeze(-1).sum(dim=-1)
        return total

    def shared_code_log_likelihood(self, out, batch):
        """(n, P): for each row and each of P decoder outputs ``out`` (P, output_dim)
        shared by every row, the log-likelihood summed over the row's usable cells.

        The same values as ``forward(out[:, None], batch).sum(-1)`` up to float
        rounding, except that cells costing a fixed penalty (never-seen categories,
        0/1 values out of range) are left out, as they are the same for every
        output. Each cell kind is a few matrix products over (n, columns) x
        (columns, P) instead of an (P, n, columns) array, so comparing many codes
        costs about as much as a decoder pass.
        """
        mean, log_var, logits_b, logits_c = self.split(out)
        dtype = mean.dtype
        total = torch.zeros(len(batch), out.shape[0], device=out.device, dtype=dtype)
        if self.n_gaussian:
            observed = (~torch.isnan(batch.num)).to(dtype)
            x = torch.nan_to_num(batch.num, nan=0.0)
            precision = torch.exp(-log_var)
            # sum_j o_j (x_j - m_pj)^2 w_pj + o_j (log var_pj + log 2 pi), expanded.
            quadratic = (observed * x * x) @ precision.T - 2.0 * (observed * x) @ (mean * precision).T
            total -= 0.5 * (quadratic + observed @ (mean * mean * precision + log_var + _LOG_2PI).T)
        if self.n_bernoulli:
            usable = ((batch.bin >= 0) & (batch.bin <= 1)).to(dtype)
            x = torch.where(usable > 0, batch.bin, 0.0)
            total += x @ logits_b.T - usable @ F.softplus(logits_b).T
        if self.n_categories:
            log_probs = self.category_log_probs(logits_c)
            usable = (batch.cat >= 0) & (batch.cat < self.unseen_codes)
            codes = torch.where(usable, batch.cat, 0)
            for j in range(len(self.n_categories)):
                per_code = log_probs[:, j, :].T.index_select(0, codes[:, j])
                total += torch.where(usable[:, j : j + 1], per_code, 0.0)
        return total

    def expected_log_likelihood(self, out):
        """E_{x ~ p(x_j | z)}[log p(x_j | z)] per cell, (…, n, n_columns), block order.

        What a missing cell scores before its column's offset: the value does not
        enter, so it is the same whether the cell is observed or not.
        """
        mean, log_var, logits_b, logits_c = self.split(out, expand=False)
        parts = []
        if self.n_gaussian:
            parts.append(_gaussian_expected(log_var).expand_as(mean))
        if self.n_bernoulli:
            parts.append(_bernoulli_expected(logits_b))
        if self.n_categories:
            parts.append(_categorical_expected(self.category_log_probs(logits_c)))
        return torch.cat(parts, dim=-1)

    def usable_cells(self, batch):
        """(n, n_columns) flags, block order: cells holding a value the likelihood
        models (observed, and neither a never-seen category nor a 0/1 value out of
        range, which cost a fixed penalty instead)."""
        parts = [~torch.isnan(batch.num), (batch.bin >= 0) & (batch.bin <= 1)]
        if self.n_categories:
            parts.append((batch.cat >= 0) & (batch.cat < self.unseen_codes))
        return torch.cat(parts, dim=-1)

    def set_missing_offsets(self, offsets):
        """Set ``missing_offsets`` (block order, one per column); None sets zeros."""
        values = torch.zeros(self.n_columns) if offsets is None else torch.as_tensor(offsets, dtype=torch.float32)
        if values.shape != (self.n_columns,):
            raise ValueError(f"expected {self.n_columns} missing-cell offsets, got shape {tuple(values.shape)}")
        self.missing_offsets.copy_(values.to(self.missing_offsets.device))

    @torch.no_grad()
    def expected_values(self, out):
        """Means in model space: (gaussian means, bernoulli probs, category probs list)."""
        mean, _, logits_b, logits_c = self.split(out)
        probs = self.category_log_probs(logits_c).exp()
        cat = [probs[..., j, :k] for j, k in enumerate(self.n_categories)]
        return mean, torch.sigmoid(logits_b), cat


#: Below this many slots torch's CPU log_softmax is the slow one of two ways.
_SHORT_SOFTMAX = 16


def _log_softmax(x):
    """``log_softmax`` over the last dimension.

    torch's CPU kernel vectorizes along that dimension: over fewer than 16 slots
    (a column of a few categories) it took 3 to 4x as long as ``x - logsumexp(x)``
    (2 x 4,096 rows of 5 slots: 572 against 201 us), and with one such column it
    was a fifth of the time a small network spent scoring. Equal up to float
    rounding; -inf slots stay -inf either way. Only in float32 and float64: under
    bf16 autocast the subtraction would round a second time.
    """
    if x.device.type == "cpu" and x.shape[-1] < _SHORT_SOFTMAX and x.dtype in (torch.float32, torch.float64):
        return x - torch.logsumexp(x, dim=-1, keepdim=True)
    return torch.log_softmax(x, dim=-1)


def _gaussian_expected(log_var):
    # E[(x - mean)^2 / var] = 1 under the decoder's own Gaussian.
    return -0.5 * (_LOG_2PI + log_var + 1.0)


def _bernoulli_expected(logits):
    return -F.binary_cross_entropy_with_logits(logits, torch.sigmoid(logits), reduction="none")


def _categorical_expected(log_probs):
    # Padding slots have probability 0 and log-probability -inf: 0 * -inf is NaN,
    # the clamp makes their term 0.
    return (log_probs.exp() * log_probs.clamp(min=-1e30)).sum(-1)
