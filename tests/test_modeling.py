"""The public building blocks of anovae.modeling: the scoring helpers plugins share with the core."""

import numpy as np
import pytest
import torch

from anovae import VAE
from anovae.modeling import (
    elbo_terms,
    fixed_draws,
    iwae_bound,
    log_likelihood_bound,
    rows_per_chunk,
)


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).normal(size=(120, 4))
    return VAE(max_steps=30, n_mc_samples=3, random_state=0).fit(X), X


def test_fixed_draws_repeat_and_leave_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = fixed_draws(7, (2, 1, 5))
    after = torch.rand(3)
    assert torch.equal(first, fixed_draws(7, (2, 1, 5)))
    assert not torch.equal(first, fixed_draws(8, (2, 1, 5)))
    assert torch.equal(before, after)
    assert first.shape == (2, 1, 5) and first.device.type == "cpu"


def test_the_core_scores_with_the_public_draws_and_bound(fitted):
    model, X = fitted
    frame = model._frame(X, reset=False)
    encoded = model._codec.encode(frame)
    eps = fixed_draws(model._eps_seed, (model.n_mc_samples, 1, 1, model.latent_dim))
    from anovae._scoring import to_batch

    with torch.inference_mode():
        bound = log_likelihood_bound(model.module_, to_batch(encoded, "cpu"), eps, fill_missing=True)
    expected = model.score_samples(X) - model._log_jacobian(encoded)
    np.testing.assert_allclose(bound.double().numpy(), expected, rtol=1e-5, atol=1e-4)


def test_log_likelihood_bound_is_the_elbo_for_one_sample_and_the_iwae_bound_for_more(fitted):
    model, X = fitted
    from anovae._scoring import to_batch

    batch = to_batch(model._codec.encode(model._frame(X, reset=False)), "cpu")
    module = model.module_.eval()
    with torch.inference_mode():
        single = fixed_draws(1, (3, 1, 1, model.latent_dim))
        cell, kl = elbo_terms(module, batch, single[:, 0])
        assert torch.equal(log_likelihood_bound(module, batch, single), cell.sum(-1) - kl)
        several = fixed_draws(1, (3, 4, 1, model.latent_dim))
        assert torch.equal(log_likelihood_bound(module, batch, several), iwae_bound(module, batch, several))


@pytest.mark.parametrize(
    "samples, width, device, rows",
    [
        (1, 10, "cuda", 65536),
        (1, 1000, "cuda", 8388),
        (10, 1000, "cuda", 838),
        (1, 10**8, "cuda", 1),
        (1, 10, "cpu", 52428),
        (5, 64, "cpu", 1638),
        (1, 10**8, "cpu", 1),
    ],
    ids=["capped", "wide", "many-draws", "wider-than-the-budget", "cpu", "cpu-draws", "cpu-too-wide"],
)
def test_rows_per_chunk_keeps_memory_flat(samples, width, device, rows):
    # Only the device's kind is read: no GPU is needed to ask about one.
    assert rows_per_chunk(samples, width, device) == rows


def test_a_device_this_machine_lacks_loads_as_the_cpu():
    from anovae.modeling import loading_device

    assert loading_device("cpu") == "cpu" and loading_device("auto") == "auto"
    assert loading_device("cuda:0") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert loading_device("no-such-device") == "cpu"
