"""scikit-learn's own API checks, run over both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from anovae import VAE, ConditionalVAE

# Small networks and few epochs: the checks test the API contract, not accuracy.
FAST = dict(max_epochs=20, hidden_layer_sizes=(16,), latent_dim=2, batch_size=32, random_state=0)

EXPECTED_FAILURES = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [VAE(**FAST), ConditionalVAE(**FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
