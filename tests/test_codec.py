"""The column codec gives the same numbers however a table is laid out or chunked."""

import numpy as np
import pandas as pd
import pytest

from anovae import VAE, _power, _tabular
from anovae._tabular import TabularCodec
from anovae.errors import DataError


def _mixed_table(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 1] = rng.lognormal(0.0, 2.0, n)  # heavy right tail: power-transformed
    X[:, 2] = rng.integers(0, 2, n)  # 0/1: Bernoulli
    X[:, 3] = rng.exponential(1.0, n) + 5.0
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    return X


def test_row_major_array_and_separate_columns_give_the_same_codec(monkeypatch):
    X = _mixed_table()
    names = [f"x{i}" for i in range(X.shape[1])]
    row_major = pd.DataFrame(X, columns=names, copy=False)
    separate = pd.DataFrame({name: X[:, i].copy() for i, name in enumerate(names)})
    # Groups of two columns and tiny tiles: every gathering path runs.
    monkeypatch.setattr(_tabular, "_COLUMN_GROUP_BYTES", 2 * 8 * len(X))
    monkeypatch.setattr(_tabular, "_TILE_CELLS", 7)
    a = TabularCodec.fit(row_major, numeric_transform="yeo-johnson").columns
    monkeypatch.undo()
    b = TabularCodec.fit(separate, numeric_transform="yeo-johnson").columns
    one_by_one = [TabularCodec._fit_column(name, separate[name], "auto", "yeo-johnson") for name in names]
    assert a == b == one_by_one
    assert "power" in a[1] and a[2]["kind"] == "bernoulli"


def test_mixed_dtypes_keep_their_own_columns():
    frame = pd.DataFrame(
        {
            "f": np.linspace(0.0, 5.0, 50),
            "i": np.arange(50, dtype=np.int32),
            "flag": np.arange(50) % 2 == 0,
            "c": ["a", "b"] * 25,
            "nullable": pd.array([1.5, None] * 25, dtype="Float64"),
        }
    )
    kinds = TabularCodec.fit(frame).kinds()
    assert kinds == {"f": "gaussian", "i": "gaussian", "flag": "bernoulli", "c": "categorical", "nullable": "gaussian"}
    nullable = TabularCodec.fit(frame).columns[-1]
    assert nullable["count"] == 25 and nullable["mean"] == 1.5


def test_encoding_chunk_by_chunk_gives_the_same_cells(monkeypatch):
    X = _mixed_table(n=1000, seed=1)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    codec = TabularCodec.fit(frame, numeric_transform="yeo-johnson")
    whole = codec.encode(frame)
    monkeypatch.setattr(_tabular, "_TILE_CELLS", 11)
    chunked = codec.encode(frame)
    np.testing.assert_array_equal(whole.num, chunked.num)
    np.testing.assert_array_equal(whole.log_jac, chunked.log_jac)
    assert whole.num.dtype == np.float32 and whole.log_jac.dtype == np.float32


@pytest.mark.parametrize("beside", [None, np.nan, -np.inf])
def test_an_infinite_value_in_a_later_chunk_is_named(monkeypatch, beside):
    X = _mixed_table(n=500, seed=2)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    codec = TabularCodec.fit(frame)
    frame.iloc[457, 4] = np.inf
    if beside is not None:  # a blank, or an infinity that cancels it in a sum
        frame.iloc[458, 4] = beside
    monkeypatch.setattr(_tabular, "_TILE_CELLS", 20)
    with pytest.raises(DataError, match=r"column 'x4' has an infinite value \(row 457\)"):
        codec.encode(frame)


def test_an_infinite_value_is_named_when_fitting():
    X = _mixed_table(n=200, seed=3)
    X[123, 5] = -np.inf
    with pytest.raises(DataError, match=r"column 'x5' has an infinite value \(row 123\)"):
        TabularCodec.fit(pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]))


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.uniform(size=n),
        lambda rng, n: rng.exponential(size=n),
        lambda rng, n: rng.lognormal(0.0, 1.0, n),
        lambda rng, n: rng.lognormal(0.0, 0.5, n),
        lambda rng, n: rng.standard_t(3, n),
        lambda rng, n: rng.integers(0, 3, n).astype(float),
        lambda rng, n: np.r_[np.zeros(n // 2), rng.normal(10.0, 1.0, n - n // 2)],
        lambda rng, n: 1e12 + rng.normal(size=n),
        lambda rng, n: np.full(n, 3.0),
        lambda rng, n: np.r_[0.0, np.ones(max(0, n - 2)), 10.0][:n],
    ],
    ids=["normal", "uniform", "exponential", "lognormal", "lognormal-narrow", "t3", "three-values",
         "half-zeros", "far-from-zero", "constant", "at-the-threshold"],
)
@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_the_quick_light_tail_answer_never_contradicts_the_exact_rule(draw, n):
    observed = draw(np.random.default_rng(n), n)
    low, high = float(observed.min()), float(observed.max())
    if _power.surely_light_tailed(observed, low, high):
        origin, size = _power.reference(observed)
        assert not _power.heavy_tailed((observed - origin) / size)


def test_the_quick_answer_covers_symmetric_columns():
    # The point of the shortcut: a Gaussian column needs no median.
    observed = np.random.default_rng(0).normal(size=10_000)
    assert _power.surely_light_tailed(observed, observed.min(), observed.max())


def test_row_sums_of_the_log_jacobian_are_the_sums_of_its_cells():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({
        "heavy": rng.lognormal(sigma=1.5, size=3000),
        "plain": rng.normal(size=3000),
        "skewed": rng.exponential(size=3000) ** 2,
    })
    frame.iloc[5, 0] = np.nan
    codec = TabularCodec.fit(frame, "auto", "yeo-johnson")
    cells, rows = codec.encode(frame), codec.encode(frame, cell_jacobian=False)
    assert cells.log_jac is not None and cells.log_jac.shape == (3000, 3)
    assert rows.log_jac.shape == (3000, 1)
    np.testing.assert_array_equal(rows.num, cells.num)
    np.testing.assert_array_equal(rows.log_jac[:, 0], cells.log_jac.sum(axis=1, dtype=np.float64))


def test_scores_from_row_sums_equal_scores_from_cells():
    from anovae import VAE

    rng = np.random.RandomState(1)
    frame = pd.DataFrame({"heavy": rng.lognormal(sigma=1.5, size=800), "plain": rng.normal(size=800)})
    vae = VAE(max_steps=50, random_state=0).fit(frame)
    assert "power" in vae._codec.columns[0]
    from_cells = vae._log_likelihood_bound(vae._codec.encode(frame))
    np.testing.assert_array_equal(vae.score_samples(frame), from_cells)
    assert np.isfinite(vae.feature_scores(frame).to_numpy()).all()


def test_a_value_between_zero_and_one_in_a_zero_one_column_is_a_value_never_seen():
    rng = np.random.RandomState(0)
    x = rng.normal(size=600)
    frame = pd.DataFrame({"x": x, "flag": (x > 0).astype(float)})
    vae = VAE(max_steps=200, random_state=0).fit(frame)
    rows = pd.DataFrame({"x": [1.0] * 5, "flag": [1.0, 0.5, 0.999, 7.0, -1.0]})
    codes = vae._codec.encode(rows).bin[:, 0]
    np.testing.assert_array_equal(codes, [1.0, -1.0, -1.0, -1.0, -1.0])
    scores = vae.score_samples(rows)
    # 0.5 costs what 7 and -1 cost (the novelty probability), far more than the
    # flag's own value does.
    np.testing.assert_allclose(scores[1:], scores[1], rtol=1e-6)
    assert scores[1] < scores[0] - 3
    # Declared Bernoulli: values in [0, 1] are probabilities, 0.5 included.
    declared = TabularCodec.fit(frame[["flag"]], likelihood="bernoulli")
    np.testing.assert_allclose(declared.encode(rows[["flag"]]).bin[:3, 0], [1.0, 0.5, 0.999], rtol=1e-6)


def test_two_values_map_onto_zero_and_one_only_under_auto():
    frame = pd.DataFrame({"p": np.resize([0.2, 0.7], 40)})
    auto = TabularCodec.fit(frame).columns[0]
    declared = TabularCodec.fit(frame, likelihood="bernoulli").columns[0]
    assert (auto["kind"], auto["low"], auto["high"]) == ("bernoulli", 0.2, 0.7)
    # Declared Bernoulli: the values are probabilities already and stay as they are.
    assert declared["kind"] == "bernoulli" and "low" not in declared
    np.testing.assert_allclose(TabularCodec([declared]).encode(frame).bin[:2, 0], [0.2, 0.7], rtol=1e-6)
