"""The imputation plugin (plugins/anovae_imputation): VAEImputer, CVAEImputer, `anovae impute`."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import anovae_imputation
from anovae import VAE, ConditionalVAE
from anovae._plugins import get_plugin_manager, lookup, registrations
from anovae_imputation import CVAEImputer, MixedImputer, VAEImputer
from anovae_imputation._cvae_imputer import default_estimator as default_cvae_estimator
from anovae_imputation._vae_imputer import default_estimator
from conftest import requires_data

# Small models trained for a fixed number of epochs: a few hundred optimizer steps
# are enough for data this simple, and without a validation split the run is short
# and its length predictable.
FAST = {"batch_size": 50, "early_stopping": False}


def fast_vae(max_epochs=60):
    # VAEImputer's default model, trained for a fixed number of epochs.
    return default_estimator(max_epochs=max_epochs, **FAST)


def fast_cvae(max_epochs=40, **params):
    return ConditionalVAE(**{**FAST, "max_epochs": max_epochs, **params})


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Networks this small train several times faster on one thread of a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def correlated(n=600, seed=0):
    """Five numeric columns driven by two latent factors, and a category set by them."""
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(n, 2))
    weights = np.array([[1.0, 0.5, -1.0, 2.0, 0.0], [0.0, 1.0, 1.0, -0.5, 1.5]])
    X = factors @ weights + 0.1 * rng.normal(size=(n, 5))
    side = np.where(factors[:, 0] > 0, "east", "west")
    return X, side


def hide(X, rate, seed=1):
    mask = np.random.RandomState(seed).rand(*X.shape) < rate
    X_missing = np.array(X, dtype=np.float64, copy=True)
    X_missing[mask] = np.nan
    return X_missing, mask


@pytest.fixture(scope="module")
def numeric():
    """Five correlated numeric columns and a 0/1 one, a fifth of the cells hidden."""
    X, side = correlated()
    X = np.column_stack([X, (side == "east").astype(float)])
    X_missing, mask = hide(X, 0.2)
    imputer = VAEImputer(estimator=fast_vae(), random_state=0).fit(X_missing)
    return X, X_missing, mask, imputer


@pytest.fixture(scope="module")
def mixed():
    """A DataFrame with string, categorical and numeric columns, some cells missing."""
    X, side = correlated()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"], index=np.arange(600) * 7 + 3)
    frame["side"] = pd.Series(side, index=frame.index, dtype="str")
    frame["size"] = pd.Categorical(np.where(X[:, 1] > 0, "big", "small"))
    rng = np.random.RandomState(2)
    hidden = rng.rand(600) < 0.25
    frame.loc[hidden, "side"] = None
    frame.loc[rng.rand(600) < 0.2, "size"] = None
    frame.loc[rng.rand(600) < 0.2, "b"] = np.nan
    # Values a float32 or re-decoded round trip would change, and untidy strings.
    frame["big"] = X[:, 2] * 1e12 + 1 / 3
    frame["name"] = pd.Series([f" row {i}\t" for i in range(600)], index=frame.index, dtype=object)
    frame.loc[frame.index[::9], "name"] = None
    frame.loc[frame.index[1::9], "big"] = np.nan
    return frame, side, hidden


@pytest.fixture(scope="module")
def mixed_fit(mixed):
    frame, _, _ = mixed
    before = frame.copy()
    imputer = VAEImputer(estimator=fast_vae(30), random_state=0)
    filled = imputer.fit_transform(frame)
    pd.testing.assert_frame_equal(frame, before)  # the input is never modified
    return imputer, filled


def rmse(filled, X, mask):
    return float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2)))


# --- VAEImputer: what it fills -----------------------------------------------------------


def test_numeric_imputation_beats_the_column_mean(numeric):
    X, X_missing, mask, imputer = numeric
    filled = imputer.transform(X_missing)
    means = np.where(mask, np.nanmean(X_missing, axis=0), X_missing)
    assert not np.isnan(filled).any()
    numeric = mask.copy()
    numeric[:, 5] = False
    assert rmse(filled, X, numeric) < 0.6 * rmse(means, X, numeric)


def test_observed_cells_of_an_array_come_back_exactly(numeric):
    _, X_missing, mask, imputer = numeric
    filled = imputer.transform(X_missing)
    # Bitwise equality, not closeness: observed cells are copied, never re-decoded.
    assert np.array_equal(filled[~mask], X_missing[~mask])
    assert filled is not X_missing and np.isnan(X_missing[mask]).all()


def test_observed_cells_of_a_frame_come_back_exactly(mixed, mixed_fit):
    frame, _, _ = mixed
    _, filled = mixed_fit
    assert list(filled.columns) == list(frame.columns)
    assert filled.index.equals(frame.index)
    assert filled.isna().sum().sum() == 0
    for column in frame.columns:
        observed = frame[column].notna()
        assert (filled[column][observed] == frame[column][observed]).all(), column
        assert filled[column].dtype == frame[column].dtype, column


def test_categorical_cells_get_the_most_probable_category(mixed, mixed_fit):
    frame, side, hidden = mixed
    _, filled = mixed_fit
    accuracy = (filled["side"][hidden].to_numpy() == side[hidden]).mean()
    majority = pd.Series(side[~hidden]).value_counts().index[0]
    assert accuracy > (side[hidden] == majority).mean() + 0.15
    assert set(filled["side"]) == {"east", "west"}
    assert set(filled["size"].cat.categories) == {"big", "small"}


def test_binary_columns_are_filled_with_zero_or_one(numeric):
    X, X_missing, mask, imputer = numeric
    filled = imputer.transform(X_missing)
    assert set(np.unique(filled[:, 5])) == {0.0, 1.0}
    assert (filled[mask[:, 5], 5] == X[mask[:, 5], 5]).mean() > 0.75


def test_two_valued_columns_are_filled_with_expectations_between_their_values():
    # The 0/1 column of ``numeric`` coded 1/2, as a survey or a log might code it: a
    # Bernoulli column in the model, filled like any other number (only 0/1 columns
    # keep 0 or 1).
    X, side = correlated()
    X = np.column_stack([X, np.where(side == "east", 2.0, 1.0)])
    X_missing, mask = hide(X, 0.2)
    imputer = VAEImputer(estimator=fast_vae(), random_state=0).fit(X_missing)
    assert imputer.estimator_.feature_kinds_["x5"] == "bernoulli"
    filled = imputer.transform(X_missing)[mask[:, 5], 5]
    truth = X[mask[:, 5], 5]
    assert ((filled >= 1.0) & (filled <= 2.0)).all() and np.unique(filled).size > 2
    column_mean = np.nanmean(X_missing[:, 5])
    assert np.sqrt(np.mean((filled - truth) ** 2)) < 0.8 * np.sqrt(np.mean((column_mean - truth) ** 2))


def test_nullable_integer_and_boolean_columns_keep_their_dtype():
    X, _ = correlated(300)
    frame = pd.DataFrame(
        {
            "count": pd.array(np.rint(10 + 3 * X[:, 0]).astype(int), dtype="Int64"),
            "flag": pd.array(X[:, 0] > 0, dtype="boolean"),
            "x": X[:, 0],
            "y": X[:, 3],
        }
    )
    frame.loc[::5, "count"] = pd.NA
    frame.loc[1::5, "flag"] = pd.NA
    filled = VAEImputer(estimator=fast_vae(5), random_state=0).fit_transform(frame)
    assert filled["count"].dtype == "Int64" and filled["flag"].dtype == "boolean"
    assert filled.isna().sum().sum() == 0


def test_columns_limits_what_is_filled(mixed):
    frame, _, _ = mixed
    imputer = VAEImputer(estimator=fast_vae(5), columns=["side", 1], random_state=0)
    filled = imputer.fit_transform(frame)
    assert filled["side"].notna().all() and filled["b"].notna().all()
    assert filled["size"].isna().sum() == frame["size"].isna().sum()


def test_a_table_without_missing_cells_comes_back_unchanged(numeric):
    X, _, _, imputer = numeric
    filled = imputer.transform(X)
    assert np.array_equal(filled, X)


def test_chunking_does_not_change_the_result(numeric, monkeypatch):
    _, X_missing, _, imputer = numeric
    whole = imputer.transform(X_missing)
    # Force chunks of a few rows: each row's estimate must not depend on its neighbours.
    monkeypatch.setattr("anovae._scoring._CHUNK_ELEMENTS", 100 * 40 * 7)
    monkeypatch.setattr("anovae._scoring._CPU_CHUNK_ELEMENTS", 100 * 40 * 7)
    assert imputer.estimator_._chunk_rows(100) < 10
    np.testing.assert_allclose(imputer.transform(X_missing), whole, rtol=1e-6, atol=1e-6)


def test_importance_weighting_improves_on_a_single_posterior_draw(numeric):
    X, X_missing, mask, imputer = numeric
    single = copy.deepcopy(imputer).set_params(n_importance_samples=1)
    assert rmse(imputer.transform(X_missing), X, mask) < rmse(single.transform(X_missing), X, mask)


# --- VAEImputer: multiple imputation and determinism -----------------------------------


def test_sample_imputations_draws_distinct_completed_tables(numeric):
    X, X_missing, mask, imputer = numeric
    draws = imputer.sample_imputations(X_missing, n_imputations=4, random_state=0)
    assert len(draws) == 4
    for draw in draws:
        assert np.array_equal(draw[~mask], X_missing[~mask])
        assert not np.isnan(draw).any()
    assert not np.array_equal(draws[0][mask], draws[1][mask])
    # Draws scatter around the conditional mean: their average is closer to the truth
    # than any one of them.
    pooled = np.mean(draws, axis=0)
    assert rmse(pooled, X, mask) < min(rmse(d, X, mask) for d in draws)
    again = imputer.sample_imputations(X_missing, n_imputations=4, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again))


def test_sample_imputations_of_a_frame_draws_categories(mixed, mixed_fit):
    frame, _, hidden = mixed
    imputer, _ = mixed_fit
    draws = imputer.sample_imputations(frame, n_imputations=3, random_state=1)
    assert all(isinstance(d, pd.DataFrame) and d.isna().sum().sum() == 0 for d in draws)
    assert set(draws[0]["side"][hidden]) <= {"east", "west"}


def test_sample_posterior_makes_transform_one_repeatable_draw(numeric):
    _, X_missing, mask, imputer = numeric
    sampler = copy.deepcopy(imputer).set_params(sample_posterior=True)
    first = sampler.transform(X_missing)
    assert np.array_equal(first, sampler.transform(X_missing))
    assert not np.allclose(first[mask], imputer.transform(X_missing)[mask])
    assert np.array_equal(first[~mask], X_missing[~mask])


def test_same_random_state_same_imputation(numeric):
    _, X_missing, _, imputer = numeric
    assert np.array_equal(imputer.transform(X_missing), imputer.transform(X_missing))
    short = VAEImputer(estimator=fast_vae(3), random_state=0)
    first = short.fit_transform(X_missing)
    assert np.array_equal(clone(short).fit_transform(X_missing), first)
    other = short.set_params(random_state=1).fit_transform(X_missing)
    assert not np.array_equal(other, first)


def test_random_state_overrides_the_estimators_seed_only_when_given():
    model = VAE(random_state=5, max_epochs=1, contamination=0.1)
    X, _ = correlated(100)
    assert VAEImputer(estimator=model).fit(X).estimator_.random_state == 5
    assert VAEImputer(estimator=model, random_state=0).fit(X).estimator_.random_state != 5
    assert model.random_state == 5 and not hasattr(model, "module_")  # never touched


def test_several_models_average_their_expectations(mixed):
    frame, _, _ = mixed
    imputer = VAEImputer(estimator=fast_vae(5), n_estimators=2, random_state=0).fit(frame)
    assert len(imputer.estimators_) == 2 and imputer.estimator_ is imputer.estimators_[0]
    assert imputer.estimators_[0].random_state != imputer.estimators_[1].random_state
    together = imputer.transform(frame)
    alone = []
    for model in imputer.estimators_:
        single = copy.deepcopy(imputer)
        single.estimators_, single.estimator_ = [model], model
        alone.append(single.transform(frame))
    hidden = frame["b"].isna()
    assert not np.allclose(alone[0]["b"][hidden], alone[1]["b"][hidden])
    np.testing.assert_allclose(together["b"][hidden], (alone[0]["b"][hidden] + alone[1]["b"][hidden]) / 2)
    assert together["side"].notna().all() and set(together["side"]) <= {"east", "west"}
    draws = imputer.sample_imputations(frame, n_imputations=3, random_state=0)
    again = imputer.sample_imputations(frame, n_imputations=3, random_state=0)
    assert all(d.isna().sum().sum() == 0 for d in draws)
    assert all(a.equals(b) for a, b in zip(draws, again))


def test_a_given_seed_fixes_the_first_model_and_the_others_differ():
    model = VAE(random_state=5, max_epochs=1, contamination=0.1)
    X, _ = correlated(100)
    seeds = [m.random_state for m in VAEImputer(estimator=model, n_estimators=3).fit(X).estimators_]
    assert seeds[0] == 5 and len(set(seeds)) == 3


# --- VAEImputer: the scikit-learn contract ------------------------------------------------


def test_works_in_a_pipeline_with_pandas_output(numeric):
    X, X_missing, _, _ = numeric
    frame = pd.DataFrame(X_missing[:, :5], columns=[f"f{i}" for i in range(5)])
    pipeline = make_pipeline(
        VAEImputer(estimator=fast_vae(10), random_state=0), LinearRegression()
    ).set_output(transform="pandas")
    pipeline.fit(frame.iloc[:, :4], X[:, 4])
    assert pipeline.score(frame.iloc[:, :4], X[:, 4]) > 0.5

    imputer = VAEImputer(estimator=fast_vae(5), random_state=0).set_output(transform="pandas")
    out = imputer.fit_transform(X_missing)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["x0", "x1", "x2", "x3", "x4", "x5"]
    assert list(imputer.get_feature_names_out()) == list(out.columns)
    named = imputer.fit(frame).transform(frame)
    assert list(named.columns) == list(frame.columns)


@parametrize_with_checks(
    [VAEImputer(estimator=VAE(max_epochs=2, contamination=0.1), n_importance_samples=5, random_state=0)]
)
def test_vae_imputer_follows_the_sklearn_contract(estimator, check):
    # CVAEImputer is left out: the checks feed continuous arrays, which have no
    # categorical column for it to recover.
    check(estimator)


def test_get_params_reaches_the_inner_model():
    imputer = VAEImputer(estimator=VAE(latent_dim=3))
    assert imputer.get_params()["estimator__latent_dim"] == 3
    imputer.set_params(estimator__latent_dim=4)
    assert imputer.estimator.latent_dim == 4


def test_unfitted_imputer_raises():
    with pytest.raises(NotFittedError):
        VAEImputer().transform(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        VAEImputer().sample_imputations(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        CVAEImputer().transform(np.zeros((2, 2)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"estimator": ConditionalVAE()}, "'estimator' parameter of VAEImputer must be"),
        ({"n_importance_samples": 0}, "'n_importance_samples' parameter"),
        ({"sample_posterior": "yes"}, "'sample_posterior' parameter"),
    ],
)
def test_invalid_parameters_are_rejected_in_fit(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        VAEImputer(**params).fit(np.zeros((4, 2)))


def test_unknown_column_is_rejected():
    X, _ = correlated(50)
    with pytest.raises(ValueError, match=r"column 'nope' is not in the data; its columns are x0, x1"):
        VAEImputer(columns=["nope"]).fit(X)
    with pytest.raises(ValueError, match="column position 9 is out of range for 5 columns"):
        VAEImputer(columns=[9]).fit(X)


def test_duplicate_frame_columns_are_rejected():
    frame = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(ValueError, match="column 'a' appears more than once"):
        VAEImputer().fit(frame)


def test_wrong_number_of_columns_at_transform(numeric):
    _, X_missing, _, imputer = numeric
    with pytest.raises(ValueError, match="X has 5 features, but VAEImputer is expecting 6"):
        imputer.transform(X_missing[:, :5])


def test_bad_n_imputations_is_rejected(numeric):
    _, X_missing, _, imputer = numeric
    with pytest.raises(ValueError, match="n_imputations must be a positive integer, got 0"):
        imputer.sample_imputations(X_missing, n_imputations=0)


# --- CVAEImputer (ID-CVAE feature recovery) ------------------------------------------------


@pytest.fixture(scope="module")
def recovered(mixed):
    frame, _, _ = mixed
    imputer = CVAEImputer(estimator=fast_cvae(), columns=["side"], random_state=0).fit(frame)
    return imputer, imputer.transform(frame)


def test_cvae_recovery_beats_the_most_frequent_category(mixed, recovered):
    frame, side, hidden = mixed
    _, filled = recovered
    accuracy = (filled["side"][hidden].to_numpy() == side[hidden]).mean()
    majority = frame["side"].mode()[0]
    assert accuracy > 0.85 > (side[hidden] == majority).mean() + 0.2


def test_cvae_fills_only_its_targets_and_keeps_observed_cells(mixed, recovered):
    frame, _, _ = mixed
    imputer, filled = recovered
    assert filled["side"].notna().all()
    assert filled["b"].isna().sum() == frame["b"].isna().sum()
    assert filled["size"].isna().sum() == frame["size"].isna().sum()
    for column in frame.columns:
        observed = frame[column].notna()
        assert (filled[column][observed] == frame[column][observed]).all()
    assert list(imputer.estimators_) == ["side"]
    assert list(imputer.estimators_["side"].classes_) == ["east", "west"]
    assert list(imputer.get_feature_names_out()) == list(frame.columns)


def test_cvae_class_log_posterior_is_normalized_and_decides_the_fill(mixed, recovered):
    frame, _, hidden = mixed
    imputer, filled = recovered
    log_posterior = imputer.class_log_posterior(frame, "side")
    assert list(log_posterior.columns) == ["east", "west"]
    np.testing.assert_allclose(np.exp(log_posterior).sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        filled["side"][hidden].to_numpy(), log_posterior[hidden].idxmax(axis=1).to_numpy()
    )
    with pytest.raises(ValueError, match="'size' is not one this imputer recovers"):
        imputer.class_log_posterior(frame, "size")


def test_cvae_targets_default_to_the_non_numeric_columns(mixed):
    frame = mixed[0].drop(columns="name")
    imputer = CVAEImputer(estimator=fast_cvae(2), random_state=0).fit(frame)
    assert list(imputer.estimators_) == ["side", "size"]
    filled = imputer.transform(frame)
    assert filled[["side", "size"]].notna().all().all()
    assert isinstance(filled["size"].dtype, pd.CategoricalDtype)


def test_cvae_recovers_integer_coded_columns_of_an_array():
    X, side = correlated(300)
    X = np.column_stack([X, (side == "east").astype(float) * 2 + 1])  # codes 1 and 3
    X_missing = X.copy()
    X_missing[::4, 5] = np.nan
    filled = CVAEImputer(estimator=fast_cvae(), columns=[5], random_state=0).fit_transform(X_missing)
    assert set(np.unique(filled[:, 5])) <= {1.0, 3.0}
    assert (filled[::4, 5] == X[::4, 5]).mean() > 0.85


def test_cvae_same_random_state_same_recovery(mixed, recovered):
    frame, _, _ = mixed
    imputer, filled = recovered
    pd.testing.assert_frame_equal(clone(imputer).fit_transform(frame), filled)


def test_cvae_without_a_target_column_is_an_error():
    X, _ = correlated(50)
    with pytest.raises(ValueError, match=r"no column to recover: X has no non-numeric column; name the target"):
        CVAEImputer().fit(X)
    with pytest.raises(ValueError, match="at least one column besides the target"):
        CVAEImputer().fit(pd.DataFrame({"only": ["a", "b"]}))


def test_cvae_refuses_a_continuous_or_constant_target():
    X, _ = correlated(50)
    with pytest.raises(ValueError, match=r"cannot learn to recover column 'x0': Unknown label type"):
        CVAEImputer(columns=[0], estimator=fast_cvae(1)).fit(X)
    frame = pd.DataFrame({"x": X[:, 0], "kind": ["a"] * 50})
    with pytest.raises(ValueError, match=r"cannot learn to recover column 'kind': .*at least 2 classes"):
        CVAEImputer(estimator=fast_cvae(1)).fit(frame)


# --- MixedImputer (anovae impute's default) -------------------------------------------------


def fast_mixed(**params):
    return MixedImputer(vae=VAEImputer(estimator=fast_vae(30)), cvae=CVAEImputer(estimator=fast_cvae()),
                        random_state=0, **params)


@pytest.fixture(scope="module")
def mixed_filled(mixed):
    frame, _, _ = mixed
    before = frame.copy()
    imputer = fast_mixed().fit(frame)
    filled = imputer.transform(frame)
    pd.testing.assert_frame_equal(frame, before)  # the input is never modified
    return imputer, filled


def test_mixed_sends_text_columns_to_the_cvae_and_the_rest_to_the_vae(mixed, mixed_filled):
    imputer, filled = mixed_filled
    # "name" has a distinct value per row: more than max_categories, so the VAE's.
    assert imputer.vae_.columns == ["a", "b", "c", "d", "e", "big", "name"]
    assert imputer.cvae_.columns == ["side", "size"]
    assert list(imputer.cvae_.estimators_) == ["side", "size"]
    assert filled.notna().all().all()
    assert isinstance(filled["size"].dtype, pd.CategoricalDtype)


def test_mixed_fills_are_those_of_each_imputer_and_observed_cells_stay(mixed, mixed_filled):
    frame, _, _ = mixed
    imputer, filled = mixed_filled
    by_vae = imputer.vae_.transform(frame)
    pd.testing.assert_frame_equal(filled[imputer.vae_.columns], by_vae[imputer.vae_.columns])
    # A text cell: the value with the highest product of the two models' probabilities
    # and of the other text column's co-occurrence ratio, counted here row by row.
    for column, other in (("side", "size"), ("size", "side")):
        rows = frame[frame[column].isna()]
        joint = imputer.cvae_.class_log_posterior(rows, column) + np.log(
            imputer.vae_.category_probabilities(rows, column)
        )
        joint = joint + cooccurrence_ratios(frame, column, other, rows, joint.columns)
        np.testing.assert_array_equal(filled.loc[rows.index, column].to_numpy(), joint.idxmax(axis=1).to_numpy())
    for column in frame.columns:
        observed = frame[column].notna()
        assert (filled[column][observed] == frame[column][observed]).all()


def cooccurrence_ratios(frame, column, other, rows, values):
    """log p(v | t) - log p(v) with add-one counts, row by row (zero where t is blank)."""
    both = frame[[column, other]].dropna()
    out = np.zeros((len(rows), len(values)))
    n_v = np.array([(both[column] == v).sum() for v in values], dtype=float)
    for i, t in enumerate(rows[other]):
        if pd.isna(t):
            continue
        n_vt = np.array([((both[other] == t) & (both[column] == v)).sum() for v in values], dtype=float)
        out[i] = np.log((n_vt + 1) / (n_vt.sum() + len(values))) - np.log((n_v + 1) / (n_v.sum() + len(values)))
    return out


def test_mixed_cooccurrence_counts_pairs_of_text_values(mixed, mixed_filled):
    frame, _, _ = mixed
    imputer, _ = mixed_filled
    # "name" (a value per row) is no label: only the other text column is counted.
    assert list(imputer.cooccurrence_) == ["side", "size"]
    assert list(imputer.cooccurrence_["side"]) == ["size"]
    counts = imputer.cooccurrence_["side"]["size"]
    both = frame[["side", "size"]].dropna()
    assert counts.to_numpy().sum() == len(both)
    assert counts.loc["big", "east"] == ((both["size"] == "big") & (both["side"] == "east")).sum()
    assert fast_mixed(text_rule="product").fit(frame).cooccurrence_ == {}


def test_mixed_cooccurrence_recovers_a_value_another_text_column_implies():
    # "kind" is a function of "code"; "x" tells the kind too, but lies on a fifth of
    # the rows, and the networks believe it there.
    rng = np.random.RandomState(0)
    code = rng.choice(list("pqrstu"), 600)
    kind = pd.Series(code).map({"p": "a", "q": "a", "r": "b", "s": "b", "t": "c", "u": "c"})
    shown = np.where(rng.rand(600) < 0.2, rng.choice(list("abc"), 600), kind)
    x = pd.Series(shown).map({"a": -3.0, "b": 0.0, "c": 3.0}).to_numpy() + rng.normal(0, 0.3, 600)
    frame = pd.DataFrame({"x": x, "y": rng.normal(size=600), "code": code, "kind": kind})
    hidden = rng.rand(600) < 0.2
    given = frame.assign(kind=frame["kind"].where(~hidden))
    blank_code = np.flatnonzero(hidden)[:10]
    given.loc[blank_code, "code"] = None
    sure = hidden.copy()
    sure[blank_code] = False
    filled = fast_mixed().fit(given).transform(given)
    product = fast_mixed(text_rule="product").fit(given).transform(given)
    assert (filled["kind"][sure] == frame["kind"][sure]).all()
    assert (product["kind"][sure] != frame["kind"][sure]).any()
    # A blank "code" carries no evidence: the product alone decides those rows.
    pd.testing.assert_series_equal(filled["kind"][blank_code], product["kind"][blank_code])


def test_mixed_text_rule_cvae_keeps_the_conditional_vaes_choice(mixed):
    frame, _, _ = mixed
    imputer = fast_mixed(text_rule="cvae").fit(frame)
    pd.testing.assert_frame_equal(
        imputer.transform(frame)[["side", "size"]], imputer.cvae_.transform(frame)[["side", "size"]]
    )


def test_mixed_columns_limit_what_is_filled_and_the_product_rule_fits_a_vae_for_text(mixed):
    frame, side, hidden = mixed
    imputer = fast_mixed(columns=["side"]).fit(frame)
    assert imputer.cvae_.columns == ["side"]
    assert imputer.vae_ is not None and imputer.vae_.columns == ["side"]
    filled = imputer.transform(frame)
    assert filled["side"].notna().all()
    # Only the asked column is filled: the VAE it needed fills nothing itself.
    assert filled["b"].isna().sum() == frame["b"].isna().sum()
    assert filled["size"].isna().sum() == frame["size"].isna().sum()
    assert (filled["side"][hidden].to_numpy() == side[hidden]).mean() > 0.85
    assert fast_mixed(columns=["side"], text_rule="cvae").fit(frame).vae_ is None


def test_mixed_rejects_an_unknown_text_rule(mixed):
    frame, _, _ = mixed
    with pytest.raises(ValueError, match="text_rule"):
        fast_mixed(text_rule="vote").fit(frame)


def test_category_probabilities_ignore_the_cell_and_sum_to_one(mixed, mixed_fit):
    frame, _, _ = mixed
    imputer, filled = mixed_fit
    probabilities = imputer.category_probabilities(frame, "side")
    assert sorted(probabilities.columns) == ["east", "west"]
    assert probabilities.index.equals(frame.index)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    # The cell's own value is not read: with every "side" cell filled in (and the
    # other columns as they were), the probabilities are the same.
    with_side = frame.assign(side=filled["side"])
    pd.testing.assert_frame_equal(imputer.category_probabilities(with_side, "side"), probabilities)
    # transform fills a blank cell with the most probable value.
    blank = frame["side"].isna()
    np.testing.assert_array_equal(
        filled.loc[blank, "side"].to_numpy(), probabilities[blank].idxmax(axis=1).to_numpy()
    )
    with pytest.raises(ValueError, match="'a' is not a categorical column"):
        imputer.category_probabilities(frame, "a")


def test_mixed_recovers_text_beyond_the_most_frequent_value(mixed, mixed_filled):
    frame, side, hidden = mixed
    accuracy = (mixed_filled[1]["side"][hidden].to_numpy() == side[hidden]).mean()
    assert accuracy > 0.85 > (side[hidden] == frame["side"].mode()[0]).mean() + 0.2


def test_mixed_leaves_single_valued_and_many_valued_text_to_the_vae():
    rng = np.random.RandomState(0)
    x = rng.normal(size=80)
    frame = pd.DataFrame({"x": x, "kind": np.where(x > 0, "a", "b"), "same": "k",
                          "id": [f"r{i}" for i in range(80)]}).astype({"kind": object, "same": object, "id": object})
    frame.loc[::5, ["x", "kind", "same", "id"]] = None
    imputer = MixedImputer(vae=VAEImputer(estimator=fast_vae(2)), cvae=CVAEImputer(estimator=fast_cvae(2)),
                           max_categories=10, random_state=0).fit(frame)
    assert imputer.cvae_.columns == ["kind"]
    assert imputer.vae_.columns == ["x", "same", "id"]
    assert imputer.transform(frame).notna().all().all()


def test_mixed_without_text_columns_is_the_vae_imputer(numeric):
    X, X_missing, mask, _ = numeric
    imputer = MixedImputer(vae=VAEImputer(estimator=fast_vae(5)), random_state=3).fit(X_missing)
    assert imputer.cvae_ is None
    expected = VAEImputer(estimator=fast_vae(5), random_state=3).fit_transform(X_missing)
    np.testing.assert_array_equal(imputer.transform(X_missing), expected)


@parametrize_with_checks(
    [MixedImputer(vae=VAEImputer(estimator=VAE(max_epochs=2, contamination=0.1), n_importance_samples=5),
                  random_state=0)]
)
def test_mixed_imputer_follows_the_sklearn_contract(estimator, check):
    check(estimator)


# --- the plugin ----------------------------------------------------------------------------


@pytest.fixture
def plugin():
    """The imputation plugin registered as its entry point would register it."""
    manager = get_plugin_manager()
    registered = manager.get_plugin("imputation") is not None
    if not registered:
        manager.register(anovae_imputation, name="imputation")
    yield
    if not registered:
        manager.unregister(name="imputation")


def test_imputers_are_registered_through_the_plugin_manager(plugin):
    assert lookup("imputers", "vae") is VAEImputer
    assert lookup("imputers", "cvae") is CVAEImputer
    assert lookup("imputers", "auto") is MixedImputer
    found = registrations("imputers")
    assert found["vae"].plugin == "imputation"
    assert "MIWAE" in found["vae"].meta["description"]
    assert "ID-CVAE" in found["cvae"].meta["description"]


@pytest.mark.parametrize("module", ["_vae_imputer", "_cvae_imputer", "_mixed_imputer"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"anovae_imputation.{module}"))
    assert result.attempted > 0 and result.failed == 0


# --- NSL-KDD, a small slice of the real data ---------------------------------------------


@requires_data("nsl-kdd/KDDTrain+_20Percent.txt.gz", "nsl-kdd/KDDTest+.txt.gz")
def test_protocol_type_is_recovered_on_a_slice_of_nsl_kdd():
    from anovae.datasets import load_nsl_kdd

    train = load_nsl_kdd("train-20").data.iloc[:3000]
    test = load_nsl_kdd("test").data.iloc[:1000]
    # The paper's preprocessing: counts and byte sizes on a log scale, then min-max
    # scaled with the training range and modelled as Bernoulli probabilities.
    numeric = train.columns.drop(["protocol_type", "service", "flag"])
    low, high = np.log1p(train[numeric]).min(), np.log1p(train[numeric]).max()
    span = (high - low).where(high > low, 1.0)

    def scaled(frame):
        return frame.assign(**((np.log1p(frame[numeric]) - low) / span).clip(0, 1))

    hidden = scaled(test).assign(protocol_type=np.nan)
    truth = test["protocol_type"].astype(str).to_numpy()
    majority = (truth == train["protocol_type"].mode()[0]).mean()
    model = fast_cvae(10, batch_size=100, likelihood="bernoulli")
    cvae = CVAEImputer(estimator=model, columns=["protocol_type"], random_state=0)
    recovered = cvae.fit(scaled(train)).transform(hidden)["protocol_type"].astype(str)
    assert majority < 0.85 and (recovered.to_numpy() == truth).mean() > 0.93


# --- anovae impute ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_cli():
    """Invoke ``anovae`` with the plugin's ``impute`` command, as installed."""
    import click
    from click.testing import CliRunner

    from anovae.cli import cli
    from anovae_imputation._cli import impute

    manager = get_plugin_manager()
    registered = manager.get_plugin("imputation") is not None
    if not registered:
        manager.register(anovae_imputation, name="imputation")
    added = cli.get_command(click.Context(cli), "impute") is None
    if added:  # plugin commands were loaded before the plugin was registered
        cli.add_command(impute)

    def run(*args):
        return CliRunner().invoke(cli, ["impute", *map(str, args)])

    yield run
    if added:
        cli.commands.pop("impute", None)
        getattr(cli, "_owners", {}).pop("impute", None)
    if not registered:
        manager.unregister(name="imputation")


@pytest.fixture
def table(tmp_path):
    """A CSV with an id, a '?'-marked numeric column, a text column and an integer one."""
    rng = np.random.RandomState(0)
    factors = rng.normal(size=(200, 2))
    frame = pd.DataFrame(
        {
            "id": [f"r{i:03d}" for i in range(200)],
            "a": factors[:, 0],
            "b": 2 * factors[:, 0] + factors[:, 1],
            "c": factors[:, 1],
            "kind": np.where(factors[:, 0] > 0, "hi", "lo"),
            "n": rng.randint(0, 5, 200),
        }
    ).astype(object)
    frame.loc[::7, "a"] = "?"
    frame.loc[::5, "kind"] = None
    frame.loc[::11, "n"] = None
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    return path


def lines_of(path):
    return path.read_text().splitlines()


def test_impute_without_epochs_fits_the_imputers_default_model():
    # What benchmarks/imputation.py measures as VAEImputer() is what the command runs.
    from anovae_imputation._cli import _imputer

    default = default_estimator().get_params()
    built = _imputer("vae", ["a"], None, 0, "cpu", True).estimator.get_params()
    assert {k: v for k, v in built.items() if k not in ("device", "verbose")} == {
        k: v for k, v in default.items() if k not in ("device", "verbose")
    }
    assert _imputer("vae", ["a"], 7, 0, "cpu", True).estimator.max_epochs == 7
    # The default method's numeric part is that same model, seeded alike.
    auto = _imputer("auto", ["a"], None, 0, "cpu", True)
    assert auto.random_state == auto.vae.random_state == auto.cvae.random_state == 0
    assert {k: v for k, v in auto.vae.estimator.get_params().items() if k not in ("device", "verbose")} == {
        k: v for k, v in default.items() if k not in ("device", "verbose")
    }
    cvae_default = default_cvae_estimator().get_params()
    assert {k: v for k, v in auto.cvae.estimator.get_params().items() if k not in ("device", "verbose")} == {
        k: v for k, v in cvae_default.items() if k not in ("device", "verbose")
    }
    assert cvae_default["hidden_layer_sizes"] == (256, 256) and cvae_default["max_steps"] == 3000
    assert _imputer("cvae", ["a"], 7, 0, "cpu", True).estimator.max_epochs == 7


def test_impute_fills_every_missing_cell_and_reports_per_column(run_cli, table, tmp_path):
    out = tmp_path / "out.csv"
    result = run_cli(table, "-o", out, "--na-values", "?", "--exclude", "id", "--epochs", 3, "-q")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet
    result = run_cli(table, "-o", out, "--na-values", "?", "--exclude", "id", "--epochs", 3, "--force")
    assert result.exit_code == 0, result.output
    # The default method: the text column by a conditional VAE, the numbers by a VAE.
    assert "trained a VAE (3 epoch(s)) and 1 conditional VAE(s) (epochs: kind 3) on 200 rows" in result.output
    assert "filled 88 missing cell(s) in 3 column(s):" in result.output
    assert "  a: 29 of 29" in result.output and "  kind: 40 of 40" in result.output
    assert "  n: 19 of 19" in result.output and f"wrote {out}" in result.output
    before, after = lines_of(table), lines_of(out)
    assert after[0] == before[0] and len(after) == len(before)
    filled = pd.read_csv(out)
    assert filled.drop(columns="id").notna().all().all()
    assert set(filled["kind"]) == {"hi", "lo"} and filled["n"].dtype == np.int64
    # Observed cells are written back exactly as they were read, field by field.
    for old, new in zip(before[1:], after[1:]):
        for a, b in zip(old.split(","), new.split(",")):
            assert a in ("", "?") or a == b


def test_impute_is_repeatable_with_a_seed(run_cli, table, tmp_path):
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    for out in (first, second):
        assert run_cli(table, "-o", out, "--na-values", "?", "--exclude", "id", "--epochs", 2).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_impute_columns_fills_only_those(run_cli, table, tmp_path):
    out = tmp_path / "out.csv"
    result = run_cli(table, "-o", out, "--na-values", "?", "--exclude", "id", "--columns", "kind", "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert "filled 40 missing cell(s) in 1 column(s):" in result.output
    assert "left missing: a 29, n 19" in result.output
    # Cells the command did not fill are copied as written ("?" stays "?").
    filled = pd.read_csv(out, na_values="?")
    assert filled["kind"].notna().all() and filled["a"].isna().sum() == 29


def test_impute_cvae_recovers_text_columns(run_cli, table, tmp_path):
    out = tmp_path / "out.csv"
    result = run_cli(table, "-o", out, "--na-values", "?", "--exclude", "id", "--method", "cvae", "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert "trained 1 conditional VAE(s) (epochs: kind 2) on 200 rows" in result.output
    assert "  kind: 40 of 40" in result.output and "left missing: a 29, n 19" in result.output
    assert pd.read_csv(out)["kind"].notna().all()


def test_impute_without_missing_cells_copies_the_table(run_cli, tmp_path):
    source = tmp_path / "full.csv"
    source.write_text("x,y\n1,a\n2,b\n")
    out = tmp_path / "out.csv"
    result = run_cli(source, "-o", out)
    assert result.exit_code == 0, result.output
    assert "no missing cell to fill; the table is copied unchanged" in result.output
    assert out.read_text() == source.read_text()


def test_impute_refuses_to_replace_output_without_force(run_cli, table, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    result = run_cli(table, "-o", out, "--epochs", 1)
    assert result.exit_code == 1
    assert f"{out}: already exists; pass --force to replace it" in result.output
    assert out.read_text() == "keep me\n"


def test_impute_never_overwrites_its_input(run_cli, table):
    before = table.read_bytes()
    result = run_cli(table, "-o", table, "--force")
    assert result.exit_code == 2
    assert "anovae never overwrites its input" in result.output
    assert table.read_bytes() == before


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--columns", "kindd"], 2, "no column 'kindd'; did you mean 'kind'?"),
        (["--exclude", "nope"], 2, "no column 'nope'"),
        (["--columns", "kind", "--exclude", "kind"], 2, "column 'kind' is also given to --exclude"),
        (["--method", "cvae", "--columns", "c"], 2, "column 'c' is numeric; --method cvae recovers text"),
        (["--method", "knn"], 2, "unknown imputer 'knn'"),
        (["--epochs", "0"], 2, "0 is not in the range x>=1"),
    ],
)
def test_impute_bad_options_are_usage_errors(run_cli, table, tmp_path, args, code, message):
    out = tmp_path / "out.csv"
    result = run_cli(table, "-o", out, *args)
    assert result.exit_code == code
    assert message in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("", "the file is empty"),
        ("x,y\n1,2\n3,inf\n", "column 'y' has an infinite value on line 3"),
        ("x,y\n1,\n3,\n", "column 'y' is empty in every row"),
        ("x,y\n1,2,3\n", "line 2 has more fields than the header"),
    ],
)
def test_impute_bad_data_fails_in_one_line_without_output(run_cli, tmp_path, content, message):
    source = tmp_path / "in.csv"
    if content is not None:
        source.write_text(content)
    out = tmp_path / "out.csv"
    result = run_cli(source, "-o", out)
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.csv"] if content is not None else [])


def test_impute_cvae_without_text_columns_is_an_error(run_cli, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("x,y\n1,2\n3,\n")
    result = run_cli(source, "-o", tmp_path / "out.csv", "--method", "cvae")
    assert result.exit_code == 1
    assert "--method cvae recovers text (categorical) columns and there is none" in result.output
    assert not (tmp_path / "out.csv").exists()
