"""What a missing cell costs when a row is scored: one offset per column, from held-out rows.

A row is scored with each missing cell counted at its expected log-likelihood under
the decoder (``TabularLikelihood.forward(fill_missing=True)``), so that rows with
blanks are not lifted by having fewer terms. The expectation is the model's own,
and the model is over-confident: its per-column variance is fitted on the rows
training keeps (the best ``1 - trim_fraction`` of each batch), on rows it trained
on. On rows it never saw, observed cells score below that expectation, and on
noisy data (``tests/test_scoring.py``) blanking a fifth of normal rows' cells raised
their mean score by +0.5 to +0.7 nats.

The correction is one additive offset per column: over held-out rows, the mean,
over observed cells of the column, of the cell's log-likelihood minus its expected
log-likelihood, both under the same encoder and decoder draws as scoring. A blank
then costs, on average, what an observed cell of a held-out normal row costs.

Which held-out rows count as normal: those whose training loss is within Tukey's
fence (at most Q3 + 1.5 IQR), not the ``1 - trim_fraction`` best that training
keeps. Measured (``VAE()`` at its defaults, 3 training seeds; the data of
``tests/test_scoring.py``, ``related``; mean score shift of normal rows when a
fifth of their cells is blanked, uncorrected +0.50 to +0.71 nats at noise 1.0):

=========================  ================  =================  =================
held-out rows averaged     noise 1.0, clean  noise 1.0, 5% an.  noise 0.15, 5% an.
=========================  ================  =================  =================
the training's kept 80%    +0.33 to +0.38    +0.29 to +0.31     -0.37 to -0.14
all                        +0.12 to +0.18    +0.05 to +0.10     -2.00 to -1.33
within Tukey's fence       +0.17 to +0.26    +0.15 to +0.18     -0.49 to -0.27
=========================  ================  =================  =================

The kept 80% are the best-explained rows, so on clean data blanks stay cheaper
than normal cells; all rows let a few anomalies' cells (5% in the training and
held-out rows) make every blank cost part of an anomaly, and on five ODDS sets
with heavy-tailed cells (cardio, satellite, thyroid, yeast, fault) the mean over
all rows moved the shift by 1 to 120 nats from where the fence leaves it. The fence keeps nearly every normal
row and drops the gross anomalies. The fill's own term is not the whole shift: a
row with blanks also has its observed cells explained, and its code placed, from
less of it (with the KL counted twice in scores, +0.29 to +0.40 nats over five
trainings at noise 1.0, clean, after the first stage).

So a second stage measures that effect and folds it into the offsets: each kept
held-out row is copied (up to ``BLANK_DRAWS`` times, at most ``BLANKED_ROWS`` rows
in all), a fixed random fifth of each copy's usable cells is blanked, and every
copy is scored, complete and blanked, exactly as scoring does (the score's draws,
its KL weight, the first stage's offsets). A ridge regression of each copy's score
drop on which of its cells were blanked gives each column's correction. Blanking a
fifth of new normal rows' cells then moves their mean score by +0.05 to +0.21
nats (same five trainings; the streamed fit +0.13 to +0.21 over three), and on
the bundled IoT sample by -0.8 / -1.1 (two masks; the rows scored are the
training rows, with their anomalies). What remains is mostly the fence: held-out
rows in the tail, left out, are the ones a blank lifts most (-0.00 to +0.10 with
every held-out row, which contaminated data cannot afford).
"""

import numpy as np
import torch

from . import _scoring
from ._objectives import complete_inputs, gaussian_kl, log_likelihood_bound
from ._tabular import Encoded


#: Rows whose loss lies more than this many interquartile ranges above the upper
#: quartile (Tukey's fence) are presumed anomalies and do not enter the offsets.
FENCE_IQRS = 1.5
#: The second stage blanks each usable cell of the kept held-out rows with this
#: probability, in this many independent draws per row (fewer when the rows are
#: many: at most BLANKED_ROWS rows are scored, so that it costs a fit about 0.04 s
#: at 100k x 20 and 0.1 s at 100k x 100 on one thread), with a fixed seed.
BLANK_SHARE, BLANK_DRAWS, BLANKED_ROWS, BLANK_SEED = 0.2, 8, 8192, 20240101
#: Ridge weight of the second stage, relative to how often each column was blanked:
#: it shrinks a column's correction when few of its cells could be blanked.
RIDGE = 0.1


def fit_missing_offsets(module, encoded, eps, device, *, beta=1.0, conditions=None, score_eps=None, kl_weight=1.0):
    """Offsets for ``module.likelihood.missing_offsets``, one per column, block order g|b|c.

    ``encoded``: held-out rows (``_tabular.Encoded``); ``eps``: the scoring draws,
    shape (S, 1, latent_dim); ``conditions``: one-hot rows for a ConditionalVAE (each
    row's own label), else None. Rows whose training loss (``beta`` times the KL
    minus the observed cells' log-likelihood) is beyond Tukey's fence are left out.
    A column with no usable observed cell among the other rows gets 0.

    With ``score_eps`` (the score's draws, (S, K, 1, latent_dim)) and ``kl_weight``
    (the score's), a second stage corrects the offsets so that blanking cells at
    random leaves the kept rows' mean score where it was (see the module's text).
    Leaves ``module``'s offsets set to the first stage's.
    """
    likelihood = module.likelihood
    width = likelihood.n_columns
    if len(encoded) == 0:
        return np.zeros(width)

    def fn(batch, condition):
        # The encoder's input as scoring builds it, so the draws match the score's.
        mu, log_var = module.encode(complete_inputs(module, batch, condition), condition)
        out = module.decode(module.reparameterize(mu, log_var, eps), condition)
        observed = likelihood(out, batch).mean(dim=0)
        expected = likelihood.expected_log_likelihood(out).mean(dim=0)
        loss = beta * gaussian_kl(mu, log_var) - observed.sum(dim=-1)
        usable = likelihood.usable_cells(batch).to(observed.dtype)
        return torch.cat([observed - expected, usable, loss[:, None]], dim=1)

    terms = _scoring.map_chunks(module, encoded, fn, device, samples=eps.shape[0], conditions=conditions, parallel=True)
    q1, q3 = np.percentile(terms[:, -1], [25, 75])
    kept = terms[:, -1] <= q3 + FENCE_IQRS * (q3 - q1)
    gap, usable = terms[kept, :width], terms[kept, width : 2 * width] > 0.5
    counts = usable.sum(axis=0)
    totals = np.where(usable, gap, 0.0).sum(axis=0)
    offsets = np.divide(totals, counts, out=np.zeros(width), where=counts > 0)
    if score_eps is None:
        return offsets
    rows = np.flatnonzero(kept)
    likelihood.set_missing_offsets(offsets)
    kept_conditions = None if conditions is None else conditions[rows]
    return offsets + _blanking_correction(
        module, encoded.take(rows), usable, score_eps, device, kl_weight, kept_conditions
    )


def _blanking_correction(module, encoded, usable, eps, device, kl_weight, conditions):
    """Per column, what to add to the offsets in effect so that blanking cells leaves
    rows' scores unchanged on average: a ridge regression of each blanked copy's
    score change on which of its cells were blanked."""
    n, width = usable.shape
    draws = max(1, min(BLANK_DRAWS, BLANKED_ROWS // max(n, 1)))
    copies = np.repeat(np.arange(n), draws)
    mask = usable[copies] & (np.random.RandomState(BLANK_SEED).rand(len(copies), width) < BLANK_SHARE)
    if not mask.any():
        return np.zeros(width)
    complete = encoded.take(copies)
    blanked = _blank(complete, mask, module.likelihood)
    copy_conditions = None if conditions is None else conditions[copies]

    def bound(batch, condition):
        return log_likelihood_bound(module, batch, eps, condition, fill_missing=True, kl_weight=kl_weight)

    samples = eps.shape[0] * eps.shape[1]
    before = _scoring.map_chunks(module, complete, bound, device, samples, copy_conditions, parallel=True)
    after = _scoring.map_chunks(module, blanked, bound, device, samples, copy_conditions, parallel=True)
    design = mask.astype(np.float64)
    gram = design.T @ design
    blanked_counts = np.diag(gram).copy()
    penalty = RIDGE * blanked_counts + (blanked_counts == 0)
    return np.linalg.solve(gram + np.diag(penalty), design.T @ (before - after))


def _blank(encoded, mask, likelihood):
    """A copy of ``encoded`` with the cells of ``mask`` (n, n_columns, block order) missing."""
    g, b = likelihood.n_gaussian, likelihood.n_bernoulli
    return Encoded(
        np.where(mask[:, :g], np.nan, encoded.num).astype(encoded.num.dtype),
        np.where(mask[:, g : g + b], np.nan, encoded.bin).astype(encoded.bin.dtype),
        np.where(mask[:, g + b :], -1, encoded.cat).astype(encoded.cat.dtype),
        encoded.log_jac,
    )
