"""Tests of the built-in threshold strategies (plugins/anovae_thresholds)."""

import importlib.util
import math
import sys
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import InvalidParameterError

from anovae.errors import DataError
from anovae.thresholds import available_thresholds, get_threshold_strategy
from anovae_thresholds import (
    STRATEGIES,
    ContaminationThreshold,
    F1Threshold,
    FPRThreshold,
    GaussianMixtureThreshold,
    IQRThreshold,
    MADThreshold,
    POTThreshold,
    PyThreshThreshold,
    ZScoreThreshold,
    register_thresholds,
)

EXPECTED = {
    "contamination": ContaminationThreshold,
    "zscore": ZScoreThreshold,
    "mad": MADThreshold,
    "iqr": IQRThreshold,
    "pot": POTThreshold,
    "gmm": GaussianMixtureThreshold,
    "fpr": FPRThreshold,
    "f1": F1Threshold,
}


def fit_quietly(strategy, scores, y=None):
    # Small-input fallbacks warn on purpose; these tests look at the result.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return strategy.fit(scores, y)


def labels_for(scores):
    # Labels for the supervised strategy: the top fifth (at least one) anomalous.
    y = (scores >= np.quantile(scores, 0.8)).astype(int)
    y[np.argmin(scores)] = 0
    return y


# --- registration and the estimator contract --------------------------------------


def test_every_builtin_strategy_is_registered_under_its_name():
    registered = available_thresholds()
    for name, cls in EXPECTED.items():
        assert registered[name] is cls
        assert isinstance(get_threshold_strategy(name), cls)
    assert STRATEGIES == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_strategy_describes_itself_in_one_line(name):
    cls = EXPECTED[name]
    assert cls.description and "\n" not in cls.description
    assert cls.supervised is (name == "f1")


def test_lookup_passes_parameters_to_the_strategy():
    strategy = get_threshold_strategy("pot", q=1e-4, level=0.9)
    assert strategy.get_params() == {"q": 1e-4, "level": 0.9}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_clone_gives_an_unfitted_copy_with_the_same_parameters(name):
    strategy = EXPECTED[name]()
    scores = np.random.default_rng(1).normal(size=200)
    fit_quietly(strategy, scores, labels_for(scores))
    copy = clone(strategy)
    assert copy.get_params() == strategy.get_params()
    assert not hasattr(copy, "threshold_")
    fit_quietly(copy, scores, labels_for(scores))
    assert copy.threshold_ == strategy.threshold_


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_five_scores_give_a_finite_cut(name):
    scores = np.array([0.3, 1.2, 0.7, 2.5, 0.9])
    strategy = fit_quietly(EXPECTED[name](), scores, np.array([0, 0, 0, 1, 0]))
    assert np.isfinite(strategy.threshold_)
    assert set(strategy.predict(scores)) <= {0, 1}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_repeated_score_gives_a_finite_cut(name):
    scores = np.full(12, 4.0)
    y = np.r_[np.zeros(11, dtype=int), 1]
    strategy = fit_quietly(EXPECTED[name](), scores, y)
    assert np.isfinite(strategy.threshold_)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores_raise_data_error(name, bad):
    scores = np.array([0.1, 0.5, bad, 0.3])
    with pytest.raises(DataError, match="NaN or infinite"):
        EXPECTED[name]().fit(scores, np.array([0, 1, 0, 1]))


@pytest.mark.parametrize(
    "strategy",
    [
        ContaminationThreshold(contamination=0.7),
        ContaminationThreshold(contamination=0.0),
        ZScoreThreshold(k=-1.0),
        MADThreshold(k="3"),
        IQRThreshold(k=-0.5),
        POTThreshold(q=0.0),
        POTThreshold(level=1.0),
        GaussianMixtureThreshold(random_state="seed"),
        FPRThreshold(target_fpr=1.5),
        PyThreshThreshold(method="no-such-method"),
    ],
    ids=repr,
)
def test_invalid_parameters_are_rejected_at_fit(strategy):
    with pytest.raises(InvalidParameterError, match="parameter of"):
        strategy.fit(np.arange(50.0))


# --- contamination, zscore, mad, iqr ----------------------------------------------


def test_contamination_flags_the_requested_fraction():
    scores = np.random.default_rng(2).gamma(2.0, size=1000)
    for contamination in (0.01, 0.1, 0.25):
        strategy = ContaminationThreshold(contamination=contamination)
        assert strategy.fit_predict(scores).sum() == round(contamination * 1000)


def test_contamination_cut_is_the_interpolated_quantile():
    strategy = ContaminationThreshold(contamination=0.25).fit(np.arange(1.0, 10.0))
    assert strategy.threshold_ == pytest.approx(7.0)  # 0.75 quantile of 1..9


@pytest.mark.parametrize("n", [5, 10, 101])
def test_zscore_on_one_to_n_is_mean_plus_k_population_std(n):
    scores = np.arange(1.0, n + 1)
    strategy = ZScoreThreshold(k=2.0).fit(scores)
    expected = (n + 1) / 2 + 2.0 * math.sqrt((n * n - 1) / 12)
    assert strategy.threshold_ == pytest.approx(expected)
    assert strategy.center_ == pytest.approx((n + 1) / 2)


def test_mad_cut_is_median_plus_k_scaled_mad():
    strategy = MADThreshold().fit([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, absolute deviations 2, 1, 0, 1, 97: MAD 1
    assert strategy.threshold_ == pytest.approx(3.0 + 3.5 * 1.4826)
    assert strategy.predict([100.0, 8.0]).tolist() == [1, 0]


def test_mad_of_zero_falls_back_to_mean_absolute_deviation():
    scores = np.r_[np.zeros(6), 10.0]
    strategy = MADThreshold(k=3.5).fit(scores)
    expected_scale = math.sqrt(math.pi / 2) * 10.0 / 7.0
    assert strategy.scale_ == pytest.approx(expected_scale)
    assert strategy.threshold_ == pytest.approx(3.5 * expected_scale)
    assert strategy.predict(scores).tolist() == [0] * 6 + [1]


def test_mad_ignores_a_far_outlier_that_zscore_absorbs():
    scores = np.r_[np.linspace(-1.0, 1.0, 19), 1000.0]
    assert MADThreshold().fit(scores).threshold_ < 5.0
    assert ZScoreThreshold().fit(scores).threshold_ > 100.0


@pytest.mark.parametrize("k, fence", [(1.5, 13.0), (3.0, 19.0), (0.0, 7.0)])
def test_iqr_cut_is_tukeys_upper_fence(k, fence):
    # Quartiles of 1..9 are 3 and 7, so the interquartile range is 4.
    strategy = IQRThreshold(k=k).fit(np.arange(1.0, 10.0))
    assert strategy.threshold_ == pytest.approx(fence)


# --- pot --------------------------------------------------------------------------


def test_pot_recovers_an_exponential_tail_quantile():
    scores = np.random.default_rng(3).exponential(size=20_000)
    strategy = POTThreshold(q=1e-3, level=0.98).fit(scores)
    assert strategy.n_peaks_ == 400
    assert abs(strategy.gpd_shape_) < 0.15  # an exponential tail has shape 0
    assert strategy.threshold_ == pytest.approx(math.log(1e3), rel=0.05)


def test_pot_extrapolates_a_pareto_tail_beyond_the_data():
    # Pareto with index 3: P(X > x) = x**-3, so the 1 - 1e-4 quantile is 10**(4/3),
    # above what 20,000 samples usually reach.
    scores = np.random.default_rng(4).pareto(3.0, size=20_000) + 1.0
    strategy = POTThreshold(q=1e-4, level=0.98).fit(scores)
    assert strategy.gpd_shape_ == pytest.approx(1 / 3, abs=0.15)
    assert strategy.threshold_ == pytest.approx(10 ** (4 / 3), rel=0.25)


def test_pot_cut_follows_the_siffer_formula():
    scores = np.random.default_rng(5).lognormal(size=5_000)
    strategy = POTThreshold(q=1e-3, level=0.95).fit(scores)
    t = strategy.initial_threshold_
    gamma, sigma = strategy.gpd_shape_, strategy.gpd_scale_
    ratio = 1e-3 * 5_000 / strategy.n_peaks_
    assert strategy.initial_threshold_ == pytest.approx(np.quantile(scores, 0.95))
    assert strategy.threshold_ == pytest.approx(t + sigma / gamma * (ratio**-gamma - 1))


def test_pot_uses_the_exponential_limit_when_the_shape_is_zero(monkeypatch):
    import anovae_thresholds._pot as pot

    monkeypatch.setattr(pot, "fit_gpd", lambda excesses: (0.0, 2.0))
    scores = np.arange(1000.0)
    strategy = POTThreshold(q=1e-3, level=0.9).fit(scores)
    # t = 899.1 and 100 peaks: z = t - sigma * log(q * n / N_t) = t + 2 log(100).
    assert strategy.threshold_ == pytest.approx(899.1 + 2.0 * math.log(100.0))


def test_pot_with_too_few_peaks_warns_and_uses_the_maximum():
    scores = np.random.default_rng(6).normal(size=20)
    with pytest.warns(UserWarning, match="needs 10"):
        strategy = POTThreshold().fit(scores)
    assert strategy.threshold_ == scores.max()
    assert strategy.predict(scores).sum() == 0
    assert np.isnan(strategy.gpd_shape_)


def test_pot_with_q_above_the_peak_fraction_uses_the_empirical_quantile():
    scores = np.random.default_rng(7).normal(size=1000)
    strategy = POTThreshold(q=0.1, level=0.98).fit(scores)
    assert strategy.threshold_ == np.quantile(scores, 0.9, method="higher")
    assert np.isnan(strategy.gpd_shape_)


# --- gmm --------------------------------------------------------------------------


def bimodal(seed=8):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0.0, 1.0, 900), rng.normal(8.0, 1.0, 100)]


def test_gmm_cuts_at_the_boundary_between_two_modes():
    scores = bimodal()
    strategy = GaussianMixtureThreshold(random_state=0).fit(scores)
    # Equal variances: 0.9 N(0, 1) and 0.1 N(8, 1) cross at x = 4 + log(9) / 8.
    assert strategy.threshold_ == pytest.approx(4 + math.log(9) / 8, abs=0.4)
    flagged = strategy.predict(scores)
    assert flagged[900:].mean() > 0.97 and flagged[:900].mean() < 0.01


def test_gmm_cut_is_where_the_upper_posterior_reaches_one_half():
    rng = np.random.default_rng(12)
    scores = np.r_[rng.normal(0.0, 1.0, 950), rng.normal(6.0, 0.5, 50)]
    cut = GaussianMixtureThreshold(random_state=0).fit(scores).threshold_
    mixture = GaussianMixture(n_components=2, random_state=0).fit(scores.reshape(-1, 1))
    upper = np.argmax(mixture.means_.ravel())
    posterior = mixture.predict_proba([[cut - 0.05], [cut], [cut + 0.05]])[:, upper]
    assert posterior[0] < 0.5 < posterior[2]
    assert posterior[1] == pytest.approx(0.5, abs=0.02)


def test_gmm_is_reproducible_and_scale_free():
    scores = bimodal()
    first = GaussianMixtureThreshold(random_state=0).fit(scores).threshold_
    again = GaussianMixtureThreshold(random_state=0).fit(scores).threshold_
    scaled = GaussianMixtureThreshold(random_state=0).fit(scores * 1e-4).threshold_
    assert first == again
    assert scaled == pytest.approx(first * 1e-4, rel=1e-6)


def test_gmm_on_equal_scores_flags_nothing():
    strategy = GaussianMixtureThreshold().fit(np.full(10, 2.0))
    assert strategy.threshold_ == 2.0
    assert strategy.predict(np.full(10, 2.0)).sum() == 0


# --- fpr --------------------------------------------------------------------------


def test_fpr_cut_and_pvalues_by_hand():
    strategy = FPRThreshold(target_fpr=0.2).fit(np.arange(10.0, 0.0, -1.0))
    # ceil(11 * 0.8) = 9: the ninth smallest of 1..10.
    assert strategy.threshold_ == 9.0
    assert strategy.calibration_scores_.tolist() == list(np.arange(1.0, 11.0))
    pvalues = strategy.pvalues([0.0, 9.0, 9.5, 11.0])
    np.testing.assert_allclose(pvalues, np.array([11, 3, 2, 1]) / 11)


def test_fpr_holds_its_false_positive_rate_on_fresh_normal_scores():
    rng = np.random.default_rng(9)
    strategy = FPRThreshold(target_fpr=0.05).fit(rng.normal(size=2000))
    fresh = rng.normal(size=50_000)
    assert strategy.predict(fresh).mean() == pytest.approx(0.05, abs=0.01)

    pvalues = strategy.pvalues(fresh)
    assert pvalues.min() > 0.0 and pvalues.max() <= 1.0
    assert stats.kstest(pvalues, "uniform").statistic < 0.02
    assert np.mean(pvalues <= 0.1) == pytest.approx(0.1, abs=0.01)


def test_fpr_flags_exactly_the_scores_with_small_pvalues():
    rng = np.random.default_rng(10)
    strategy = FPRThreshold(target_fpr=0.05).fit(rng.normal(size=500))
    new = rng.normal(size=5000) * 1.5
    flagged = strategy.predict(new) == 1
    assert flagged.any()
    np.testing.assert_array_equal(flagged, strategy.pvalues(new) <= 0.05)


def test_fpr_with_too_few_calibration_scores_warns_and_uses_the_maximum():
    scores = np.array([0.2, 0.9, 0.4, 0.1, 0.6])
    with pytest.warns(UserWarning, match="needs at least 99"):
        strategy = FPRThreshold(target_fpr=0.01).fit(scores)
    assert strategy.threshold_ == 0.9


def test_fpr_pvalues_need_a_fit_and_finite_scores():
    with pytest.raises(NotFittedError):
        FPRThreshold().pvalues([1.0])
    strategy = FPRThreshold(target_fpr=0.5).fit(np.arange(10.0))
    with pytest.raises(DataError, match="NaN or infinite"):
        strategy.pvalues([1.0, np.nan])


# --- f1 ---------------------------------------------------------------------------


def test_f1_picks_the_perfect_cut_on_separable_scores():
    rng = np.random.default_rng(11)
    scores = np.r_[rng.uniform(0, 1, 80), rng.uniform(2, 3, 20)]
    y = np.r_[np.zeros(80, dtype=int), np.ones(20, dtype=int)]
    strategy = F1Threshold().fit(scores, y)
    assert strategy.threshold_ == scores[:80].max()
    assert strategy.f1_ == 1.0
    np.testing.assert_array_equal(strategy.predict(scores), y)


def test_f1_cut_by_hand_on_overlapping_scores():
    # Cuts above 2 (TP 3, FP 1) give F1 = 6/7, the best of all cuts.
    strategy = F1Threshold().fit([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    assert strategy.threshold_ == 2.0
    assert strategy.f1_ == pytest.approx(6 / 7)


def test_f1_prefers_the_higher_of_two_equally_good_cuts():
    # Flagging all four (TP 2, FP 2) and flagging only 4 (TP 1, FP 0) both give 2/3.
    strategy = F1Threshold().fit([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 1])
    assert strategy.threshold_ == 3.0
    assert strategy.f1_ == pytest.approx(2 / 3)


def test_f1_can_flag_every_score():
    strategy = F1Threshold().fit([1.0, 1.0, 1.0], [1, 0, 1])
    assert strategy.threshold_ < 1.0
    assert strategy.predict([1.0]).tolist() == [1]


@pytest.mark.parametrize(
    "y", [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 2, 1], ["a", "b", "a", "b"]]
)
def test_f1_needs_labels_with_exactly_the_classes_0_and_1(y):
    with pytest.raises(DataError, match="both classes"):
        F1Threshold().fit([0.1, 0.2, 0.3, 0.4], y)


def test_f1_without_labels_raises_data_error():
    with pytest.raises(DataError, match="needs labels"):
        get_threshold_strategy("f1").fit([0.1, 0.2, 0.3])


# --- optional PyThresh bridge -----------------------------------------------------

FAKE_IQR = """
import numpy as np

class IQR:
    def eval(self, decision):
        decision = np.asarray(decision)
        return (decision > np.quantile(decision, 0.8)).astype(int)
"""

FAKE_ALL_OUTLIERS = """
import numpy as np

class MAD:
    def eval(self, decision):
        return np.ones(len(decision), dtype=int)
"""


@pytest.fixture
def fake_pythresh(tmp_path, monkeypatch):
    """A stand-in PyThresh with only ``iqr`` and ``mad``, importable for one test."""
    package = tmp_path / "pythresh" / "thresholds"
    package.mkdir(parents=True)
    (tmp_path / "pythresh" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "iqr.py").write_text(FAKE_IQR)
    (package / "mad.py").write_text(FAKE_ALL_OUTLIERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [name for name in sys.modules if name.split(".")[0] == "pythresh"]:
        del sys.modules[name]


def collect_registrations():
    found = {}
    register_thresholds(lambda name, factory: found.setdefault(name, factory))
    return found


def test_nothing_from_pythresh_is_registered_without_it():
    if importlib.util.find_spec("pythresh") is not None:
        pytest.skip("PyThresh is installed here")
    assert not any(name.startswith("pythresh:") for name in collect_registrations())


def test_pythresh_methods_are_registered_and_cut_at_the_top_normal_score(fake_pythresh):
    found = collect_registrations()
    assert sorted(n for n in found if n.startswith("pythresh:")) == [
        "pythresh:iqr",
        "pythresh:mad",
    ]
    assert found["pythresh:iqr"].description

    scores = np.arange(10.0)
    strategy = found["pythresh:iqr"]()
    strategy.fit(scores)
    assert strategy.threshold_ == 7.0  # the fake flags 8 and 9
    assert strategy.predict([7.0, 7.5]).tolist() == [0, 1]
    assert clone(strategy).get_params() == {"method": "iqr"}


def test_pythresh_labelling_everything_an_outlier_flags_everything(fake_pythresh):
    strategy = PyThreshThreshold(method="mad").fit([1.0, 2.0, 3.0])
    assert strategy.predict([1.0, 2.0, 3.0]).tolist() == [1, 1, 1]
