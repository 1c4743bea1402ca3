"""ConditionalVAE: the ID-CVAE generative classifier."""

import numpy as np
import pandas as pd
import pytest

from anovae import ConditionalVAE

FAST = dict(max_epochs=40, hidden_layer_sizes=(32,), latent_dim=2, random_state=0)


def three_classes(n=150, seed=0):
    rng = np.random.RandomState(seed)
    centers = {"normal": (0, 0, 0, 0), "dos": (4, 0, 4, 0), "probe": (0, 4, 0, 4)}
    X = np.vstack([rng.normal(c, 1.0, size=(n, 4)) for c in centers.values()])
    y = np.repeat(list(centers), n)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = three_classes()
    return ConditionalVAE(**FAST).fit(X, y), X, y


def test_classifies_by_best_reconstructing_label(fitted):
    cvae, X, y = fitted
    assert list(cvae.classes_) == ["dos", "normal", "probe"]
    X_test, y_test = three_classes(50, seed=1)
    assert (cvae.predict(X_test) == y_test).mean() > 0.9


def test_predict_proba_is_a_distribution_consistent_with_predict(fitted):
    cvae, X, _ = fitted
    proba = cvae.predict_proba(X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(cvae.classes_[proba.argmax(axis=1)], cvae.predict(X[:20]))
    bounds = cvae.class_log_likelihoods(X[:20])
    expected = cvae.classes_[np.argmax(bounds + cvae.class_log_prior_, axis=1)]
    np.testing.assert_array_equal(expected, cvae.predict(X[:20]))


def test_conditional_and_marginal_scores(fitted):
    cvae, X, y = fitted
    right = cvae.score_samples(X[:10], y[:10])
    wrong = cvae.score_samples(X[:10], np.full(10, "probe"))
    assert (right > wrong).mean() >= 0.9
    marginal = cvae.score_samples(X[:10])
    # log sum_c p(c) p(x|c) >= log p(c*) + log p(x|c*) for the true class; equal to
    # float32 rounding when the true class dominates the sum.
    prior = dict(zip(cvae.classes_, cvae.class_log_prior_))
    assert (marginal >= right + np.array([prior[c] for c in y[:10]]) - 1e-4).all()
    far = np.full((5, 4), 15.0)
    assert cvae.score_samples(far).max() < marginal.min()


def test_labels_go_into_the_decoder_only_by_default(fitted):
    cvae, X, _ = fitted
    assert cvae.module_.encoder[0].in_features == 4
    assert cvae.module_.decoder[0].in_features == cvae.latent_dim + 3


def test_condition_encoder_variant():
    X, y = three_classes(80)
    cvae = ConditionalVAE(**FAST, condition_encoder=True).fit(X, y)
    assert cvae.module_.encoder[0].in_features == 4 + 3
    assert (cvae.predict(X) == y).mean() > 0.85
    assert cvae.transform(X[:5]).shape == (5, 2)
    assert cvae.transform(X[:5], y[:5]).shape == (5, 2)


def test_uniform_prior_is_pure_best_reconstruction():
    X, y = three_classes(60)
    X, y = X[:100], y[:100]  # imbalanced: 60 normal/dos... prior matters
    cvae = ConditionalVAE(**FAST, class_prior="uniform").fit(X, y)
    np.testing.assert_allclose(cvae.class_log_prior_, np.log(0.5))
    np.testing.assert_array_equal(cvae.predict(X), cvae.classes_[cvae.class_log_likelihoods(X).argmax(axis=1)])


def test_sample_generates_rows_of_a_requested_class(fitted):
    cvae, X, y = fitted
    rows, labels = cvae.sample(200, y="dos", random_state=0)
    assert rows.shape == (200, 4) and set(labels) == {"dos"}
    # With decoder-only conditioning z still carries some class information, so
    # samples are a blend; they must sit nearest the requested class.
    distances = {c: np.linalg.norm(rows.mean(axis=0) - X[y == c].mean(axis=0)) for c in cvae.classes_}
    assert min(distances, key=distances.get) == "dos"


def test_dataframe_with_a_categorical_feature():
    rng = np.random.RandomState(0)
    y = rng.choice(["a", "b"], 300)
    frame = pd.DataFrame(
        {
            "value": np.where(y == "a", 0.0, 3.0) + rng.normal(size=300),
            "proto": np.where(y == "a", "tcp", "udp"),
        }
    )
    cvae = ConditionalVAE(**FAST).fit(frame, y)
    assert (cvae.predict(frame) == y).mean() > 0.95
    cells = cvae.feature_scores(frame.head(3), y[:3])
    assert cells.shape == (3, 2)


def test_errors_name_the_problem(fitted):
    cvae, X, y = fitted
    with pytest.raises(ValueError, match="requires y"):
        ConditionalVAE().fit(X, None)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ConditionalVAE(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="unknown class label 'u2r'"):
        cvae.score_samples(X[:2], ["normal", "u2r"])
    with pytest.raises(ValueError, match="missing labels"):
        ConditionalVAE(**FAST).fit(X[:3], np.array(["a", None, "b"], dtype=object))
    with pytest.raises(ValueError, match="rows but y has"):
        ConditionalVAE(**FAST).fit(X, y[:-1])


def test_feature_names_out_and_pandas_output():
    import numpy as np

    from anovae import ConditionalVAE

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] > 0).astype(int)
    cvae = ConditionalVAE(max_steps=30, latent_dim=3, random_state=0).fit(X, y)
    names = cvae.get_feature_names_out()
    assert list(names) == ["conditionalvae0", "conditionalvae1", "conditionalvae2"]
    out = cvae.set_output(transform="pandas").transform(X)
    assert list(out.columns) == list(names) and out.shape == (120, 3)
