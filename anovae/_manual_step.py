"""A training step whose gradients are written out by hand, for the tabular VAE.

Why: the networks anovae trains on tables are small (a 20-column table gets a
20-64-32-16 encoder and an 8-32-64-20 decoder), and on a CPU a step spends most of
its time not in arithmetic but in the autograd engine: recording the graph, then
running some seventy backward nodes, each dispatched on its own. The derivatives
of the negative ELBO of an MLP VAE are short to write down: two matrix products
and a sum per layer, and a few elementwise terms for the likelihood and the KL.
Computed directly, without a graph, training takes about half the time (50k x
20, batch 256, one thread: 0.90 s against 1.66 s), and it computes the same
gradients as autograd up to float rounding (``tests/test_manual_step.py`` compares
them on every configuration this covers).

Covered: :class:`VAEModule` over :class:`TabularLikelihood` (Gaussian columns with
any ``noise_std``, Bernoulli and categorical columns, missing cells), MLPs of
``nn.Linear`` layers with the activations of ``_networks.ACTIVATIONS``, a label
entering the decoder (and the encoder), ``beta``, trimming and input masking.
Anything else (a plugin's module or likelihood, autocast, ``torch.compile``, a
distributed loss) trains through autograd as before: :func:`manual_step` returns
None for it.
"""

import torch
from torch import nn
from torch.nn import functional as F

from ._likelihoods import _LOG_2PI, LOG_VAR_GAIN, TabularLikelihood
from ._networks import _MAX_LOG_VAR, _MIN_LOG_VAR, VAEModule
from ._objectives import kept_rows

__all__ = ["manual_step"]


def manual_step(module, beta, trim_fraction, data=None):
    """A ``step(batch, eps, condition=None, encoder_batch=None) -> (loss, recon sum,
    kl sum)`` that also sets every parameter's ``.grad`` to the gradient of the
    loss of :func:`~anovae._objectives.negative_elbo`; None when ``module`` is not
    one this file covers. ``data``: the table the batches come from, when known;
    without a missing numeric cell in it the likelihood skips its masking.

    The gradients are views of one flat tensor, ``step.flat_grad``, in the order of
    ``module.parameters()``."""
    if type(module) is not VAEModule or type(module.likelihood) is not TabularLikelihood:
        return None
    encoder, decoder = _layers(module.encoder), _layers(module.decoder)
    if encoder is None or decoder is None:
        return None
    covered = {id(p) for layer in encoder + decoder for p in (layer.weight, layer.bias)}
    if module.likelihood.noise_std == "column":
        covered.add(id(module.likelihood.column_log_var_scaled))
    if any(id(p) not in covered or not p.requires_grad for p in module.parameters()):
        return None
    # A blank anywhere makes the sum NaN: one pass, a tenth of a NaN test per cell.
    complete = data is not None and not bool(torch.isnan(data.num.sum()))
    return _Step(module, encoder, decoder, float(beta), float(trim_fraction), complete)


class _Layer:
    """One ``nn.Linear`` and the activation after it (None after the last)."""

    def __init__(self, linear, activation):
        # The parameters themselves, not ``linear.weight``: an nn.Module attribute
        # lookup costs about a microsecond, and a step makes a dozen.
        self.weight, self.bias = linear.weight, linear.bias
        self.forward, self.backward = _ACTIVATIONS[type(activation)](activation) if activation else (None, None)


def _relu(_):
    # The kernel of relu's own backward (the gradient where the output is positive):
    # one pass, where masking by a comparison costs five times as long on a CPU.
    return F.relu, lambda grad, pre, out: torch.ops.aten.threshold_backward(grad, out, 0)


def _tanh(_):
    return torch.tanh, lambda grad, pre, out: grad * (1 - out * out)


def _leaky_relu(module):
    slope = module.negative_slope
    return (
        lambda a: F.leaky_relu(a, slope),
        lambda grad, pre, out: torch.where(pre > 0, grad, grad * slope),
    )


def _elu(module):
    alpha = module.alpha
    # For a <= 0 the derivative alpha * exp(a) equals the output plus alpha.
    return (lambda a: F.elu(a, alpha), lambda grad, pre, out: torch.where(pre > 0, grad, grad * (out + alpha)))


_ACTIVATIONS = {nn.ReLU: _relu, nn.Tanh: _tanh, nn.LeakyReLU: _leaky_relu, nn.ELU: _elu}


def _layers(sequential):
    """The MLP as [_Layer], or None unless it alternates Linear and a known activation."""
    modules = list(sequential)
    linears, activations = modules[0::2], modules[1::2]
    if not linears or len(activations) != len(linears) - 1:
        return None
    if any(type(m) is not nn.Linear or m.bias is None for m in linears):
        return None
    if any(type(m) not in _ACTIVATIONS for m in activations):
        return None
    return [_Layer(lin, act) for lin, act in zip(linears, activations + [None])]


def _forward(layers, x):
    """The MLP's output, with each layer's input and pre-activation kept for the backward pass."""
    inputs, pre = [], []
    h = x
    for layer in layers:
        inputs.append(h)
        a = F.linear(h, layer.weight, layer.bias)
        pre.append(a)
        h = layer.forward(a) if layer.forward else a
    inputs.append(h)
    return h, inputs, pre


def _backward(layers, inputs, pre, grad, grads, input_grad):
    """Write each layer's weight and bias gradients into ``grads`` (a dict from
    parameter to its gradient); return the gradient of the MLP's input when
    ``input_grad``."""
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if layer.backward:
            grad = layer.backward(grad, pre[i], inputs[i + 1])
        torch.mm(grad.t(), inputs[i], out=grads[layer.weight])
        torch.sum(grad, dim=0, out=grads[layer.bias])
        if i or input_grad:
            grad = grad @ layer.weight
    return grad


class _Step:
    def __init__(self, module, encoder, decoder, beta, trim_fraction, complete):
        self.module, self.encoder, self.decoder = module, encoder, decoder
        self.beta, self.trim_fraction, self.complete = beta, trim_fraction, complete
        self.likelihood = module.likelihood
        self.numbers_only = complete and not self.likelihood.n_bernoulli and not self.likelihood.n_categories
        self.params = list(module.parameters())
        self.flat_grad, self.grads, self.constants = None, {}, None

    def _grad_buffers(self):
        """The parameters' gradients: views of one flat buffer laid out in
        ``module.parameters()`` order (the optimizer's own layout, see
        ``_optim._flatten``), reused every step and set as each ``.grad``."""
        p0 = self.params[0]
        if self.flat_grad is None or self.flat_grad.device != p0.device or self.flat_grad.dtype != p0.dtype:
            self.flat_grad = torch.empty(sum(p.numel() for p in self.params), device=p0.device, dtype=p0.dtype)
            views, start = {}, 0
            for p in self.params:
                views[p] = self.flat_grad[start : start + p.numel()].view_as(p)
                start += p.numel()
            self.grads = views
            self.constants = _Constants(p0)
        # Setting ``.grad`` checks shape, device and dtype each time: only when some
        # parameter lost its view (a caller's ``zero_grad(set_to_none=True)``).
        if any(p.grad is not self.grads[p] for p in self.params):
            for p in self.params:
                p.grad = self.grads[p]
        return self.grads

    @torch.no_grad()
    def __call__(self, batch, eps, condition=None, encoder_batch=None):
        module, likelihood = self.module, self.likelihood
        grads = self._grad_buffers()
        if self.numbers_only and encoder_batch is None:
            x = batch.num  # what embed gives a table of complete numeric columns
        else:
            x = likelihood.embed(batch if encoder_batch is None else encoder_batch)
        if module.condition_encoder:
            x = torch.cat([x, condition], dim=-1)
        code, enc_inputs, enc_pre = _forward(self.encoder, x)
        c = self.constants
        latent = module.latent_dim
        mu, raw_log_var = code[:, :latent], code[:, latent:]
        log_var = raw_log_var.clamp(_MIN_LOG_VAR, _MAX_LOG_VAR)
        std = torch.exp(log_var * c.half)
        z = torch.addcmul(mu, std, eps)
        dec_x = torch.cat([z, condition.expand(len(z), condition.shape[-1])], dim=-1) if module.n_conditions else z
        out, dec_inputs, dec_pre = _forward(self.decoder, dec_x)

        recon, out_grad, column_grad = _likelihood_terms(likelihood, out, batch, self.complete, c)
        # KL(q || N(0, I)) = sum (mu^2 + var - 1 - log_var) / 2; (var - 1) / 2 is also
        # its derivative with respect to log_var, used below.
        half_std = std * c.half
        var_term = torch.addcmul(c.neg_half, half_std, std)
        kl = torch.addcmul(var_term, mu, mu, value=0.5).sub_(log_var, alpha=0.5).sum(dim=-1)
        per_row = (kl if self.beta == 1 else self.beta * kl) - recon
        n = len(per_row)
        if self.trim_fraction > 0:
            rows = kept_rows(per_row, batch.cat, self.trim_fraction)
            keep = len(rows)
            loss = per_row[rows].mean()
            weight = per_row.new_zeros(n, 1).index_fill_(0, rows, 1.0 / keep)
        else:
            loss = per_row.mean()
            weight = 1.0 / n

        # The loss is sum_r weight_r * (beta * kl_r - recon_r): each row's gradient
        # of -log p(x | z) and of the KL, times the row's weight.
        out_grad = out_grad.mul_(weight)
        if column_grad is not None:
            # A column's log-variance gets sum_r weight_r (observed_r - squared_r) / 2.
            squared, observed, raw, clamped = column_grad
            weighted = _weighted_rows(squared, weight, self.trim_fraction)
            # On complete batches every row is observed, and the weights sum to one.
            present = c.one if observed is None else _weighted_rows(observed, weight, self.trim_fraction)
            # Through the gain of the stored parameter, and nothing where clamped.
            per_column = torch.sub(present, weighted).mul_(c.half_gain)
            torch.mul(per_column, raw == clamped, out=grads[likelihood.column_log_var_scaled])
        dz = _backward(self.decoder, dec_inputs, dec_pre, out_grad, grads, input_grad=True)
        if module.n_conditions:
            dz = dz[:, :latent]
        kl_weight = weight * self.beta if self.beta != 1 else weight
        # d KL / d mu = mu, d KL / d log_var = (var - 1) / 2; d z / d log_var = eps * std / 2.
        mu_grad = torch.addcmul(dz, mu, kl_weight) if self.trim_fraction > 0 else dz.add(mu, alpha=kl_weight)
        log_var_grad = torch.addcmul(var_term * kl_weight, dz * eps, half_std)
        code_grad = torch.cat([mu_grad, _clamp_backward(log_var_grad, raw_log_var, log_var)], dim=-1)
        _backward(self.encoder, enc_inputs, enc_pre, code_grad, grads, input_grad=False)
        return loss, recon.sum(), kl.sum()


class _Constants:
    """The step's numbers as 0-d tensors of the parameters' dtype and device: an
    operation with a Python number converts it to a tensor first, which on a CPU
    costs as much as the operation on a minibatch."""

    def __init__(self, like):
        def tensor(value):
            return torch.tensor(value, dtype=like.dtype, device=like.device)

        self.half, self.neg_half, self.one = tensor(0.5), tensor(-0.5), tensor(1.0)
        self.half_gain, self.log_2pi = tensor(0.5 * LOG_VAR_GAIN), tensor(_LOG_2PI)


def _weighted_rows(cells, weight, trimmed):
    """sum_r weight_r * cells_r: ``weight`` a column of row weights when trimmed,
    else one number."""
    return (weight.t() @ cells).squeeze(0) if trimmed else cells.sum(dim=0) * weight


def _clamp_backward(grad, raw, clamped):
    """``grad`` where the clamp left ``raw`` as it was (``clamped == raw``: inside its
    bounds, bounds included, as clamp's own backward), else 0."""
    return grad * (raw == clamped)


def _likelihood_terms(likelihood, out, batch, complete, constants):
    """Per row log p(x | z) (the sum of ``TabularLikelihood.forward``'s cells), the
    gradient of -log p(x | z) with respect to the decoder output, and, for a
    per-column variance, (per-cell gradients with respect to the column's
    log-variance, the observed-cell mask or None, the unclamped and the clamped
    log-variance) -- else None. ``complete``: the batch has no missing numeric
    cell (fewer operations); ``constants``: the step's ``_Constants``."""
    mean, log_var, logits_b, logits_c = likelihood.split(out, expand=False)
    g, b = likelihood.n_gaussian, likelihood.n_bernoulli
    recon, grads, column_grad = 0.0, [], None
    if g:
        x = batch.num if complete else torch.nan_to_num(batch.num, nan=0.0)
        # (mean - x) / var is the gradient of -log p with respect to the mean.
        difference = mean - x
        scaled = difference * torch.exp(-log_var)
        squared = difference * scaled
        observed = None
        if not complete:
            observed = (~torch.isnan(batch.num)).to(out.dtype)
            scaled, squared = scaled * observed, squared * observed
        # log N(x; mean, var) = -(residual^2 / var + log 2 pi + log var) / 2 per cell.
        if complete and not likelihood.per_cell_variance:
            recon = squared.sum(dim=-1).add_((log_var + constants.log_2pi).sum()).mul_(constants.neg_half)
        else:
            terms = _LOG_2PI + log_var if complete else (_LOG_2PI + log_var) * observed
            recon = -0.5 * (squared + terms).sum(dim=-1)
        grads.append(scaled)
        # d(-log p)/d log_var = (1 - residual^2 / var) / 2 on observed cells.
        if likelihood.per_cell_variance:
            cells = (0.5 - 0.5 * squared) if complete else (0.5 * observed - 0.5 * squared)
            grads.append(_clamp_backward(cells, out[:, g : 2 * g], log_var))
        elif likelihood.noise_std == "column":
            column_grad = (squared, observed, likelihood.column_log_var, log_var)
    if b:
        ll, x, missing, outside = likelihood.bernoulli_cells(logits_b, batch.bin)
        recon = recon + (ll * ~missing).sum(dim=-1)
        grads.append((torch.sigmoid(logits_b) - x) * ~(missing | outside))
    if likelihood.n_categories:
        recon_c, grad_c = _categorical_terms(likelihood, logits_c, batch.cat)
        recon = recon + recon_c
        grads.append(grad_c)
    return recon, torch.cat(grads, dim=-1) if len(grads) > 1 else grads[0], column_grad


def _categorical_terms(likelihood, logits_c, codes):
    """Per row log-likelihood of the categorical cells and its negative gradient
    with respect to the category logits (slot order)."""
    ll, log_probs, index, missing, unseen = likelihood.categorical_cells(logits_c, codes)
    # d(-log softmax_k)/d logit = softmax - onehot(k), on the padded layout; the
    # padding and the unseen slot map to one extra column that is dropped.
    padded_grad = torch.exp(log_probs)
    padded_grad.scatter_add_(-1, index, torch.full_like(index, -1, dtype=padded_grad.dtype))
    padded_grad = padded_grad * ~(unseen | missing).unsqueeze(-1)
    n, slots = len(codes), likelihood.n_slots
    grad = padded_grad.new_zeros(n, slots + 1)
    grad.index_add_(1, likelihood.seen_index.reshape(-1), padded_grad.reshape(n, -1))
    return (ll * ~missing).sum(dim=-1), grad[:, :slots]
