"""The public building blocks of anovae.modeling: the scoring helpers plugins share with the core."""

import numpy as np
import pytest
import torch

from anovae import VAE
from anovae.modeling import (
    elbo_terms,
    encode_rows,
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
    encoded = encode_rows(model, X)
    eps = fixed_draws(model._eps_seed, (model.n_mc_samples, 1, 1, model.latent_dim))
    from anovae._scoring import to_batch

    with torch.inference_mode():
        bound = log_likelihood_bound(
            model.module_, to_batch(encoded, "cpu"), eps, fill_missing=True, kl_weight=model.score_kl_weight
        )
    expected = model.score_samples(X) - model._log_jacobian(encoded)
    np.testing.assert_allclose(bound.double().numpy(), expected, rtol=1e-5, atol=1e-4)


def test_log_likelihood_bound_is_the_elbo_for_one_sample_and_the_iwae_bound_for_more(fitted):
    model, X = fitted
    from anovae._scoring import to_batch

    batch = to_batch(encode_rows(model, X), "cpu")
    module = model.module_.eval()
    with torch.inference_mode():
        single = fixed_draws(1, (3, 1, 1, model.latent_dim))
        cell, kl = elbo_terms(module, batch, single[:, 0])
        # Complete rows are summed without the per-cell array: equal up to rounding.
        torch.testing.assert_close(log_likelihood_bound(module, batch, single), cell.sum(-1) - kl, rtol=1e-6, atol=1e-5)
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


# ---- building on a fitted model -----------------------------------------------------
@pytest.fixture(scope="module")
def mixed():
    import pandas as pd

    rng = np.random.RandomState(1)
    frame = pd.DataFrame({
        "a": rng.normal(size=150), "kind": rng.choice(["x", "y"], size=150),
        "flag": (rng.rand(150) < 0.5).astype(float), "b": rng.normal(size=150),
    })
    frame.loc[::7, "a"] = np.nan
    frame.loc[::11, "kind"] = None
    model = VAE(max_steps=30, numeric_transform="standardize", random_state=0).fit(frame)
    return model, frame


def test_public_functions_reproduce_the_models_own_scores(mixed):
    from anovae.modeling import encode_rows, map_chunks, scoring_draws

    model, frame = mixed
    encoded = encode_rows(model, frame)
    eps = scoring_draws(model, (model.n_mc_samples, model.n_importance_samples, 1, model.latent_dim))
    bound = map_chunks(
        model,
        encoded,
        lambda batch, condition: log_likelihood_bound(
            model.module_, batch, eps, fill_missing=True, kl_weight=model.score_kl_weight
        ),
        samples=model.n_mc_samples,
    )
    # Standardized columns: the scores add the same Jacobian constant to every row.
    offset = model.score_samples(frame) - bound
    np.testing.assert_allclose(offset, offset[0], rtol=0, atol=1e-9)
    means = map_chunks(model, encoded, lambda batch, condition: model.module_.encode(batch)[0])
    np.testing.assert_array_equal(means, model.transform(frame))


def test_scoring_draws_are_fixed_per_model(mixed):
    from anovae.modeling import scoring_draws

    model, _ = mixed
    assert torch.equal(scoring_draws(model, (2, 1, 3)), scoring_draws(model, (2, 1, 3), "cpu"))
    other = VAE(max_steps=5, random_state=1).fit(np.random.RandomState(0).normal(size=(60, 2)))
    assert not torch.equal(scoring_draws(model, (2, 1, 3)), scoring_draws(other, (2, 1, 3)))


def test_missing_cells_are_in_the_tables_order(mixed):
    from anovae.modeling import encode_rows, missing_cells

    model, frame = mixed
    np.testing.assert_array_equal(missing_cells(model, encode_rows(model, frame)), frame.isna().to_numpy())


def test_encode_rows_checks_the_columns_like_score_samples(mixed):
    from anovae.modeling import encode_rows

    model, frame = mixed
    with pytest.raises(ValueError, match="feature names"):
        encode_rows(model, frame.rename(columns={"a": "z"}))
    assert len(encode_rows(model, frame.iloc[:5])) == 5


def test_column_codec_decodes_network_values_to_the_tables_columns(mixed):
    from anovae.modeling import BERNOULLI, GAUSSIAN, column_codec, encode_rows

    model, frame = mixed
    codec = column_codec(model)
    assert codec.names() == list(frame.columns)
    encoded = encode_rows(model, frame.iloc[1:4])
    cats = [np.eye(k)[np.maximum(encoded.cat[:, i], 0)] for i, k in enumerate(codec.n_categories)]
    decoded = codec.decode(encoded.num.astype(np.float64), encoded.bin.astype(np.float64), cats)
    assert list(decoded.columns) == list(frame.columns)
    np.testing.assert_allclose(decoded["b"], frame["b"].iloc[1:4], rtol=1e-6)
    assert decoded["kind"].tolist() == frame["kind"].iloc[1:4].tolist()
    assert len(codec.names(GAUSSIAN)) == 2 and codec.names(BERNOULLI) == ["flag"]


def test_the_public_functions_need_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    from anovae.modeling import column_codec, encode_rows, scoring_draws

    for call in (lambda: encode_rows(VAE(), [[0.0]]), lambda: column_codec(VAE()), lambda: scoring_draws(VAE(), (1,))):
        with pytest.raises(NotFittedError):
            call()
