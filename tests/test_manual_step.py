"""The hand-written training step computes what autograd computes, and training uses it."""

import numpy as np
import pytest
import torch
from torch import nn

import anovae._training as training
from anovae import VAE
from anovae._likelihoods import Batch, TabularLikelihood
from anovae._manual_step import manual_step
from anovae._networks import VAEModule
from anovae._objectives import mask_inputs, negative_elbo
from anovae._optim import Adam

N_ROWS, LATENT = 64, 3


def _module(*, n_gaussian=4, n_bernoulli=0, n_categories=(), noise_std="column", activation="relu",
            n_conditions=0, condition_encoder=False, seed=0):
    likelihood = TabularLikelihood(
        n_gaussian, n_bernoulli, list(n_categories), noise_std=noise_std,
        category_frequencies=[[1.0 / (k - 1)] * (k - 1) for k in n_categories],
    )
    module = VAEModule(likelihood, LATENT, (16, 8), activation, n_conditions, condition_encoder)
    generator = torch.Generator().manual_seed(seed)
    module.reset_parameters(generator)
    if noise_std == "column":
        with torch.no_grad():  # away from zero, so that the variance term matters
            likelihood.column_log_var_scaled.uniform_(-0.1, 0.05, generator=generator)
    return module


def _batch(module, *, missing=0.0, seed=1):
    likelihood = module.likelihood
    g = torch.Generator().manual_seed(seed)
    num = torch.randn(N_ROWS, likelihood.n_gaussian, generator=g) * 2
    binary = (torch.rand(N_ROWS, likelihood.n_bernoulli, generator=g) < 0.4).float()
    seen = torch.tensor([k - 1 for k in likelihood.n_categories], dtype=torch.long)
    cat = (torch.rand(N_ROWS, len(seen), generator=g) * seen).long()
    if missing:
        num[torch.rand(num.shape, generator=g) < missing] = float("nan")
        binary[torch.rand(binary.shape, generator=g) < missing] = float("nan")
        cat[torch.rand(cat.shape, generator=g) < missing] = -1
    return Batch(num, binary, cat)


def _conditions(module, seed=2):
    if not module.n_conditions:
        return None
    labels = torch.randint(0, module.n_conditions, (N_ROWS,), generator=torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(labels, module.n_conditions).float()


def _autograd(module, batch, eps, beta, condition, trim, encoder_batch):
    module.zero_grad(set_to_none=True)
    loss, recon, kl = negative_elbo(module, batch, eps, beta, condition, trim, encoder_batch)
    loss.backward()
    # A parameter with no elements (a per-column variance without Gaussian columns)
    # gets no gradient from autograd.
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]
    return loss.detach(), recon.detach(), kl.detach(), grads


CASES = {
    "default": dict(module={}, beta=1.0, trim=0.2),
    "missing-fixed-noise-tanh": dict(module=dict(noise_std=0.5, activation="tanh"), beta=2.0, trim=0.0, missing=0.2),
    "mixed-cell-variance": dict(
        module=dict(n_bernoulli=3, n_categories=(4, 3), noise_std="cell", activation="leaky_relu"),
        beta=1.0, trim=0.1, missing=0.15,
    ),
    "conditional-elu": dict(
        module=dict(n_bernoulli=2, n_categories=(3,), activation="elu", n_conditions=3, condition_encoder=True),
        beta=0.5, trim=0.2,
    ),
    "column-variance-missing": dict(module=dict(n_bernoulli=1), beta=1.0, trim=0.2, missing=0.2),
    "column-variance-untrimmed": dict(module=dict(activation="tanh"), beta=1.5, trim=0.0, missing=0.1),
    "numbers-only-untrimmed": dict(module={}, beta=1.0, trim=0.0),
    "categorical-only": dict(module=dict(n_gaussian=0, n_categories=(5, 2, 3)), beta=1.0, trim=0.0, missing=0.1),
    "input-masking": dict(module=dict(n_bernoulli=2), beta=1.0, trim=0.2, masking=0.3),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_gradients_match_autograd(case):
    spec = CASES[case]
    module = _module(**spec["module"])
    batch = _batch(module, missing=spec.get("missing", 0.0))
    condition = _conditions(module)
    eps = torch.randn(N_ROWS, LATENT, generator=torch.Generator().manual_seed(3))
    encoder_batch = None
    if spec.get("masking"):
        encoder_batch = mask_inputs(batch, spec["masking"], torch.Generator().manual_seed(4))
    expected = _autograd(module, batch, eps, spec["beta"], condition, spec["trim"], encoder_batch)

    step = manual_step(module, spec["beta"], spec["trim"], data=batch)
    assert step is not None
    module.zero_grad(set_to_none=True)
    loss, recon, kl = step(batch, eps, condition, encoder_batch)
    torch.testing.assert_close(loss, expected[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(recon, expected[1], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(kl, expected[2], rtol=1e-5, atol=1e-5)
    names = [name for name, _ in module.named_parameters()]
    for name, p, reference in zip(names, module.parameters(), expected[3]):
        assert p.numel() == 0 or reference.abs().max() > 0, name  # every parameter is exercised
        torch.testing.assert_close(p.grad, reference, rtol=1e-4, atol=1e-6, msg=name)
    # The gradients are views of the one flat tensor the optimizer can take as is.
    assert torch.equal(step.flat_grad, torch.cat([p.grad.reshape(-1) for p in module.parameters()]))


def test_complete_shortcut_changes_nothing_on_a_complete_batch():
    module = _module()
    batch = _batch(module)
    eps = torch.randn(N_ROWS, LATENT, generator=torch.Generator().manual_seed(3))
    general = manual_step(module, 1.0, 0.2)  # the table unknown: masks every batch
    first = [t.clone() for t in general(batch, eps)] + [general.flat_grad.clone()]
    shortcut = manual_step(module, 1.0, 0.2, data=batch)
    assert shortcut.complete and not general.complete
    second = list(shortcut(batch, eps)) + [shortcut.flat_grad]
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_clamped_log_variances_pass_no_gradient():
    module = _module(noise_std="column")
    likelihood = module.likelihood
    with torch.no_grad():  # two columns pushed past the floor and the ceiling
        likelihood.column_log_var_scaled[0] = (likelihood.min_log_var - 1) / 30
        likelihood.column_log_var_scaled[1] = (likelihood.max_log_var + 1) / 30
        module.encoder[-1].bias[LATENT] = 50.0  # the first latent's log-variance above its bound
    batch = _batch(module)
    eps = torch.randn(N_ROWS, LATENT, generator=torch.Generator().manual_seed(3))
    expected = _autograd(module, batch, eps, 1.0, None, 0.0, None)[3]
    manual_step(module, 1.0, 0.0, data=batch)(batch, eps)
    grad = likelihood.column_log_var_scaled.grad
    assert grad[0] == 0 and grad[1] == 0 and grad[2:].abs().min() > 0
    for p, reference in zip(module.parameters(), expected):
        torch.testing.assert_close(p.grad, reference, rtol=1e-4, atol=1e-6)


def test_one_optimizer_step_matches_autograd_training():
    a, b = _module(), _module()
    batch = _batch(a)
    eps = torch.randn(N_ROWS, LATENT, generator=torch.Generator().manual_seed(3))
    opt_a, opt_b = Adam(a.parameters(), lr=1e-2), Adam(b.parameters(), lr=1e-2)
    step = manual_step(a, 1.0, 0.2, data=batch)
    for _ in range(5):
        step(batch, eps)
        opt_a.step(step.flat_grad)
        _autograd(b, batch, eps, 1.0, None, 0.2, None)
        opt_b.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


class _WithDropout(VAEModule):
    pass


@pytest.mark.parametrize("change", ["subclass", "dropout", "frozen"])
def test_uncovered_modules_fall_back_to_autograd(change):
    module = _module()
    if change == "subclass":
        module.__class__ = _WithDropout
    elif change == "dropout":
        module.decoder.insert(1, nn.Dropout(0.1))
    else:
        module.encoder[0].weight.requires_grad_(False)
    assert manual_step(module, 1.0, 0.2) is None


def test_fit_trains_through_the_manual_step(monkeypatch):
    used = []

    def recording(*args, **kwargs):
        step = manual_step(*args, **kwargs)
        used.append(step)
        return step

    monkeypatch.setattr(training, "manual_step", recording)
    X = np.random.RandomState(0).normal(size=(300, 5))
    model = VAE(max_steps=30, random_state=0).fit(X)
    assert len(used) == 1 and used[0] is not None
    assert np.isfinite(model.score_samples(X)).all()
    # Compiled or reduced-precision steps keep autograd.
    used.clear()
    VAE(max_steps=5, precision="bf16", random_state=0).fit(X)
    assert used == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("case", ["default", "mixed-cell-variance", "column-variance-missing"])
def test_gradients_match_autograd_on_a_gpu(case):
    spec = CASES[case]
    module = _module(**spec["module"])
    batch = Batch(*(t.cuda() for t in _batch(module, missing=spec.get("missing", 0.0))))
    module.cuda()
    eps = torch.randn(N_ROWS, LATENT, generator=torch.Generator().manual_seed(3)).cuda()
    expected = _autograd(module, batch, eps, spec["beta"], None, spec["trim"], None)
    step = manual_step(module, spec["beta"], spec["trim"], data=batch)
    module.zero_grad(set_to_none=True)
    loss, _, _ = step(batch, eps)
    assert step.flat_grad.is_cuda
    torch.testing.assert_close(loss, expected[0], rtol=1e-4, atol=1e-4)
    for p, reference in zip(module.parameters(), expected[3]):
        torch.testing.assert_close(p.grad, reference, rtol=1e-3, atol=1e-5)
