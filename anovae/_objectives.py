"""Objectives: the evidence lower bound and the importance-weighted bound.

- ELBO: Kingma & Welling, "Auto-Encoding Variational Bayes" (ICLR 2014), Eq. 10,
  with the analytic Gaussian KL of Appendix B.
- IWAE bound: Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders"
  (ICLR 2016), Eq. 8; it tightens towards log p(x) as the number of samples grows.
"""

import math

import torch

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu, log_var):
    """KL(q(z|x) || N(0, I)) per row, summed over latent dimensions."""
    return -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=-1)


def _log_normal(z, mu, log_var):
    return -0.5 * torch.sum(_LOG_2PI + log_var + (z - mu).pow(2) * torch.exp(-log_var), dim=-1)


#: Encoder-decoder passes that fill a row's missing inputs before it is scored.
MISSING_INPUT_PASSES = 3
#: Fixed codes drawn from the prior N(0, I), tried as a second starting point for a
#: row's blanks, and the seed they are drawn with (a constant: the same codes for
#: every model, so that scores stay deterministic), and how many codes a
#: ConditionalVAE's decoder, whose outputs differ per row, evaluates at once.
START_CODES, START_CODE_SEED, START_CODE_BLOCK = 256, 20141212, 32


def complete_inputs(module, batch, condition=None, passes=MISSING_INPUT_PASSES):
    """``batch`` with missing numeric and 0/1 cells replaced by values the decoder
    finds consistent with the row's observed cells.

    The encoder was trained on complete rows; a blank it sees as the column mean
    pulls q(z|x) away from where the observed cells put it. Iterating encode ->
    decode -> refill (Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and
    Approximate Inference in Deep Generative Models", ICML 2014, Sec. 6.3, with
    means in place of samples so that scores stay deterministic) moves the blanks
    towards values consistent with the rest of the row, but it is a local search:
    where two columns are tightly related (bytes and packets sent), a blank started
    at its column mean can stay in a wrong regime, and the observed partner cell
    then costs hundreds of nats. So the chain starts from the best of several codes:
    the encoder's code for the row with its blanks at the column means, and
    ``START_CODES`` fixed codes drawn from the prior, whichever makes the row's
    observed cells most likely (log p(observed | z) + log p(z)). Only the
    encoder's input changes, and with it q(z|x); every q gives a lower bound on
    log p(observed cells), so the score stays a bound, and the likelihood still
    sees the cells as missing. Complete rows are returned untouched.
    """
    missing_num, missing_bin = torch.isnan(batch.num), torch.isnan(batch.bin)
    incomplete = missing_num.any(dim=1) | missing_bin.any(dim=1)
    if not bool(incomplete.any()):
        return batch
    rows = incomplete.nonzero().squeeze(1)
    part = batch.index(rows)
    part_condition = None if condition is None else condition.index_select(0, rows)
    start = _decoded_fill(module, part, _best_start_codes(module, part, part_condition), part_condition)
    filled = _refill(module, part, start, part_condition, passes)
    num, binary = batch.num.clone(), batch.bin.clone()
    num[rows], binary[rows] = filled.num, filled.bin
    return type(batch)(num, binary, batch.cat)


def _decoded_fill(module, batch, z, condition):
    """``batch``'s missing numeric and 0/1 cells set to the decoder's means at codes ``z``."""
    mean, _, logits_b, _ = module.likelihood.split(module.decode(z, condition))
    return type(batch)(
        torch.where(torch.isnan(batch.num), mean, batch.num),
        torch.where(torch.isnan(batch.bin), torch.sigmoid(logits_b), batch.bin),
        batch.cat,
    )


def _refill(module, batch, filled, condition, passes):
    """``passes`` rounds of encode -> decode at the posterior mean -> refill the blanks."""
    for _ in range(passes):
        mu, _ = module.encode(filled, condition)
        filled = _decoded_fill(module, batch, mu, condition)
    return filled


def _best_start_codes(module, batch, condition):
    """Per row, the code maximizing log p(observed cells | z) + log p(z) among the
    encoder's mean for the row as given (blanks at their column means) and the
    fixed prior codes."""
    device, dtype = batch.num.device, batch.num.dtype
    codes = torch.randn(
        (START_CODES, module.latent_dim), generator=torch.Generator().manual_seed(START_CODE_SEED)
    ).to(device=device, dtype=dtype)
    # Cells costing a fixed penalty (never-seen categories, 0/1 values out of range)
    # are the same under every code: left out, as the shared-code products leave them.
    usable = module.likelihood.usable_cells(batch)
    own = module.encode(batch, condition)[0]
    best_value = _log_joint((module.likelihood(module.decode(own, condition), batch) * usable).sum(dim=-1), own)
    if condition is None:
        # One decoder pass per code, shared by every row.
        value = _log_joint(module.likelihood.shared_code_log_likelihood(module.decode(codes), batch), codes)
        top, where = value.max(dim=1)
        return torch.where((top > best_value)[:, None], codes.index_select(0, where), own)
    # A label entering the decoder makes every row's outputs its own.
    n = len(batch)
    best = own
    for first in range(0, START_CODES, START_CODE_BLOCK):
        block = codes[first : first + START_CODE_BLOCK]
        out = module.decode(block[:, None, :].expand(-1, n, -1), condition)
        top, where = _log_joint((module.likelihood(out, batch) * usable).sum(dim=-1), block[:, None, :]).max(dim=0)
        improved = top > best_value
        best_value = torch.where(improved, top, best_value)
        best = torch.where(improved[:, None], block.index_select(0, where), best)
    return best


def _log_joint(log_likelihood, z):
    """log p(x | z) + log N(z; 0, I) up to a constant; ``z`` broadcasts against it."""
    return log_likelihood - 0.5 * z.pow(2).sum(dim=-1)


def _log_likelihood(module, out, batch, fill_missing):
    # Likelihoods without missing cells (the image plugin's) take no such argument.
    if fill_missing:
        return module.likelihood(out, batch, fill_missing=True)
    return module.likelihood(out, batch)


def elbo_terms(module, batch, eps, condition=None, fill_missing=False, complete=None):
    """Monte Carlo ELBO pieces for each row.

    ``eps`` has shape (S, n, latent_dim): S draws averaged for the reconstruction
    term. Returns (per-cell expected log-likelihood (n, n_columns), KL (n,)).
    ``fill_missing`` scores missing cells by their expected log-likelihood (see
    ``TabularLikelihood.forward``) instead of leaving them out. ``complete``
    (default: ``fill_missing``) first completes the encoder's input
    (:func:`complete_inputs`), as scoring does.
    """
    if complete is None:
        complete = fill_missing
    mu, log_var = module.encode(complete_inputs(module, batch, condition) if complete else batch, condition)
    z = module.reparameterize(mu, log_var, eps)
    out = module.decode(z, condition)
    cell_ll = _log_likelihood(module, out, batch, fill_missing).mean(dim=0)
    return cell_ll, gaussian_kl(mu, log_var)


def iwae_bound(module, batch, eps, condition=None, fill_missing=False, extra_kl=0.0):
    """Importance-weighted bound per row, minus ``extra_kl`` times KL(q(z | x) || p(z)).

    ``eps`` has shape (S, K, n, latent_dim): S independent K-sample bounds, averaged.
    ``fill_missing`` as in :func:`elbo_terms`; ``extra_kl`` as in
    :func:`log_likelihood_bound`.
    """
    mu, log_var = module.encode(complete_inputs(module, batch, condition) if fill_missing else batch, condition)
    z = module.reparameterize(mu, log_var, eps)
    out = module.decode(z, condition)
    log_px = _log_likelihood(module, out, batch, fill_missing).sum(dim=-1)
    log_pz = -0.5 * torch.sum(_LOG_2PI + z.pow(2), dim=-1)
    log_qz = _log_normal(z, mu, log_var)
    log_w = log_px + log_pz - log_qz  # (S, K, n)
    k = eps.shape[1]
    bound = (torch.logsumexp(log_w, dim=1) - math.log(k)).mean(dim=0)
    return bound - extra_kl * gaussian_kl(mu, log_var) if extra_kl else bound


def log_likelihood_bound(module, batch, eps, condition=None, fill_missing=False, kl_weight=1.0):
    """The bound on log p(x) that scores report, per row, in nats.

    ``eps`` has shape (S, K, n, latent_dim) (n may be 1: the same draws for every
    row). With K = 1 it is the ELBO with its analytic KL (:func:`elbo_terms`), with
    K > 1 the importance-weighted bound (:func:`iwae_bound`); either is averaged
    over the S draws. ``fill_missing`` as in :func:`elbo_terms`. ``kl_weight``
    counts KL(q(z | x) || p(z)) that many times in all (1: the bound itself; more
    subtracts the extra copies, a looser bound that weighs how atypical the row's
    code is).
    """
    if eps.shape[1] > 1:
        return iwae_bound(module, batch, eps, condition, fill_missing, extra_kl=kl_weight - 1)
    eps = eps[:, 0]

    def cells(part, part_eps, part_condition):
        cell_ll, kl = elbo_terms(module, part, part_eps, part_condition, fill_missing)
        return cell_ll.sum(dim=-1) - kl_weight * kl

    complete_rows = getattr(module.likelihood, "complete_rows", None)
    if complete_rows is None:
        return cells(batch, eps, condition)
    # Rows with every cell modelled take the row-sum path, the others the per-cell
    # one; decided row by row, so the path that scores a row does not depend on its
    # neighbours (the scores themselves agree to float32 rounding either way).
    complete = complete_rows(batch)
    if bool(complete.all()):
        return _complete_rows_bound(module, batch, eps, condition, kl_weight)
    if not bool(complete.any()):
        return cells(batch, eps, condition)
    bound = torch.empty(len(batch), device=eps.device, dtype=eps.dtype)
    for flags, fn in ((complete, lambda *a: _complete_rows_bound(module, *a, kl_weight)), (~complete, cells)):
        rows = flags.nonzero().squeeze(1)
        part_eps = eps if eps.shape[1] == 1 else eps.index_select(1, rows)
        part_condition = None if condition is None else condition.index_select(0, rows)
        bound[rows] = fn(batch.index(rows), part_eps, part_condition)
    return bound


def _complete_rows_bound(module, batch, eps, condition, kl_weight):
    """:func:`log_likelihood_bound` with K = 1 for rows with every cell modelled,
    through ``likelihood.row_log_likelihood``."""
    mu, log_var = module.encode(batch, condition)
    out = module.decode(module.reparameterize(mu, log_var, eps), condition)
    return module.likelihood.row_log_likelihood(out, batch).mean(dim=0) - kl_weight * gaussian_kl(mu, log_var)


def rows_kept(n_rows, trim_fraction):
    """How many of ``n_rows`` rows a trimmed loss averages: the share
    ``1 - trim_fraction`` with the lowest loss, rounded, and never fewer than one.

    The one rule for training (:func:`negative_elbo`) and early stopping, so that
    the validation loss ignores the rows training deliberately ignores.
    """
    return max(1, int(round(n_rows * (1.0 - trim_fraction))))


def kept_rows(per_row, cat, trim_fraction):
    """Indices of the rows a trimmed loss averages, given each row's loss ``per_row``
    and its categorical codes ``cat`` (n, n_categorical).

    The plain rule keeps the :func:`rows_kept` rows of lowest loss. With
    categorical columns, rows that share all their categorical values form a
    group, and a group holding more than ``trim_fraction`` of the batch loses at
    most its own trimmed share (what the plain rule would take from it alone); the
    rest of the batch's trimming goes, worst first, to the rows of other groups.
    Anomalies are presumed to be at most ``trim_fraction`` of the rows, so such a
    group cannot be all anomalies: trimming beyond its share would cut into its
    normal variety. A regime that the model explains badly at first (the smart
    plugs on standby in a fleet, 42% of the plugs) is then trained on and
    learned instead of being left out wholesale and scored anomalous en bloc,
    while a small group (attacks that share a protocol, service and flag; a rare
    fault code) is trimmed as freely as before. A missing value counts as a value
    of its own.
    """
    n = per_row.shape[0]
    keep = rows_kept(n, trim_fraction)
    if cat.shape[1] == 0:
        return torch.topk(per_row, keep, largest=False, sorted=False).indices
    _, group, counts = torch.unique(_row_keys(cat), return_inverse=True, return_counts=True)
    caps = counts - torch.round(counts.double() * (1.0 - trim_fraction)).clamp_(min=1).long()
    caps = torch.where(counts > trim_fraction * n, caps, counts)
    # Worst first: a row may go while its group has trimmed fewer than its cap
    # (greedy is optimal under per-group caps), until the batch's budget is spent.
    # A row's rank in its group comes from a stable sort by group of the rows in
    # order of loss (a one-hot count would cost n x groups for an ID-like column).
    worst = torch.argsort(per_row, descending=True)
    by_group = worst[torch.argsort(group[worst], stable=True)]
    rank = torch.empty_like(group)
    rank[by_group] = torch.arange(n, device=group.device) - (torch.cumsum(counts, 0) - counts)[group[by_group]]
    ordered = group[worst]
    eligible = rank[worst] < caps[ordered]
    trimmed = eligible & (torch.cumsum(eligible, 0) <= n - keep)
    return worst[~trimmed]


def _row_keys(cat):
    """One integer per row, equal for rows whose codes are equal in every column.

    ``torch.unique(cat, dim=0)`` would do, at thirty times the cost of a unique
    over one column (a third to a half of a small network's training step); the
    key is built a column at a time, made dense after each so it cannot overflow.
    """
    key = cat[:, 0]
    for j in range(1, cat.shape[1]):
        key = torch.unique(key, return_inverse=True)[1] * 2**31 + (cat[:, j] + 1)
    return key


def negative_elbo(module, batch, eps, beta=1.0, condition=None, trim_fraction=0.0, encoder_batch=None):
    """Minibatch training loss: mean over rows of -(E[log p(x|z)] - beta * KL).

    With ``trim_fraction`` > 0 the rows with the highest loss in the minibatch are
    left out of the mean (a trimmed likelihood, as in least trimmed squares): rows
    the model explains worst are presumed anomalies, and a detector trained on
    contaminated data should not learn to reconstruct them. Rows sharing their
    categorical values are trimmed with a cap per large group (:func:`kept_rows`).

    ``encoder_batch``, when given, is what the encoder sees instead of ``batch`` (the
    same rows with some cells hidden, :func:`mask_inputs`); the likelihood is always
    that of ``batch``'s observed cells.

    Returns (loss, reconstruction sum, kl sum) so the loop can log both terms
    without recomputing them; the sums cover every row.
    """
    out, mu, log_var = module(batch if encoder_batch is None else encoder_batch, eps, condition)
    recon = module.likelihood(out, batch).sum(dim=-1)
    kl = gaussian_kl(mu, log_var)
    # beta = 1 (the ELBO itself) skips a multiply and its backward on every step.
    per_row = (kl if beta == 1 else beta * kl) - recon
    if trim_fraction > 0:
        per_row = per_row[kept_rows(per_row.detach(), batch.cat, trim_fraction)]
    return per_row.mean(), recon.sum(), kl.sum()


def mask_inputs(batch, share, generator):
    """``batch`` with each cell hidden (made missing) with probability ``share``.

    For training with ``input_masking``: the encoder then learns to infer the code
    from partial rows, so that a row with blank cells is explained as well as a
    complete one. The draws come from the training ``generator`` (reproducible).
    """
    device = batch.num.device

    def hidden(block):
        return torch.rand(block.shape, generator=generator, device=device) < share

    return type(batch)(
        batch.num.masked_fill(hidden(batch.num), float("nan")),
        batch.bin.masked_fill(hidden(batch.bin), float("nan")),
        batch.cat.masked_fill(hidden(batch.cat), -1),
    )
