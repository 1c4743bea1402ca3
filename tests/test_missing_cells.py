"""What a blank costs: per-column offsets calibrated on held-out rows (anovae/_missing_cells.py)."""

import numpy as np
import pandas as pd
import pytest

import anovae
from anovae import VAE, ConditionalVAE
from anovae.errors import ModelFileError
from anovae.modeling import encode_rows, map_chunks, scoring_draws
from model_files import rewrite
from test_scoring import blank, related


def offsets(model):
    return model.module_.likelihood.missing_offsets.numpy().astype(np.float64)


def observed_minus_expected(model, X):
    """Per column, the mean over X's cells of log p(x_j | z) - E[log p(x_j | z)]."""
    eps = scoring_draws(model, (model.n_mc_samples, 1, model.latent_dim))
    module = model.module_
    likelihood = module.likelihood

    def gap(batch, condition):
        mu, log_var = module.encode(batch)
        out = module.decode(module.reparameterize(mu, log_var, eps))
        return (likelihood(out, batch) - likelihood.expected_log_likelihood(out)).mean(dim=0)

    return map_chunks(model, encode_rows(model, X), gap).mean(axis=0)


@pytest.fixture(scope="module")
def noisy_model():
    return VAE(random_state=0).fit(related(2000, seed=0, noise=1.0)[0])


def test_a_blank_costs_what_the_cell_and_its_effect_on_the_row_cost_on_new_normal_rows(noisy_model):
    new = related(1350, seed=1, noise=1.0)[0]
    gap = observed_minus_expected(noisy_model, new)
    assert gap.mean() < -0.1  # observed cells fall short of the model's own expectation
    # The first stage matches that shortfall; the second also takes in what a blank
    # does to the rest of its row, so blanking a fifth of new normal rows' cells
    # moves their mean score by +0.05 to +0.21 nats over training seeds 0-4 (the
    # first stage alone: +0.29 to +0.40; no offsets: +0.5 to +0.7).
    assert offsets(noisy_model).mean() < -0.1
    blanked = blank(new, 0.2, seed=3)
    assert abs(noisy_model.score_samples(blanked).mean() - noisy_model.score_samples(new).mean()) < 0.25


def test_the_same_seed_and_data_give_the_same_offsets(noisy_model):
    again = VAE(random_state=0).fit(related(2000, seed=0, noise=1.0)[0])
    np.testing.assert_array_equal(offsets(again), offsets(noisy_model))


def test_anomalies_among_the_held_out_rows_do_not_set_what_a_blank_costs():
    clean = VAE(random_state=0).fit(related(2000, seed=0)[0])
    contaminated = VAE(random_state=0).fit(related(2000, seed=0, anomalies=100)[0])
    # Averaged over every held-out row, the 5% anomalies' cells pulled the offsets
    # down by about 1 nat and normal rows with blanks 1.3 to 2 nats below complete
    # ones; rows beyond Tukey's fence are left out (differences 0.04-0.07, seeds 0-2).
    assert abs(offsets(contaminated).mean() - offsets(clean).mean()) < 0.15


def test_a_model_file_without_offsets_scores_blanks_as_before(tmp_path, noisy_model):
    X = related(300, seed=1, noise=1.0)[0]
    blanked = blank(X, 0.2, seed=3)
    path = anovae.save(noisy_model, tmp_path / "new.anovae")
    np.testing.assert_array_equal(anovae.load(path).score_samples(blanked), noisy_model.score_samples(blanked))

    old = tmp_path / "old.anovae"
    rewrite(path, old, meta=lambda meta: meta.pop("missing_offsets"))
    loaded = anovae.load(old)
    assert not offsets(loaded).any()
    # Complete rows never see the offsets; blanks score their expected value alone.
    np.testing.assert_array_equal(loaded.score_samples(X), noisy_model.score_samples(X))
    uncalibrated = anovae.load(path)
    uncalibrated.module_.likelihood.set_missing_offsets(None)
    np.testing.assert_array_equal(loaded.score_samples(blanked), uncalibrated.score_samples(blanked))
    assert not np.array_equal(loaded.score_samples(blanked), noisy_model.score_samples(blanked))


@pytest.mark.parametrize("stored", [[1.0], ["x"] * 10, [float("nan")] * 10, {"x0": 1.0}])
def test_corrupt_missing_cell_offsets_are_a_model_file_error(tmp_path, noisy_model, stored):
    good, bad = tmp_path / "good.anovae", tmp_path / "bad.anovae"
    anovae.save(noisy_model, good)
    rewrite(good, bad, meta=lambda meta: meta.update(missing_offsets=stored))
    with pytest.raises(ModelFileError, match="bad.anovae.*missing-cell offsets"):
        anovae.load(bad)


def test_a_streamed_fit_calibrates_blanks_on_its_held_out_sample():
    X = related(2000, seed=0, noise=1.0)[0]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    streamed = VAE(random_state=0).fit_stream([frame.iloc[i : i + 250] for i in range(0, 2000, 250)])
    assert streamed.streaming_["held_out_rows"] == 200
    new = pd.DataFrame(related(1350, seed=1, noise=1.0)[0], columns=frame.columns)
    # Its own network, so its own offsets, by the in-memory rule: blanking a fifth of
    # new normal rows' cells moves their mean score by +0.13 to +0.21 nats (seeds 0-2).
    assert offsets(streamed).any()
    blanked = pd.DataFrame(blank(new.to_numpy(), 0.2, seed=3), columns=frame.columns)
    assert abs(streamed.score_samples(blanked).mean() - streamed.score_samples(new).mean()) < 0.3


def test_a_conditional_vae_calibrates_blanks_with_each_row_s_label():
    X = related(2000, seed=0, noise=1.0)[0]
    y = (X[:, 0] > 0).astype(int)
    cvae = ConditionalVAE(random_state=0).fit(X, y)
    assert np.isfinite(offsets(cvae)).all() and offsets(cvae).any()
    new = related(1350, seed=1, noise=1.0)[0]
    labels = (new[:, 0] > 0).astype(int)
    blanked = blank(new, 0.2, seed=3)
    blanked[:, 0] = new[:, 0]
    lift = cvae.score_samples(blanked, labels).mean() - cvae.score_samples(new, labels).mean()
    assert lift <= 0.3  # +0.18 to +0.24 over seeds 0-2


def tightly_related(n, seed):
    """Six columns from two factors with little noise: each column is predicted
    tightly by the others, the shape where a blank hurts the rest of its row."""
    rng = np.random.RandomState(seed)
    mixing = np.random.RandomState(99).normal(size=(2, 6))
    return rng.normal(size=(n, 2)) @ mixing + 0.02 * rng.normal(size=(n, 6))


def test_blanks_in_tightly_related_columns_leave_the_rest_of_the_row_explained():
    X, normal = tightly_related(2000, seed=0), tightly_related(1000, seed=1)
    blanked = blank(normal, 0.2, seed=3)
    vae = VAE(random_state=0).fit(X)
    shift = (vae.score_samples(blanked) - vae.score_samples(normal)).mean()
    # Completed from the column means alone, a blank could stay at a value its row's
    # other cells contradict, and blanked rows scored 2.1 to 2.9 nats lower (seeds
    # 0-2); started from the best of the encoder's code and 256 fixed prior codes,
    # -0.15 to -0.30 (with the offsets' second stage).
    assert abs(shift) < 1.0


def test_input_masking_teaches_the_encoder_partial_rows():
    X, normal = tightly_related(2000, seed=0), tightly_related(1000, seed=1)
    blanked = blank(normal, 0.2, seed=3)

    def code_error(masking):
        # transform encodes the row as given: blanks enter as column means, uncompleted.
        vae = VAE(random_state=0, input_masking=masking).fit(X)
        return np.median(np.linalg.norm(vae.transform(blanked) - vae.transform(normal), axis=1))

    # Trained with a tenth of its inputs hidden, the encoder places a partial row
    # nearer its complete self: 0.12 against 0.25 (ratio 0.48 to 0.50, seeds 0-2).
    assert code_error(0.1) < 0.7 * code_error(0.0)


def test_input_masking_is_reproducible_and_off_by_default():
    X = tightly_related(400, seed=0)
    params = dict(max_steps=150, random_state=0)
    first = VAE(**params, input_masking=0.2).fit(X).score_samples(X)
    again = VAE(**params, input_masking=0.2).fit(X).score_samples(X)
    np.testing.assert_array_equal(first, again)
    plain = VAE(**params).fit(X).score_samples(X)
    np.testing.assert_array_equal(plain, VAE(**params, input_masking=0.0).fit(X).score_samples(X))
    assert not np.allclose(first, plain)


def test_input_masking_reaches_the_streamed_fit():
    frame = pd.DataFrame(tightly_related(800, seed=0), columns=list("abcdef"))
    parts = [frame.iloc[i : i + 200] for i in range(0, 800, 200)]
    params = dict(max_steps=150, random_state=0)
    plain = VAE(**params).fit_stream(parts).score_samples(frame)
    masked = VAE(**params, input_masking=0.2).fit_stream(parts).score_samples(frame)
    assert not np.allclose(plain, masked)


def test_feature_scores_explain_a_blanked_row_s_observed_cells_as_its_score_does():
    X, normal = tightly_related(2000, seed=0), tightly_related(1000, seed=1)
    blanked = blank(normal, 0.2, seed=3)
    vae = VAE(random_state=0).fit(X)
    observed = ~np.isnan(blanked)
    partial = (~observed).any(axis=1)
    cost = lambda table: np.where(observed, vae.feature_scores(table), 0.0).sum(axis=1)[partial]  # noqa: E731
    # The observed cells of a blanked row are explained from the completed input the
    # score uses: +0.9 to +1.1 nats over the complete rows (seeds 0-2), where the
    # encoder fed the blanks as column means made them cost +57 to +65 more.
    assert (cost(blanked) - cost(normal)).mean() < 3.0


@pytest.mark.parametrize("noise_std", ["column", "cell", 0.5])
def test_the_start_code_search_scores_each_code_as_the_likelihood_does(noise_std):
    import torch

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({
        "a": rng.normal(size=300), "b": rng.lognormal(size=300),
        "flag": rng.randint(0, 2, 300).astype(float), "kind": rng.choice(["x", "y", "z"], 300),
    })
    vae = VAE(max_steps=50, noise_std=noise_std, random_state=0).fit(frame)
    new = frame.head(6).copy()
    new.loc[0, "a"] = np.nan
    new.loc[1, "flag"] = np.nan
    new.loc[2, "flag"] = 3.0  # out of range: a fixed penalty, the same for every code
    new.loc[3, "kind"] = "never seen"
    new.loc[4, "kind"] = None
    batch = encode_rows(vae, new)
    batch = anovae._scoring.to_batch(batch, "cpu")
    module, likelihood = vae.module_, vae.module_.likelihood
    with torch.no_grad():
        out = module.decode(torch.randn(5, vae.latent_dim, generator=torch.Generator().manual_seed(1)))
        shared = likelihood.shared_code_log_likelihood(out, batch)
        usable = likelihood.usable_cells(batch)
        each = (likelihood(out[:, None, :].expand(-1, len(new), -1), batch) * usable).sum(dim=-1).T
    np.testing.assert_allclose(shared.numpy(), each.numpy(), rtol=1e-4, atol=1e-3)
