"""anovae's optimizers apply torch.optim's update rules without importing torch._dynamo."""

import subprocess
import sys

import pytest
import torch

from anovae import _optim
from anovae._optim import Adagrad, Adam


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 6))


def _train(model, optimizer, X, steps=50):
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        ((model(X) - X) ** 2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize(
    "mine, reference",
    [(Adam, torch.optim.Adam), (Adagrad, torch.optim.Adagrad)],
    ids=["adam", "adagrad"],
)
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_optimizer_matches_torch_optim(mine, reference, weight_decay):
    X = torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
    a, b = _net(), _net()
    _train(a, mine(a.parameters(), lr=1e-2, weight_decay=weight_decay), X)
    _train(b, reference(b.parameters(), lr=1e-2, weight_decay=weight_decay), X)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_parameters_without_gradient_are_left_alone():
    X = torch.randn(16, 6, generator=torch.Generator().manual_seed(2))
    model = _net()
    frozen_before = model[2].bias.detach().clone()
    optimizer = Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        # The last bias takes no part in this loss: it must not move.
        (model[0](X) ** 2).mean().backward()
        optimizer.step()
    torch.testing.assert_close(model[2].bias, frozen_before)
    assert optimizer.steps[0] == 3 and optimizer.steps[-1] == 0


def test_fitting_does_not_import_the_graph_compiler():
    code = (
        "import sys, numpy as np; from anovae import VAE; "
        "VAE(max_steps=20, random_state=0).fit(np.random.default_rng(0).normal(size=(200, 3))); "
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _unfused(monkeypatch):
    monkeypatch.setattr(_optim, "_fused_adam", lambda like: None)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_adam_matches_torch_optim_with_and_without_the_fused_kernel(fused, weight_decay, monkeypatch):
    if not fused:
        _unfused(monkeypatch)
    X = torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
    a, b = _net(), _net()
    mine = Adam(a.parameters(), lr=1e-2, weight_decay=weight_decay)
    assert (mine._fused_step is not None) == (fused and hasattr(torch, "_fused_adam_"))
    _train(a, mine, X)
    _train(b, torch.optim.Adam(b.parameters(), lr=1e-2, weight_decay=weight_decay), X)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_parameters_of_two_dtypes_are_stepped_like_torch_optim():
    # No shared buffer, and the fused kernel is only given tensors of the kind it was
    # checked on: the float64 parameter goes through the plain operations.
    def params():
        return [torch.nn.Parameter(torch.linspace(-1, 1, 6)), torch.nn.Parameter(torch.linspace(0, 2, 4).double())]

    a, b = params(), params()
    mine, reference = Adam(a, lr=0.05), torch.optim.Adam(b, lr=0.05)
    assert mine.flat is None
    for _ in range(5):
        for ps, optimizer in ((a, mine), (b, reference)):
            optimizer.zero_grad(set_to_none=True)
            ((ps[0] ** 2).sum() + (ps[1] ** 3).sum()).backward()
            optimizer.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_a_fused_kernel_that_computes_something_else_is_not_used(monkeypatch):
    def wrong(params, *args, **kwargs):
        for p in params:
            p.add_(1.0)

    monkeypatch.setattr(torch, "_fused_adam_", wrong, raising=False)
    assert _optim._fused_adam(torch.zeros(3)) is None


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("optimizer", [Adam, Adagrad], ids=["adam", "adagrad"])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_one_buffer_step_is_the_per_tensor_step_exactly(optimizer, weight_decay, fused, monkeypatch):
    if not fused:
        _unfused(monkeypatch)
    X = torch.randn(32, 6, generator=torch.Generator().manual_seed(3))
    a, b = _net(), _net()
    flat = optimizer(a.parameters(), lr=1e-2, weight_decay=weight_decay)
    buffer = flat.flat.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == buffer for p in a.parameters())
    monkeypatch.setattr(_optim, "_flatten", lambda params: None)
    per_tensor = optimizer(b.parameters(), lr=1e-2, weight_decay=weight_decay)
    assert per_tensor.flat is None
    _train(a, flat, X)
    _train(b, per_tensor, X)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_parameters_replaced_after_the_optimizer_was_built_still_train():
    # A module whose parameters stop living in the buffer (a state copied over
    # them keeps the buffer; a new tensor in their place does not) is stepped
    # tensor by tensor rather than through a stale buffer.
    X = torch.randn(16, 6, generator=torch.Generator().manual_seed(4))
    model = _net()
    optimizer = Adam(model.parameters(), lr=0.1)
    _train(model, optimizer, X, steps=2)
    model[0].weight.data = model[0].weight.detach().clone()
    before = model[0].weight.detach().clone()
    _train(model, optimizer, X, steps=2)
    assert not torch.equal(model[0].weight, before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_adam_matches_torch_optim_on_a_gpu(fused, monkeypatch):
    if not fused:
        _unfused(monkeypatch)
    X = torch.randn(32, 6, generator=torch.Generator().manual_seed(1)).cuda()
    a, b = _net().cuda(), _net().cuda()
    mine = Adam(a.parameters(), lr=1e-2)
    assert (mine._fused_step is not None) == (fused and hasattr(torch, "_fused_adam_"))
    _train(a, mine, X)
    _train(b, torch.optim.Adam(b.parameters(), lr=1e-2), X)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
