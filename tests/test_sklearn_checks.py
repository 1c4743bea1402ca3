"""scikit-learn's own API checks, run over both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from anovae import VAE, ConditionalVAE

# Small networks and few epochs: the checks test the API contract, not accuracy.
FAST = dict(max_epochs=20, hidden_layer_sizes=(16,), latent_dim=2, batch_size=32, random_state=0)

# The network computes in float32. A matrix product over a different number of rows
# may take a different BLAS kernel and round differently in the last bit, so a row's
# score can differ by about 1e-7 relative between a full batch and a subset or a
# reordering; these checks demand agreement to 1e-7. Scores are still exactly
# repeatable for the same input (tested in test_vae.py) and agree across batch
# compositions to about 1e-6 relative (test_scores_barely_depend_on_batch_composition).
_FLOAT32_BATCH = "float32 scores differ in the last bits between batch compositions (~1e-7 relative)"
EXPECTED_FAILURES = {
    "VAE": {
        "check_methods_subset_invariance": _FLOAT32_BATCH,
        "check_methods_sample_order_invariance": _FLOAT32_BATCH,
    },
    "ConditionalVAE": {"check_methods_subset_invariance": _FLOAT32_BATCH},
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [VAE(**FAST), ConditionalVAE(**FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_scores_barely_depend_on_batch_composition():
    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    vae = VAE(**FAST).fit(X)
    full = vae.score_samples(X)
    pieces = np.concatenate([vae.score_samples(X[i : i + 7]) for i in range(0, 300, 7)])
    np.testing.assert_allclose(pieces, full, rtol=1e-5)
    order = rng.permutation(300)
    np.testing.assert_allclose(vae.score_samples(X[order]), full[order], rtol=1e-5)
