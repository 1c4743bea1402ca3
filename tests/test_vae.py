"""The unsupervised VAE: behaviour a user relies on."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from anovae import VAE
from anovae.errors import AnovaeError, DataError, PluginError, TrainingError

FAST = dict(max_epochs=15, hidden_layer_sizes=(32,), latent_dim=2, random_state=0)


def correlated(n=400, seed=0):
    """Rows near a 2-D plane in 6-D: a VAE can learn the structure."""
    W = np.random.RandomState(42).normal(size=(2, 6))
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 2))
    return z @ W + 0.1 * rng.normal(size=(n, 6))


def mixed_frame(n=300, seed=0):
    rng = np.random.RandomState(seed)
    kind = rng.choice(["cam", "plug", "hub"], n)
    power = np.where(kind == "cam", 5.0, np.where(kind == "plug", 50.0, 12.0)) + rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "power": power,
            "temp": rng.normal(20, 2, n),
            "kind": kind,
            "online": rng.randint(0, 2, n),
        }
    )
    frame.loc[[3, 10], "temp"] = np.nan
    frame.loc[[5], "kind"] = None
    return frame


@pytest.fixture(scope="module")
def fitted():
    X = correlated()
    return VAE(**FAST).fit(X), X


def test_fit_returns_self_and_learned_attributes(fitted):
    vae, X = fitted
    assert vae.n_features_in_ == 6
    assert vae.n_epochs_ == vae.history_[-1]["epoch"] >= 1
    assert vae.n_steps_ == vae.history_[-1]["step"] >= 1
    assert set(vae.history_[0]) == {"step", "epoch", "loss", "reconstruction", "kl", "val_loss", "seconds"}
    assert vae.transform(X).shape == (len(X), 2)


def test_scores_are_deterministic_across_calls_and_fits(fitted):
    vae, X = fitted
    first = vae.score_samples(X)
    np.testing.assert_array_equal(first, vae.score_samples(X))
    again = VAE(**FAST).fit(X)
    np.testing.assert_array_equal(first, again.score_samples(X))
    other_seed = VAE(**{**FAST, "random_state": 1}).fit(X)
    assert not np.allclose(first, other_seed.score_samples(X))


def test_no_global_seeding(fitted):
    vae, X = fitted
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_np = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(123)
    VAE(**{**FAST, "max_epochs": 2}).fit(X).score_samples(X)
    assert torch.rand(1) == expected_torch
    assert np.random.rand() == expected_np


def test_kl_is_nonzero_at_defaults_and_beta_changes_the_model():
    X = correlated()
    default = VAE(random_state=0).fit(X)
    assert default.history_[-1]["kl"] > 0.5, "the KL term must be active: this is a VAE, not an autoencoder"
    heavy = VAE(random_state=0, beta=8.0).fit(X)
    assert heavy.history_[-1]["kl"] < default.history_[-1]["kl"]
    assert not np.allclose(default.score_samples(X), heavy.score_samples(X))


def test_detects_rows_off_the_learned_structure():
    X = correlated(600)
    rng = np.random.RandomState(1)
    outliers = rng.normal(scale=3.0, size=(30, 6))
    vae = VAE(random_state=0, max_epochs=60).fit(X)
    test = np.vstack([correlated(200, seed=2), outliers])
    truth = np.r_[np.zeros(200), np.ones(30)]
    assert roc_auc_score(truth, -vae.score_samples(test)) > 0.95
    assert (vae.predict(outliers) == -1).mean() > 0.8


def test_predict_and_decision_function_agree_with_offset(fitted):
    vae, X = fitted
    decision = vae.decision_function(X)
    np.testing.assert_allclose(decision, vae.score_samples(X) - vae.offset_)
    np.testing.assert_array_equal(vae.predict(X), np.where(decision < 0, -1, 1))


def test_contamination_sets_the_share_flagged():
    X = correlated()
    vae = VAE(**FAST, contamination=0.1).fit(X)
    assert vae.threshold_strategy_ is None
    assert abs((vae.predict(X) == -1).mean() - 0.1) < 0.01


def test_threshold_by_name_and_instance():
    from anovae.thresholds import get_threshold_strategy

    X = correlated()
    by_name = VAE(**FAST, threshold="zscore").fit(X)
    strategy = by_name.threshold_strategy_
    assert by_name.offset_ == pytest.approx(-strategy.threshold_)
    instance = get_threshold_strategy("zscore", k=1.0)
    by_instance = VAE(**FAST, threshold=instance).fit(X)
    assert not hasattr(instance, "threshold_"), "the user's strategy object must not be fitted in place"
    assert (by_instance.predict(X) == -1).sum() > (by_name.predict(X) == -1).sum()


def test_unknown_threshold_suggests_a_name():
    with pytest.raises(PluginError, match="did you mean 'zscore'"):
        VAE(**FAST, threshold="zscor").fit(correlated(50))


def test_importance_weighted_bound_is_tighter_than_elbo(fitted):
    # The bounds themselves (``score``): with the KL counted twice (score_kl_weight=2)
    # a row's score is not a bound, and the inequality need not hold.
    vae, X = fitted
    iwae = VAE(**{**FAST, "n_importance_samples": 64, "n_mc_samples": 1}).fit(X)
    assert iwae.score(X) > vae.score(X)


def test_feature_scores_and_the_weighted_kl_sum_to_the_negative_score(fitted):
    vae, X = fitted
    cells = vae.feature_scores(X)
    assert cells.shape == X.shape
    kl = vae._kl(vae._encode(X)[0])
    np.testing.assert_allclose(
        cells.sum(axis=1) + vae.score_kl_weight * kl, -vae.score_samples(X), rtol=1e-5, atol=1e-5
    )


def test_feature_scores_point_at_the_broken_column():
    X = correlated(600)
    vae = VAE(random_state=0, max_epochs=60).fit(X)
    row = X[:1].copy()
    row[0, 4] += 8 * X[:, 4].std()
    assert int(np.argmax(vae.feature_scores(row)[0])) == 4


def test_dataframe_with_strings_and_missing_cells():
    frame = mixed_frame()
    vae = VAE(**FAST).fit(frame)
    assert vae.feature_kinds_ == {"power": "gaussian", "temp": "gaussian", "kind": "categorical", "online": "bernoulli"}
    scores = vae.score_samples(frame)
    assert np.isfinite(scores).all()
    cells = vae.feature_scores(frame)
    assert list(cells.columns) == list(frame.columns)
    assert np.isnan(cells.loc[3, "temp"]) and np.isnan(cells.loc[5, "kind"])
    decoded = vae.inverse_transform(vae.transform(frame.head(4)))
    assert list(decoded.columns) == list(frame.columns)
    assert set(decoded["kind"]) <= {"cam", "plug", "hub"}
    synthetic = vae.sample(50, random_state=0)
    assert synthetic.shape == (50, 4)
    assert set(synthetic["online"]) <= {0.0, 1.0}


def test_unseen_category_makes_a_row_less_likely():
    frame = mixed_frame()
    vae = VAE(**{**FAST, "max_epochs": 40}).fit(frame)
    rows = frame.iloc[[0, 1, 2]].copy()
    seen = vae.score_samples(rows)
    rows["kind"] = "toaster"
    assert (vae.score_samples(rows) < seen).all()


def test_missing_cells_at_scoring_use_observed_cells_only(fitted):
    vae, X = fitted
    holed = X[:5].copy()
    holed[:, 0] = np.nan
    scores = vae.score_samples(holed)
    assert np.isfinite(scores).all()
    assert np.isnan(vae.feature_scores(holed)[:, 0]).all()


def test_column_mismatch_is_a_clear_error():
    frame = mixed_frame()
    vae = VAE(**{**FAST, "max_epochs": 2}).fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        vae.score_samples(frame.rename(columns={"temp": "temperature"}))
    with pytest.raises(ValueError, match="features"):
        vae.score_samples(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"latent_dim": 0}, "'latent_dim' parameter of VAE must be an int in the range"),
        ({"contamination": 0.7}, "'contamination' parameter of VAE must be"),
        ({"likelihood": "poisson"}, "'likelihood' parameter of VAE must be a str among"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"optimizer": "sgd"}, "'optimizer' parameter"),
    ],
)
def test_bad_parameters_use_sklearn_messages(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        VAE(**params).fit(correlated(20))


def test_bernoulli_rejects_values_outside_unit_interval():
    with pytest.raises(DataError, match="column 'x1' has values outside"):
        VAE(likelihood="bernoulli").fit(np.c_[np.zeros(10), np.arange(10.0)])


def test_infinite_values_are_rejected():
    X = correlated(30)
    X[4, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        VAE(**FAST).fit(X)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    with pytest.raises(DataError, match=r"column 'c' has an infinite value \(row 4\)"):
        VAE(**FAST).fit(frame)


def test_an_all_empty_column_is_rejected():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3})
    with pytest.raises(DataError, match="column 'b' has no observed value"):
        VAE(**FAST).fit(frame)


def test_divergence_raises_instead_of_returning_garbage(monkeypatch):
    _diverging(monkeypatch)
    with pytest.raises(TrainingError, match="diverged at step"):
        VAE(**FAST).fit(correlated(50))


def test_verbose_shows_progress(capsys):
    VAE(**{**FAST, "max_epochs": 3, "early_stopping": False}, verbose=1).fit(correlated(50))
    assert "step 3/3" in capsys.readouterr().err


def test_cuda_requested_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(AnovaeError, match="CUDA is not available"):
        VAE(**FAST, device="cuda").fit(correlated(20))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_fit_matches_api_and_returns_numpy():
    X = correlated()
    vae = VAE(**FAST, device="cuda").fit(X)
    assert next(vae.module_.parameters()).is_cuda
    scores = vae.score_samples(X)
    assert isinstance(scores, np.ndarray) and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores, vae.score_samples(X))
    cpu = VAE(**FAST, device="cpu").fit(X)
    # Same seed, different device: same model up to floating-point differences.
    assert np.corrcoef(scores, cpu.score_samples(X))[0, 1] > 0.9


def test_trimmed_elbo_leaves_out_the_worst_rows_of_a_batch(fitted):
    from anovae._scoring import to_batch
    from anovae._objectives import gaussian_kl, negative_elbo

    vae, X = fitted
    batch = to_batch(vae._encode(X[:10])[0], "cpu")
    eps = torch.zeros(10, vae.latent_dim)
    with torch.no_grad():
        full, recon, kl = negative_elbo(vae.module_, batch, eps)
        half, recon_half, _ = negative_elbo(vae.module_, batch, eps, trim_fraction=0.5)
        out, mu, log_var = vae.module_(batch, eps)
        per_row = gaussian_kl(mu, log_var) - vae.module_.likelihood(out, batch).sum(-1)
    assert float(full) == pytest.approx(float(per_row.mean()), rel=1e-6)
    assert float(half) == pytest.approx(float(per_row.sort().values[:5].mean()), rel=1e-6)
    assert float(recon_half) == pytest.approx(float(recon))  # the logged terms cover every row


def test_a_large_category_loses_at_most_its_own_trimmed_share():
    from anovae._objectives import kept_rows

    # 20 rows of category 0 explained far worse than 20 of category 1: the plain
    # rule would trim 8 rows of category 0; as it holds more than the trimmed
    # share of the batch, it loses only its own share (4), and the rest of the
    # budget goes to category 1's worst rows.
    loss = torch.cat([100 + torch.arange(20.0), torch.arange(20.0)])
    cat = torch.tensor([0] * 20 + [1] * 20).unsqueeze(1)
    assert set(kept_rows(loss, cat, 0.2).tolist()) == set(range(16)) | set(range(20, 36))
    # A category of at most the trimmed share may be all anomalies: trimmed freely.
    loss = torch.cat([100 + torch.arange(4.0), torch.arange(36.0)])
    cat = torch.tensor([2] * 4 + [1] * 36).unsqueeze(1)
    assert set(kept_rows(loss, cat, 0.2).tolist()) == set(range(4, 36))
    # Rows differing in any column, or with a value missing (-1), are apart.
    two = torch.stack([torch.tensor([0] * 20 + [1] * 20), torch.zeros(40, dtype=torch.long)], dim=1)
    assert set(kept_rows(torch.cat([100 + torch.arange(20.0), torch.arange(20.0)]), two, 0.2).tolist()) == (
        set(range(16)) | set(range(20, 36))
    )
    missing = torch.tensor([-1] * 20 + [0] * 20).unsqueeze(1)
    assert len(set(range(20)) & set(kept_rows(torch.cat([100 + torch.arange(20.0), torch.arange(20.0)]),
                                               missing, 0.2).tolist())) == 16
    # Without categorical columns: the plain rule, the rows of lowest loss.
    plain = kept_rows(loss, torch.empty(40, 0, dtype=torch.long), 0.2)
    assert set(plain.tolist()) == set(torch.argsort(loss)[:32].tolist())


def regime_frame(n=3000, seed=0):
    """Rows of kind "plug" (40%) and "other"; about 35% of the plugs are on
    standby, in another place (x1 and x2 moved by 4) with another relation (x3
    follows -x1): a normal regime of 14% of the rows, inside a large category."""
    rng = np.random.default_rng(seed)
    plug = rng.random(n) < 0.4
    standby = plug & (rng.random(n) < 0.35)
    x1 = rng.normal(size=n)
    x2 = x1 + 0.3 * rng.normal(size=n)
    x3 = np.where(standby, -x1, x1) + 0.3 * rng.normal(size=n)
    frame = pd.DataFrame({"kind": np.where(plug, "plug", "other"), "x1": x1 + 4 * standby,
                          "x2": x2 + 4 * standby, "x3": x3, "x4": rng.normal(size=n)})
    return frame, standby


def test_a_regime_inside_a_category_is_learned_not_trimmed_away():
    frame, standby = regime_frame()
    flagged = VAE(random_state=0).fit(frame).predict(frame) == -1
    # With the kind as a 0/1 number there is no category to cap the trimming: the
    # regime (14% of the rows, below the trimmed 20%) is left out and flagged.
    as_number = frame.assign(kind=(frame["kind"] == "plug").astype(float))
    flagged_as_number = VAE(random_state=0).fit(as_number).predict(as_number) == -1
    assert flagged_as_number[standby].mean() > 0.85
    assert flagged[standby].mean() < 0.5


@pytest.mark.parametrize("n, fraction, kept", [(10, 0.5, 5), (10, 0.0, 10), (3, 0.9, 1), (7, 0.2, 6)])
def test_the_trim_rule_keeps_the_rounded_share_and_at_least_one_row(n, fraction, kept):
    from anovae._objectives import rows_kept

    assert rows_kept(n, fraction) == kept


def test_early_stopping_watches_the_loss_trimmed_like_training(fitted):
    from anovae._scoring import to_batch
    from anovae._objectives import negative_elbo

    _, X = fitted
    vae = VAE(**{**FAST, "trim_fraction": 0.3}).fit(X)
    encoded = vae._encode(X[:10])[0]
    device = torch.device("cpu")
    eps = vae._draws((1, 1, vae.latent_dim), device)
    with torch.no_grad():
        trained, _, _ = negative_elbo(vae.module_, to_batch(encoded, device), eps[0], beta=vae.beta, trim_fraction=0.3)
    watched = vae._validation_loss(vae.module_, encoded, None, device)()
    assert watched == pytest.approx(float(trained), rel=1e-6)


def test_trim_fraction_changes_training():
    X = correlated()
    plain = VAE(**FAST, trim_fraction=0.0).fit(X)
    trimmed = VAE(**FAST, trim_fraction=0.3).fit(X)
    assert not np.allclose(plain.score_samples(X), trimmed.score_samples(X))


def test_per_column_noise_keeps_pace_with_training():
    # c is a + b to 1% of its spread: within the budget the model should learn that
    # every column is predictable from a 2-d code (a small noise), not stay near the
    # data's variance (it stayed at 0.66-0.73 before the log-variance gain).
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(2, 1500))
    X = np.column_stack([a, b, a + b + 0.014 * rng.normal(size=1500)])
    vae = VAE(random_state=0, max_steps=1500).fit(X)
    noise = np.exp(0.5 * vae.module_.likelihood.column_log_var.detach().numpy())
    assert noise.max() < 0.55


def _diverging(monkeypatch):
    """Training batches whose numbers overflow, so the loss stops being finite
    whichever way the step computes it (autograd or the manual step)."""
    from anovae import _training

    real = _training.in_memory_batches

    def overflowing(data, conditions, batch_size, generator):
        for batch, condition, epoch in real(data, conditions, batch_size, generator):
            yield type(batch)(batch.num * 1e39, batch.bin, batch.cat), condition, epoch

    monkeypatch.setattr(_training, "in_memory_batches", overflowing)


def test_a_failed_refit_keeps_the_previous_model(monkeypatch):
    X = correlated(200)
    vae = VAE(**FAST).fit(X)
    before = vae.score_samples(X)
    _diverging(monkeypatch)
    with pytest.raises(TrainingError):
        vae.fit(correlated(300, seed=5) * 10)
    np.testing.assert_array_equal(vae.score_samples(X), before)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(monkeypatch):
    from sklearn.exceptions import NotFittedError

    _diverging(monkeypatch)
    vae = VAE(**FAST)
    with pytest.raises(TrainingError):
        vae.fit(correlated(100))
    with pytest.raises(NotFittedError):
        vae.predict(correlated(5))
    assert not hasattr(vae, "n_features_in_")


def test_fit_score_samples_is_fit_then_score_samples():
    X = correlated(300)
    once = VAE(**FAST)
    scores = once.fit_score_samples(X)
    np.testing.assert_array_equal(scores, VAE(**FAST).fit(X).score_samples(X))
    np.testing.assert_array_equal(scores, once.score_samples(X))


def test_concurrent_fits_leave_torch_thread_count_as_it_was():
    import threading

    before = torch.get_num_threads()
    errors = []

    def fit(seed):
        try:
            VAE(**{**FAST, "random_state": seed}).fit(correlated(300, seed=seed))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=fit, args=(seed,)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert torch.get_num_threads() == before


def test_anovae_threads_keep_leaves_torch_alone(monkeypatch):
    calls = []
    monkeypatch.setenv("ANOVAE_THREADS", "keep")
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    VAE(**FAST).fit(correlated(100))
    assert calls == []


def test_scores_are_the_same_whatever_the_number_of_threads_scoring_the_chunks(monkeypatch):
    import anovae._scoring

    X = correlated(30_000)
    X[::7, 1] = np.nan  # rows with blanks take the completion's path too
    vae = VAE(**FAST).fit(X)
    pools = []

    class CountedPool(anovae._scoring.ThreadPoolExecutor):
        def __init__(self, workers, **kwargs):
            pools.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(anovae._scoring, "ThreadPoolExecutor", CountedPool)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = vae.score_samples(X), vae.feature_scores(X), vae.transform(X)
        assert pools == []
        torch.set_num_threads(2)
        side_by_side = vae.score_samples(X), vae.feature_scores(X), vae.transform(X)
    finally:
        torch.set_num_threads(before)
    assert pools == [2, 2, 2]
    for one, two in zip(alone, side_by_side):
        np.testing.assert_array_equal(one, two)


def test_chunks_are_scored_side_by_side_only_where_each_runs_on_one_thread(monkeypatch):
    from anovae._device import scoring_workers

    cpu = torch.device("cpu")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert scoring_workers(cpu, 1, 10) == 3
        assert scoring_workers(cpu, 1, 2) == 2
        assert scoring_workers(cpu, 1, 1) == 1
        assert scoring_workers(cpu, None, 10) == 1  # a large network: torch's own pool
        assert scoring_workers(torch.device("cuda"), 1, 10) == 1
        monkeypatch.setenv("ANOVAE_THREADS", "keep")
        assert scoring_workers(cpu, 1, 10) == 1
    finally:
        torch.set_num_threads(before)


def test_a_supervised_threshold_uses_only_the_known_labels():
    X = correlated(300)
    y = np.zeros(300)
    y[:15] = 1
    X[:15] += 3.0
    partial = y.copy()
    partial[100:200] = np.nan  # unknown labels
    vae = VAE(**FAST, threshold="f1").fit(X, partial)
    known = ~np.isnan(partial)
    again = VAE(**FAST, threshold="f1").fit(X, partial)
    assert vae.offset_ == again.offset_ and np.isfinite(vae.offset_)
    # The cut is the one fitted on the labelled rows alone.
    from anovae_thresholds import F1Threshold

    cut = F1Threshold().fit(-vae.score_samples(X)[known], partial[known]).threshold_
    assert vae.offset_ == -cut


def test_tags_declare_text_and_categorical_input():
    tags = VAE().__sklearn_tags__()
    assert tags.input_tags.string and tags.input_tags.categorical and tags.input_tags.allow_nan
    frame = pd.DataFrame({"kind": ["a", "b"] * 50, "x": np.arange(100.0)})
    assert VAE(**FAST).fit(frame).score_samples(frame).shape == (100,)


def test_weight_averaging_keeps_the_bias_corrected_average_of_the_iterates(monkeypatch):
    from anovae import _weight_average

    iterates = []
    update = _weight_average.WeightAverage.update

    def recording(self):
        iterates.append(torch.cat([t.reshape(-1) for t in self.tensors]).clone())
        update(self)

    monkeypatch.setattr(_weight_average.WeightAverage, "update", recording)
    X = correlated(200)
    vae = VAE(**{**FAST, "max_epochs": None}, max_steps=40, early_stopping=False, ema_horizon=0.5).fit(X)
    decay = 1 - 1 / (0.5 * 40)
    weights = decay ** torch.arange(len(iterates) - 1, -1, -1, dtype=torch.float64)
    expected = (weights[:, None] * torch.stack(iterates).double()).sum(0) / weights.sum()
    fitted = torch.cat([p.detach().reshape(-1) for p in vae.module_.parameters()]).double()
    assert len(iterates) == 40
    torch.testing.assert_close(fitted, expected, rtol=1e-5, atol=1e-6)
    # Off by default: the last step's weights, as before.
    plain = VAE(**{**FAST, "max_epochs": None}, max_steps=40, early_stopping=False).fit(X)
    assert torch.equal(torch.cat([p.detach().reshape(-1) for p in plain.module_.parameters()]), iterates[-1])


def test_weight_averaging_with_early_stopping_repeats_and_checks_its_parameter():
    X = correlated(600)
    vae = VAE(**{**FAST, "max_epochs": None}, max_steps=1500, ema_horizon=0.25).fit(X)
    again = VAE(**{**FAST, "max_epochs": None}, max_steps=1500, ema_horizon=0.25).fit(X)
    np.testing.assert_array_equal(vae.score_samples(X), again.score_samples(X))
    assert all(r["val_loss"] is not None for r in vae.history_)
    with pytest.raises(InvalidParameterError):
        VAE(ema_horizon=1.5).fit(X)
