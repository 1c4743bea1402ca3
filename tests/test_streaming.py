"""Out-of-core training: ``VAE.fit_stream`` and ``anovae fit --streaming``.

The quality test fits the same generated telemetry (``scale_data.py``, known
anomalies) in memory and streamed from 80 Parquet row groups through a 512-row
shuffle buffer, and compares AUROC; the memory test reads what the buffer held.
"""

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

import anovae
from anovae import VAE
from anovae._sources import FrameSource, number_units, row_ids
from anovae._stream_stats import StreamStats
from anovae._streaming import ShuffleBuffer
from anovae._tabular import Encoded, TabularCodec
from anovae.cli import cli
from anovae.errors import DataError
from scale_data import telemetry, write_parquet_parts


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """8,000 rows of telemetry as 16 Parquet files of 5 row groups of 100 rows."""
    frame, labels = telemetry(8000, seed=0)
    folder = write_parquet_parts(frame.assign(label=labels), tmp_path_factory.mktemp("data") / "parts", 500, 100)
    return folder, frame, labels


def test_streamed_fit_ranks_anomalies_as_well_as_in_memory_fit_with_a_small_buffer(parts):
    folder, frame, labels = parts
    in_memory = VAE(max_steps=1000, random_state=0).fit(frame)
    streamed = VAE(max_steps=1000, random_state=0).fit_stream(
        folder, label_column="label", buffer_rows=512, sample_rows=1000
    )
    auroc_memory = roc_auc_score(labels, -in_memory.score_samples(frame))
    auroc_streamed = roc_auc_score(labels, -streamed.score_samples(frame))
    assert auroc_memory > 0.9  # the set is learnable: the comparison means something
    assert abs(auroc_streamed - auroc_memory) <= 0.01, (auroc_streamed, auroc_memory)
    info = streamed.streaming_
    assert info["n_rows"] == 8000 and info["n_units"] == 80
    # Memory: the buffer held more than one chunk (256 rows) and never more than its 512 rows.
    assert 256 < info["peak_buffer_rows"] <= 512 and info["chunk_rows"] == 256
    assert info["held_out_rows"] == 800  # validation_fraction of the rows, from the sample
    assert streamed.n_steps_ == 1000 and streamed.training_budget_["batch_size"] == 128
    assert list(streamed.feature_names_in_) == list(frame.columns)


def test_budget_comes_from_the_total_row_count(parts):
    folder, frame, _ = parts
    streamed = VAE(max_steps="auto", max_epochs=1, early_stopping=False, random_state=0).fit_stream(
        folder, columns=list(frame.columns), buffer_rows=4096
    )
    # 8000 training rows: batches of 128 (8000 / 64), one pass = 63 steps, as in memory.
    assert streamed.training_budget_ == VAE(max_epochs=1, early_stopping=False).fit(frame).training_budget_
    assert streamed.training_budget_ == {"batch_size": 128, "max_steps": 63}
    assert streamed.n_epochs_ == 1


def test_streamed_codec_is_the_in_memory_codec_when_the_sample_holds_every_row():
    rng = np.random.RandomState(1)
    n = 3000
    frame = pd.DataFrame(
        {
            "bytes": np.exp(rng.normal(5, 2, n)),  # heavy tail: power-transformed
            "flag": rng.randint(0, 2, n),  # Bernoulli
            "level": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "coded": rng.choice([-2.5, 4.0], n),  # two values: Bernoulli on them
            # Two values too, the rarer one absent from most pieces of 700 rows.
            "rare": np.where(np.isin(np.arange(n), [5, 2950]), 7.0, 0.0),
        }
    )
    frame.loc[rng.choice(n, 100, replace=False), "level"] = np.nan
    stats = StreamStats(frame.columns, {"bytes", "flag", "level", "coded", "rare"}, sample_rows=n, seed=3)
    for start in range(0, n, 700):
        piece = frame.iloc[start : start + 700].reset_index(drop=True)
        stats.add(piece, np.arange(start, start + len(piece)), lambda position: ("frame", str(position)))
    _, sample = stats.sample.result()
    streamed = stats.codec(sample).columns
    expected = TabularCodec.fit(frame, numeric_transform="yeo-johnson").columns
    assert "power" in expected[0]  # the case the sample matters for is exercised
    assert [(c["kind"], c.get("low"), c.get("high")) for c in expected[4:]] == [
        ("bernoulli", -2.5, 4.0), ("bernoulli", 0.0, 7.0)]
    assert [c["kind"] for c in streamed] == [c["kind"] for c in expected]
    for got, want in zip(streamed, expected):
        assert got.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (want["name"], key)
            else:
                assert got[key] == value, (want["name"], key)


def test_sample_does_not_depend_on_reading_order_or_sharding():
    frame, _ = telemetry(2000, seed=2)
    numeric = set(frame.columns) - {"mode"}

    def stats_of(pieces):
        stats = StreamStats(frame.columns, numeric, sample_rows=300, seed=11)
        for start, stop in pieces:
            stats.add(frame.iloc[start:stop].reset_index(drop=True), np.arange(start, stop), lambda p: ("frame", str(p)))
        return stats

    forward = stats_of([(s, s + 100) for s in range(0, 2000, 100)])
    backward = stats_of([(s, min(s + 37, 2000)) for s in reversed(range(0, 2000, 37))])
    shards = [stats_of([(s, s + 100) for s in range(r * 100, 2000, 300)]) for r in range(3)]
    merged = shards[0]
    for other in shards[1:]:
        merged.merge(other)
    ids, sample = forward.sample.result()
    for other in (backward, merged):
        other_ids, other_sample = other.sample.result()
        np.testing.assert_array_equal(other_ids, ids)
        pd.testing.assert_frame_equal(other_sample, sample)
        assert other.numbers["s0"].mean == pytest.approx(forward.numbers["s0"].mean, rel=1e-12)
        assert other.numbers["s0"].std == pytest.approx(forward.numbers["s0"].std, rel=1e-12)
        assert other.categories == forward.categories
    assert len(ids) == 300 and len(set(ids)) == 300
    # Uniform over the table: the sampled rows' ids spread like 300 draws from 0..1999.
    assert abs(ids.mean() - 999.5) < 4 * 577 / np.sqrt(300)
    assert merged.n_rows == 2000


def test_shuffle_buffer_stays_within_capacity_mixes_chunks_and_emits_each_row_once():
    capacity, batch = 64, 16
    buffer = ShuffleBuffer(capacity, batch, np.random.default_rng(0))
    emitted = []
    for chunk in range(10):
        rows = np.arange(chunk * 32, chunk * 32 + 32, dtype=np.float32)[:, None]
        encoded = Encoded(rows, np.empty((32, 0), np.float32), np.empty((32, 0), np.int64))
        for out in buffer.add(encoded):
            assert len(out) == batch
            emitted.append(out.num[:, 0])
        assert len(buffer) <= capacity
    emitted.extend(out.num[:, 0] for out in buffer.drain())
    assert buffer.peak_rows == capacity
    assert sorted(np.concatenate(emitted).tolist()) == list(range(320))
    # Batches mix rows of several chunks rather than replaying the input in order.
    assert any(len(set((b // 32).astype(int).tolist())) > 1 for b in emitted)
    with pytest.raises(ValueError, match="cannot mix batches"):
        ShuffleBuffer(16, 16, np.random.default_rng(0))


def test_streamed_fit_is_deterministic_with_random_state():
    frame, _ = telemetry(1500, seed=3)
    pieces = [frame.iloc[s : s + 150] for s in range(0, 1500, 150)]

    def scores(seed):
        model = VAE(max_steps=60, random_state=seed).fit_stream(pieces, buffer_rows=256, sample_rows=500)
        return model.score_samples(frame)

    first = scores(0)
    np.testing.assert_array_equal(scores(0), first)
    assert not np.array_equal(scores(1), first)


def test_an_in_memory_refit_drops_the_streamed_fit_figures():
    frame, _ = telemetry(600, seed=10)
    model = VAE(max_steps=5).fit_stream(frame, buffer_rows=256)
    assert model.streaming_["n_rows"] == 600
    assert not hasattr(model.fit(frame), "streaming_")


def test_streamed_fit_has_the_in_memory_minimum_and_few_rows_warning():
    from anovae.errors import DataError, FewRowsWarning

    frame, _ = telemetry(30, seed=3)
    with pytest.warns(FewRowsWarning, match="30 rows"):
        VAE(max_steps=5).fit_stream(frame, buffer_rows=256)
    with pytest.raises(DataError, match="minimum of 2"):
        VAE(max_steps=5).fit_stream(frame.iloc[:1], buffer_rows=256)


def test_a_function_returning_frames_is_a_source_read_several_times():
    frame, _ = telemetry(1200, seed=4)
    calls = []

    def chunks():
        calls.append(1)
        return (frame.iloc[s : s + 300] for s in range(0, 1200, 300))

    model = VAE(max_steps=40, max_epochs=2, random_state=0).fit_stream(chunks, buffer_rows=256, sample_rows=400)
    assert model.streaming_["n_rows"] == 1200
    assert len(calls) >= 3  # a look at the columns, the statistics pass, the training passes
    with pytest.raises(TypeError, match="read only once"):
        VAE().fit_stream(iter([frame]))


def test_bad_cells_are_one_line_errors_naming_file_row_and_column(tmp_path):
    frame, _ = telemetry(600, seed=5)
    bad = frame.copy()
    bad.loc[450, "s2"] = np.inf
    folder = write_parquet_parts(bad, tmp_path / "bad", 300, 100)
    model = VAE(max_steps=5)
    with pytest.raises(DataError, match=r"part-0001\.parquet: column 's2' has an infinite value on row 151"):
        model.fit_stream(folder, buffer_rows=256)
    with pytest.raises(NotFittedError):  # a failed fit leaves nothing half-fitted
        model.score_samples(frame)

    text = frame.astype({"s1": object})
    text.loc[350, "s1"] = "n/a"
    pieces = [frame.iloc[:300], text.iloc[300:].reset_index(drop=True)]
    with pytest.raises(DataError, match=r"DataFrame 1: column 's1' holds the non-numeric value 'n/a' on row 51"):
        VAE(max_steps=5).fit_stream(pieces, buffer_rows=256)


@pytest.mark.parametrize(
    "source, kwargs, error, message",
    [
        ("missing.parquet", {}, DataError, "no such file"),
        ("nothing-*.parquet", {}, DataError, "no file matches"),
        ("frame", {"label_column": "nope"}, DataError, "no label column 'nope'"),
        ("frame", {"columns": ["s0", "nope"]}, DataError, r"no column\(s\) 'nope'"),
        ("frame", {"buffer_rows": 1}, ValueError, "buffer_rows must be an integer of at least 2"),
        ("frame", {"buffer_rows": 100, "batch_size": 64}, ValueError, "needs buffer_rows of at least 128"),
        (42, {}, TypeError, "cannot stream from a int"),
    ],
)
def test_unusable_sources_and_arguments_are_refused(tmp_path, monkeypatch, source, kwargs, error, message):
    monkeypatch.chdir(tmp_path)
    frame, _ = telemetry(300, seed=6)
    batch_size = kwargs.pop("batch_size", "auto")
    with pytest.raises(error, match=message):
        VAE(max_steps=5, batch_size=batch_size).fit_stream(frame if source == "frame" else source, **kwargs)


def test_empty_folder_is_not_parquet(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not Parquet"):
        VAE().fit_stream(tmp_path / "empty")


def test_held_out_rows_are_left_out_of_training():
    frame, _ = telemetry(1000, seed=7)
    source = FrameSource([frame], unit_rows=250)
    number_units(source.units)
    ids = np.concatenate([row_ids(u, 0, u.n_rows) for u in source.units])
    np.testing.assert_array_equal(ids, np.arange(1000))
    from anovae._streaming import _training_mask

    held = np.array([3, 250, 251, 999])
    mask = _training_mask(np.arange(250, 500), held)
    assert mask.sum() == 248 and not mask[0] and not mask[1]


# ---- the command line ---------------------------------------------------------------
def run(args):
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_cli_streams_a_parquet_folder_and_saves_a_model_that_scores_like_a_normal_one(parts, tmp_path):
    folder, frame, _ = parts
    model = tmp_path / "m.anovae"
    code, output = run(
        ["fit", str(folder), "--model-out", str(model), "--streaming", "--label-column", "label",
         "--buffer-rows", "512", "--steps", "60"]
    )
    assert code == 0, output
    assert "8000 rows, 8 features" in output
    buffered = re.search(r"streamed: 80 piece\(s\), at most (\d+) rows buffered", output)
    assert buffered and int(buffered.group(1)) <= 512, output
    assert "of a uniform sample of 8000 rows" in output and "AUROC" in output
    loaded = anovae.load(model)
    assert loaded.n_steps_ == 60
    assert np.isfinite(loaded.score_samples(frame)).all()


def test_cli_streams_parquet_above_the_memory_budget_unless_told_not_to(parts, tmp_path):
    folder, _, _ = parts
    common = ["--model-out", str(tmp_path / "m.anovae"), "--force", "--steps", "20", "--exclude", "label"]
    code, output = run(["fit", str(folder / "*.parquet"), "--memory-budget", "1KB", *common])
    assert code == 0 and "streamed:" in output, output
    code, output = run(["fit", str(folder), "--memory-budget", "1KB", "--no-streaming", *common])
    assert code == 0 and "streamed:" not in output, output
    code, output = run(["fit", str(folder), "--memory-budget", "64GB", *common])
    assert code == 0 and "streamed:" not in output, output


def test_cli_streams_a_csv_in_chunks(tmp_path):
    frame, labels = telemetry(1500, seed=8)
    path = tmp_path / "t.csv"
    frame.assign(label=labels).to_csv(path, index=False)
    code, output = run(
        ["fit", str(path), "--model-out", str(tmp_path / "m.anovae"), "--streaming", "--buffer-rows", "600",
         "--label-column", "label", "--steps", "20"]
    )
    assert code == 0, output
    buffered = re.search(r"streamed: 1 piece\(s\), at most (\d+) rows buffered", output)
    assert buffered and int(buffered.group(1)) <= 600, output


@pytest.mark.parametrize(
    "args, message",
    [
        (["-", "--streaming"], "cannot be standard input"),
        (["x.csv", "--memory-budget", "lots"], "'lots' is not a size"),
        (["x.csv", "--buffer-rows", "1"], "x>=2"),
    ],
)
def test_cli_usage_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"a": [1.0, 2.0, 3.0]}).to_csv("x.csv", index=False)
    result = CliRunner().invoke(cli, ["fit", *args, "--model-out", "m.anovae"], input="a\n1\n")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_streamed_csv_names_the_line_of_a_bad_cell(tmp_path):
    frame, _ = telemetry(1500, seed=9)
    frame.loc[1200, "s4"] = np.inf
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    model = tmp_path / "m.anovae"
    code, output = run(["fit", str(path), "--model-out", str(model), "--streaming", "--buffer-rows", "600"])
    assert code == 1
    assert f"{path}: column 's4' has an infinite value on line 1202" in output
    assert not model.exists()
