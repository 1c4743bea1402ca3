"""score_kl_weight: how many times scores count the KL term, and what stays the bound."""

import numpy as np
import pytest

import anovae
from anovae import VAE
from model_files import rewrite

QUICK = dict(max_steps=300, hidden_layer_sizes=(16,), latent_dim=3, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 2)) @ rng.normal(size=(2, 6)) + 0.2 * rng.normal(size=(400, 6))
    return X


@pytest.fixture(scope="module")
def fitted(data):
    return VAE(**QUICK).fit(data)


def scores_at(model, X, weight, **params):
    old = model.get_params()
    model.set_params(score_kl_weight=weight, **params)
    try:
        return model.score_samples(X)
    finally:
        model.set_params(**{k: old[k] for k in ("score_kl_weight", *params)})


def test_scores_are_linear_in_the_weight_with_the_kl_as_slope(fitted, data):
    s1, s2, s5 = (scores_at(fitted, data, w) for w in (1.0, 2.0, 5.0))
    kl = s1 - s2
    assert (kl > 0).all()
    np.testing.assert_allclose(s1 - s5, 4 * kl, rtol=1e-5, atol=1e-6)


def test_the_importance_weighted_bound_pays_the_same_extra_kl(fitted, data):
    kl = scores_at(fitted, data, 1.0) - scores_at(fitted, data, 2.0)
    iw1 = scores_at(fitted, data, 1.0, n_importance_samples=4)
    iw3 = scores_at(fitted, data, 3.0, n_importance_samples=4)
    np.testing.assert_allclose(iw1 - iw3, 2 * kl, rtol=1e-5, atol=1e-6)


def test_score_is_the_plain_bound_whatever_the_weight(fitted, data):
    plain = scores_at(fitted, data, 1.0).mean()
    assert fitted.score_kl_weight != 1.0
    assert fitted.score(data) == pytest.approx(plain)


def test_the_threshold_is_fitted_on_the_weighted_scores(data):
    a = VAE(**QUICK, score_kl_weight=1.0, contamination=0.1).fit(data)
    b = VAE(**QUICK, score_kl_weight=6.0, contamination=0.1).fit(data)
    # Same training (the weight only enters scoring), different offsets, each
    # flagging its tenth of the training rows.
    np.testing.assert_array_equal(a.transform(data), b.transform(data))
    assert b.offset_ < a.offset_
    assert (a.predict(data) == -1).mean() == pytest.approx(0.1, abs=0.01)
    assert (b.predict(data) == -1).mean() == pytest.approx(0.1, abs=0.01)


def test_a_weight_below_one_is_rejected(data):
    with pytest.raises(ValueError, match="score_kl_weight"):
        VAE(**QUICK, score_kl_weight=0.5).fit(data)


def test_a_model_file_from_before_the_weight_scores_with_the_plain_bound(tmp_path, fitted, data):
    path = anovae.save(fitted, tmp_path / "m.anovae")
    old = rewrite(path, tmp_path / "old.anovae", meta=lambda meta: meta["params"].pop("score_kl_weight"))
    loaded = anovae.load(old)
    assert loaded.score_kl_weight == 1.0
    np.testing.assert_allclose(loaded.score_samples(data), scores_at(fitted, data, 1.0))
    assert anovae.load(path).score_kl_weight == fitted.score_kl_weight
