"""Tests of the ``anovae`` command line (anovae/cli).

Most run in-process with click's CliRunner; a few run the installed ``anovae``
executable, including the example plugin of ``examples/anovae-example-plugin``
installed into a temporary folder. Data are tiny and training runs 2 epochs.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import anovae
from anovae import hookimpl
from anovae.plugins import get_plugin_manager
from anovae.cli import AnovaeGroup, cli
from anovae.cli.detect import detect
from anovae.errors import DataError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = REPO / "examples" / "anovae-example-plugin"
FAST = ["--epochs", "2", "--quiet"]


def tiny_frame(n=40, seed=0):
    """Mixed-type rows: an id, a category, correlated numbers, a 0/1 label."""
    rng = np.random.RandomState(seed)
    a = rng.normal(size=n)
    b = 2 * a + rng.normal(scale=0.1, size=n)
    b[:3] += 6.0  # the labelled anomalies break the a-b relation
    label = np.zeros(n, dtype=int)
    label[:3] = 1
    return pd.DataFrame(
        {
            "id": [f"r{i:03d}" for i in range(n)],
            "kind": np.where(rng.rand(n) < 0.5, "x", "y"),
            "a": a.round(4),
            "b": b.round(4),
            "count": rng.randint(0, 5, size=n),
            "label": label,
        }
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    tiny_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model trained on tiny_frame() without id and label, and its data file."""
    folder = tmp_path_factory.mktemp("model")
    data = folder / "train.csv"
    tiny_frame().to_csv(data, index=False)
    path = folder / "model.anovae"
    result = invoke("fit", data, "--model-out", path, "--exclude", "id", "--label-column", "label", *FAST)
    assert result.exit_code == 0, result.output
    return path


def invoke(*args, input=None, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def read_csv(text_or_path):
    if isinstance(text_or_path, Path):
        return pd.read_csv(text_or_path)
    from io import StringIO

    return pd.read_csv(StringIO(text_or_path))


def assert_fails(result, code, *fragments):
    """One ``Error:`` line holding every fragment, the exit code, no traceback."""
    assert result.exit_code == code, result.output
    # An exception escaping the boundary would be caught by CliRunner, not printed.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert result.stdout == ""
    return errors[0]


def leftovers(folder):
    """Temporary files an atomic write would leave behind if it failed badly."""
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]


# ---- detect ---------------------------------------------------------------------------
def test_detect_writes_every_row_and_column_plus_the_results_to_stdout(data):
    result = invoke("detect", data, "--exclude", "id", *FAST)
    assert result.exit_code == 0, result.output
    out = read_csv(result.stdout)
    original = pd.read_csv(data)
    assert list(out.columns) == list(original.columns) + ["anomaly_score", "is_anomaly"]
    pd.testing.assert_frame_equal(out[original.columns], original)
    assert set(out["is_anomaly"]) <= {0, 1}
    # --quiet: no progress bar, no summary (warnings, such as POT's on tiny data, stay).
    assert "training [" not in result.stderr and "rows," not in result.stderr


def test_detect_output_matches_the_estimator(data, tmp_path):
    out = tmp_path / "out.csv"
    model_out = tmp_path / "m.anovae"
    result = invoke("detect", data, "-o", out, "--model-out", model_out, "--exclude", "id", *FAST)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    estimator = anovae.load(model_out)
    X = pd.read_csv(data, dtype={"kind": "string"})[list(estimator.feature_names_in_)]
    np.testing.assert_allclose(frame["anomaly_score"], -estimator.score_samples(X))
    np.testing.assert_array_equal(frame["is_anomaly"], (estimator.predict(X) == -1).astype(int))


def test_detect_summary_labels_metrics_and_top_rows(data):
    result = invoke(
        "detect", data, "--exclude", "id", "--label-column", "label", "--epochs", "2", "--top", "2"
    )
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "training [" in err  # the progress bar
    assert "40 rows, 4 features (3 numeric, 1 categorical)" in err
    assert "trained 2 steps of 64 rows (2 epoch(s))" in err
    assert "flags" in err and "AUROC" in err and " AP " in err and "F1" in err
    top = err[err.index("top 2 anomalies") :].splitlines()[1:3]
    assert len(top) == 2
    for line in top:
        assert line.strip().startswith("line ")
        assert line.count(" (") >= 3  # three contributing columns with their nats
        assert "id=r0" in line  # context: the columns left out of the features
    # The label stays a feature-free input column; results do not clash with it.
    assert "label" not in read_csv(result.stdout).columns[-2:]


def test_detect_keeps_an_existing_is_anomaly_column(data, tmp_path):
    frame = tiny_frame().rename(columns={"label": "is_anomaly"})
    path = tmp_path / "labelled.csv"
    frame.to_csv(path, index=False)
    result = invoke("detect", path, "--exclude", "id", "--label-column", "is_anomaly", *FAST)
    assert result.exit_code == 0, result.output
    out = read_csv(result.stdout)
    assert list(out.columns[-3:]) == ["is_anomaly", "anomaly_score", "anovae_is_anomaly"]
    assert out["is_anomaly"].tolist() == frame["is_anomaly"].tolist()
    assert "the result is in 'anovae_is_anomaly'" in result.stderr


def test_detect_threshold_and_its_parameters(data):
    result = invoke("detect", data, "--exclude", "id", "--threshold", "contamination",
                    "--threshold-param", "contamination=0.1", *FAST)
    assert result.exit_code == 0, result.output
    assert read_csv(result.stdout)["is_anomaly"].sum() == 4


def test_detect_contamination(data):
    result = invoke("detect", data, "--exclude", "id", "--contamination", "0.25", *FAST)
    assert result.exit_code == 0, result.output
    assert read_csv(result.stdout)["is_anomaly"].sum() == 10



@pytest.mark.parametrize("option, value, attribute, refused", [
    ("--input-masking", "0.1", "input_masking", ("1",)),
    ("--trim-fraction", "0", "trim_fraction", ("1", "-0.1", "nan")),
])
def test_detect_training_option_trains_the_model_it_names(data, tmp_path, option, value, attribute, refused):
    model_out, plain_out = tmp_path / "m.anovae", tmp_path / "plain.anovae"
    result = invoke("detect", data, "--exclude", "id", option, value, "--model-out", model_out, *FAST)
    assert result.exit_code == 0, result.output
    assert getattr(anovae.load(model_out), attribute) == float(value)
    # Left out, the option keeps the estimator's default.
    plain = invoke("detect", data, "--exclude", "id", "--model-out", plain_out, *FAST)
    assert getattr(anovae.load(plain_out), attribute) == getattr(anovae.VAE(), attribute)
    assert not np.allclose(read_csv(result.stdout)["anomaly_score"], read_csv(plain.stdout)["anomaly_score"])
    for bad in refused:
        answer = invoke("detect", data, "--exclude", "id", option, bad, *FAST)
        assert answer.exit_code == 2 and option in answer.output, bad


def test_detect_hints_at_trim_fraction_when_many_rows_are_flagged(data, tmp_path):
    # A cut at the mean score flags far more than half the trimmed share.
    many = ["--threshold", "zscore", "--threshold-param", "k=0", "--epochs", "2"]
    hinted = invoke("detect", data, "--exclude", "id", *many)
    assert hinted.exit_code == 0, hinted.output
    assert "hint: " in hinted.output and "try --trim-fraction 0" in hinted.output
    for extra in (["--trim-fraction", "0"], ["--quiet"]):
        assert "hint: " not in invoke("detect", data, "--exclude", "id", *many, *extra).output
    # The commands that train say it too, streamed or not.
    for streaming in ("--no-streaming", "--streaming"):
        fitted = invoke("fit", data, "--model-out", tmp_path / f"m{streaming}.anovae", "--exclude", "id", *many, streaming)
        assert fitted.exit_code == 0 and "try --trim-fraction 0" in fitted.output, fitted.output
    # A share the user asked for is no surprise.
    asked = invoke("detect", data, "--exclude", "id", "--contamination", "0.3", "--epochs", "2")
    assert asked.exit_code == 0 and "flags 12 row(s)" in asked.output and "hint: " not in asked.output
    # The rule itself: more than half the trimmed share.
    from types import SimpleNamespace

    from anovae.cli._detection import trim_hint

    assert trim_hint(SimpleNamespace(trim_fraction=0.2), 10, 100) == []
    (line,) = trim_hint(SimpleNamespace(trim_fraction=0.2), 11, 100)
    assert "11.0% of the rows" in line
    assert trim_hint(SimpleNamespace(trim_fraction=0.0), 50, 100) == []
    assert trim_hint(SimpleNamespace(trim_fraction=0.2), 50, 100, contamination=0.5) == []


def test_detect_score_kl_weight_scores_with_the_weight_it_names(data, tmp_path):
    model_out = tmp_path / "m.anovae"
    result = invoke("detect", data, "--exclude", "id", "--score-kl-weight", "1",
                    "--model-out", model_out, *FAST)
    assert result.exit_code == 0, result.output
    model = anovae.load(model_out)
    assert model.score_kl_weight == 1.0
    # The default weight is 2: the same training, scores lower by one more KL term each.
    plain = read_csv(invoke("detect", data, "--exclude", "id", *FAST).stdout)["anomaly_score"]
    bound = read_csv(result.stdout)["anomaly_score"]
    assert (plain > bound).all()
    refused = invoke("detect", data, "--exclude", "id", "--score-kl-weight", "0.5", *FAST)
    assert refused.exit_code == 2 and "--score-kl-weight" in refused.output


def test_supervised_threshold_learns_from_the_label_column(data, tmp_path):
    model_out = tmp_path / "f1.anovae"
    result = invoke("detect", data, "--exclude", "id", "--label-column", "label",
                    "--threshold", "f1", "--model-out", model_out, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "threshold f1:" in result.stderr
    assert type(anovae.load(model_out).threshold_strategy_).__name__ == "F1Threshold"
    assert_fails(invoke("detect", data, "--exclude", "id", "--threshold", "f1", *FAST),
                 2, "--label-column")


def test_detect_reads_parquet_and_standard_input(data, tmp_path):
    pytest.importorskip("pyarrow")
    parquet = tmp_path / "data.parquet"
    pd.read_csv(data).to_parquet(parquet)
    from_parquet = invoke("detect", parquet, "--exclude", "id", *FAST)
    from_stdin = invoke("detect", "-", "--exclude", "id", *FAST, input=data.read_text())
    from_csv = invoke("detect", data, "--exclude", "id", *FAST)
    for result in (from_parquet, from_stdin, from_csv):
        assert result.exit_code == 0, result.output
    scores = [read_csv(r.stdout)["anomaly_score"] for r in (from_parquet, from_stdin, from_csv)]
    np.testing.assert_allclose(scores[0], scores[2])
    np.testing.assert_allclose(scores[1], scores[2])


def test_detect_warns_about_identifier_and_mistyped_columns(tmp_path):
    frame = tiny_frame(n=120)
    frame["a"] = frame["a"].astype(object)
    frame.loc[7, "a"] = "oops"
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    result = invoke("detect", path, *FAST)
    assert result.exit_code == 0, result.output
    assert "column 'id' has 120 distinct values" in result.stderr
    assert "--exclude id" in result.stderr
    assert "column 'a' is read as text because of the value 'oops' on line 9" in result.stderr


def test_model_option_scores_without_training(model, data):
    result = invoke("detect", data, "--model", model, "--label-column", "label", "--top", "1")
    assert result.exit_code == 0, result.output
    assert "training [" not in result.stderr
    assert f"scored with {model}" in result.stderr
    assert_fails(invoke("detect", data, "--model", model, "--epochs", "3"), 2, "--epochs")


# ---- fit and score ------------------------------------------------------------------------
def test_score_streams_and_matches_detect(model, data, tmp_path):
    whole = invoke("detect", data, "--model", model, "-q")
    streamed = tmp_path / "streamed.csv"
    result = invoke("score", data, "--model", model, "-o", streamed, "--chunksize", "7", "-q")
    assert result.exit_code == 0, result.output
    a, b = read_csv(whole.stdout), read_csv(streamed)
    pd.testing.assert_frame_equal(a.drop(columns="anomaly_score"), b.drop(columns="anomaly_score"))
    # float32 matrix products may round differently with another batch size.
    np.testing.assert_allclose(a["anomaly_score"], b["anomaly_score"], rtol=1e-5)


def test_score_takes_columns_by_name_and_copies_the_others(model, data, tmp_path):
    original = pd.read_csv(data)
    shuffled = original[["label", "b", "count", "id", "a", "kind"]].assign(extra=1.5)
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    a = read_csv(invoke("score", data, "--model", model, "-q").stdout)
    result = invoke("score", path, "--model", model, "--label-column", "label", "--top", "2")
    assert result.exit_code == 0, result.output
    b = read_csv(result.stdout)
    assert list(b.columns) == list(shuffled.columns) + ["anomaly_score", "is_anomaly"]
    np.testing.assert_allclose(a["anomaly_score"], b["anomaly_score"])
    assert "AUROC" in result.stderr and "top 2 anomalies" in result.stderr


def test_score_memory_does_not_keep_chunks(model, data, monkeypatch):
    # Streaming: each chunk is written before the next is read. (The command imports
    # its helpers when it runs, so the spy goes where they are defined.)
    from anovae.cli import _output

    written = []
    real = _output._CsvOutput.write

    def spy(self, rows):
        written.append(len(rows))
        real(self, rows)

    monkeypatch.setattr(_output._CsvOutput, "write", spy)
    result = invoke("score", data, "--model", model, "--chunksize", "15", "-q")
    assert result.exit_code == 0, result.output
    assert written == [15, 15, 10]


def test_score_failure_midway_leaves_no_output(model, tmp_path):
    frame = tiny_frame().astype({"a": object})
    frame.loc[33, "a"] = "n/a?"
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    result = invoke("score", path, "--model", model, "-o", out, "--chunksize", "10")
    assert_fails(result, 1, "late.csv", "column 'a'", "'n/a?'", "line 35")
    assert not out.exists() and leftovers(tmp_path) == []


def test_score_failure_midway_in_parquet_read_ahead_leaves_no_output(model, tmp_path):
    pytest.importorskip("pyarrow")
    frame = tiny_frame().astype({"a": object})
    frame["a"] = frame["a"].astype(str)
    frame.loc[33, "a"] = "n/a?"
    path = tmp_path / "late.parquet"
    frame.to_parquet(path, row_group_size=10)
    out = tmp_path / "out.parquet"
    # Parquet is read a chunk ahead in a second thread: the error still names the
    # row it met, and the chunks already scored are not left behind.
    result = invoke("score", path, "--model", model, "-o", out, "--chunksize", "10")
    assert_fails(result, 1, "late.parquet", "column 'a'", "'n/a?'", "row 34")
    assert not out.exists() and leftovers(tmp_path) == []


def test_score_refuses_extra_fields_read_ahead_and_leaves_the_warning_filters_as_they_were(model, tmp_path):
    import warnings

    path = tmp_path / "extra.csv"
    frame = tiny_frame()
    lines = frame.to_csv(index=False).splitlines()
    lines[1] += ",9"  # one field more than the header: pandas would drop it with a warning
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    before = list(warnings.filters)
    result = invoke("score", path, "--model", model, "-o", out, "--chunksize", "10")
    assert_fails(result, 1, "extra.csv", "line 2 has more fields than the header")
    assert not out.exists() and leftovers(tmp_path) == []
    assert warnings.filters == before


# ---- bad input ------------------------------------------------------------------------------
def _write(name, content):
    def make(folder):
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return make


def _directory(folder):
    path = folder / "adir"
    path.mkdir()
    return path


GOOD = "a,b,c\n1,2,x\n3,4,y\n5,6,x\n"
BAD_INPUT = {
    "missing file": (lambda folder: folder / "nope.csv", [], 1, ["nope.csv: no such file"]),
    # A folder is read as a table kept in part files; this one has none.
    "a directory": (_directory, [], 1, ["adir: the folder holds no CSV or Parquet file"]),
    "empty file": (_write("e.csv", ""), [], 1, ["e.csv: the file is empty"]),
    "header only": (_write("h.csv", "a,b,c\n"), [], 1, ["h.csv: no data rows"]),
    "ragged row": (_write("r.csv", "a,b,c\n1,2,x\n3,4,y,9,9\n5,6,x\n"), [], 1,
                   ["r.csv: line 3 has 5 fields but the header has 3"]),
    "ragged first row": (_write("r1.csv", "a,b\n1,2,3\n4,5\n"), [], 1, ["r1.csv: line 2 has more fields"]),
    "not UTF-8": (_write("u.csv", b"a,b,c\n1,2,x\n3,4,\xff\xfe\n"), [], 1,
                  ["u.csv: not UTF-8 text", "line 3"]),
    "no feature column": (_write("f.csv", GOOD), ["--exclude", "a", "--exclude", "b", "--label-column", "c"],
                          1, ["f.csv: no feature column left"]),
    "empty column": (_write("ec.csv", "a,b,c\n1,,x\n3,,y\n5,,x\n"), [], 1,
                     ["ec.csv: column 'b' is empty in every row", "--exclude b"]),
    "infinite value": (_write("i.csv", "a,b,c\n1,2,x\n3,inf,y\n5,6,x\n"), [], 1,
                       ["i.csv: column 'b' has an infinite value on line 3"]),
    "unknown --exclude": (_write("x.csv", GOOD), ["--exclude", "bb"], 2,
                          ["'--exclude'", "no column 'bb'", "did you mean 'b'?"]),
    "unknown --label-column": (_write("l.csv", GOOD), ["--label-column", "lable"], 2,
                               ["'--label-column'", "no column 'lable'"]),
    "label with three classes": (_write("l3.csv", "a,b,c\n1,2,x\n3,4,y\n5,6,z\n"), ["--label-column", "c"], 1,
                                 ["label column 'c' has 3 distinct value(s)", "exactly two"]),
    "label with one class": (_write("l1.csv", "a,b,c\n1,2,x\n3,4,x\n5,6,x\n"), ["--label-column", "c"], 1,
                             ["label column 'c' has 1 distinct value(s)"]),
    "not a model file": (_write("d.csv", GOOD), ["--model", "d.csv"], 1, ["not an anovae model file"]),
    "missing model file": (_write("d.csv", GOOD), ["--model", "none.anovae"], 1, ["no such model file"]),
    "unknown threshold": (_write("t.csv", GOOD), ["--threshold", "zcore"], 2,
                          ["'--threshold'", "unknown threshold strategy 'zcore'", "did you mean 'zscore'?"]),
    "unknown threshold parameter": (_write("t.csv", GOOD), ["--threshold", "zscore", "--threshold-param", "q=1"], 2,
                                    ["no parameter 'q'"]),
    "bad threshold parameter": (_write("t.csv", GOOD), ["--threshold", "zscore", "--threshold-param", "k=-1"], 2,
                                ["'k' parameter"]),
    "contamination too high": (_write("c.csv", GOOD), ["--contamination", "0.7"], 2, ["'--contamination'"]),
    "contamination zero": (_write("c.csv", GOOD), ["--contamination", "0"], 2, ["'--contamination'"]),
    "contamination and threshold": (_write("c.csv", GOOD), ["--contamination", "0.1", "--threshold", "mad"], 2,
                                    ["alternatives"]),
    "unknown device": (_write("c.csv", GOOD), ["--device", "gpu0"], 2, ["'--device'", "not a valid torch device"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_error_without_output(case, tmp_path, monkeypatch):
    make, extra, code, fragments = BAD_INPUT[case]
    monkeypatch.chdir(tmp_path)
    source = make(tmp_path)
    before = source.read_bytes() if source.is_file() else None
    out = tmp_path / "out.csv"
    training = [] if "--model" in extra else ["--epochs", "2"]
    result = invoke("detect", source.name, "-o", out.name, *extra, *training, "-q")
    assert_fails(result, code, *fragments)
    assert not out.exists() and leftovers(tmp_path) == []
    if before is not None:
        assert source.read_bytes() == before


def test_data_not_matching_the_model(model, tmp_path):
    path = tmp_path / "other.csv"
    tiny_frame().drop(columns=["a", "kind"]).to_csv(path, index=False)
    for command in ("detect", "score"):
        result = invoke(command, path, "--model", model, "-o", tmp_path / "out.csv")
        assert_fails(result, 1, "other.csv: lacks column(s) 'kind', 'a'")
    assert not (tmp_path / "out.csv").exists()


def test_a_feature_given_as_label_with_a_model(model, data):
    assert_fails(invoke("score", data, "--model", model, "--label-column", "a"), 2,
                 "'a' is one of the model's features")


def test_debug_shows_the_original_exception(tmp_path):
    result = invoke("--debug", "detect", tmp_path / "nope.csv")
    assert result.exit_code == 1
    assert isinstance(result.exception, DataError)
    result = invoke("detect", tmp_path / "nope.csv", env={"ANOVAE_DEBUG": "1"})
    assert isinstance(result.exception, DataError)


def test_unexpected_errors_are_one_line_too(data, tmp_path, monkeypatch):
    # The command imports its helpers when it runs: patch where they are defined.
    import anovae.cli._detection as detect_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(detect_module, "score_rows", broken)
    out = tmp_path / "out.csv"
    result = invoke("detect", data, "-o", out, "--exclude", "id", *FAST)
    assert_fails(result, 1, "unexpected RuntimeError: boom second line", "--debug")
    assert not out.exists() and leftovers(tmp_path) == []


# ---- outputs ------------------------------------------------------------------------------
def test_existing_output_needs_force(data, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    os.chmod(out, 0o640)
    assert_fails(invoke("detect", data, "-o", out, *FAST), 1, "already exists", "--force")
    assert out.read_text() == "old\n"
    result = invoke("detect", data, "-o", out, "--exclude", "id", "--force", *FAST)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("id,kind,a,b,count,label,anomaly_score,is_anomaly")
    assert os.stat(out).st_mode & 0o777 == 0o640  # the replaced file's permissions


def test_existing_model_out_needs_force(data, tmp_path):
    model_out = tmp_path / "m.anovae"
    model_out.write_text("old")
    result = invoke("fit", data, "--model-out", model_out, *FAST)
    assert_fails(result, 1, "already exists")
    assert model_out.read_text() == "old"


def test_input_is_never_overwritten(data, model):
    before = data.read_bytes()
    for args in (["detect", data, "-o", data, "--force"],
                 ["detect", data, "--model-out", data, "--force"],
                 ["score", data, "--model", model, "-o", data, "--force"],
                 ["score", data, "--model", model, "-o", model, "--force"]):
        assert_fails(invoke(*args, *(["-q"] if args[0] == "score" else FAST)), 2, "never overwrites its input")
    assert data.read_bytes() == before


def test_output_folder_must_exist(data, tmp_path):
    assert_fails(invoke("detect", data, "-o", tmp_path / "no" / "out.csv", *FAST), 1, "does not exist")


def test_new_output_gets_ordinary_permissions(data, tmp_path):
    out = tmp_path / "out.csv"
    result = invoke("detect", data, "-o", out, "--exclude", "id", *FAST)
    assert result.exit_code == 0, result.output
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~umask


# ---- listings and plugins -----------------------------------------------------------------
def test_thresholds_lists_names_and_descriptions_and_named_ones_with_parameters():
    result = invoke("thresholds")
    assert result.exit_code == 0, result.output
    assert "zscore: Cut at the mean" in result.stdout and "parameters" not in result.stdout
    assert "f1: " in result.stdout and "[needs --label-column]" in result.stdout
    rows = json.loads(invoke("thresholds", "--json").stdout)
    assert {"pot", "mad", "contamination"} <= {row["name"] for row in rows}
    assert all(row["description"] for row in rows)
    result = invoke("thresholds", "zscore", "pot")
    assert result.stdout.splitlines()[1] == "    parameters: k=3.0"
    assert "parameters: q=0.001, level=0.98" in result.stdout
    rows = json.loads(invoke("thresholds", "mad", "--json").stdout)
    assert rows[0]["parameters"] == {"k": 3.5}


def test_thresholds_with_an_unknown_name_suggests_one():
    result = invoke("thresholds", "zscor")
    assert result.exit_code == 2
    assert "unknown threshold strategy 'zscor'; did you mean 'zscore'?" in result.stderr


def test_datasets_lists_names_and_descriptions():
    result = invoke("datasets")
    assert result.exit_code == 0, result.output
    assert "nsl-kdd" in result.stdout and "NSL-KDD" in result.stdout
    rows = json.loads(invoke("datasets", "--json").stdout)
    assert any(row["name"] == "odds:cardio" for row in rows)


def test_plugins_lists_versions_hooks_and_with_verbose_registrations():
    result = invoke("plugins")
    assert result.exit_code == 0, result.output
    assert "thresholds 0.1.0 (built-in)" in result.stdout
    assert "  hooks: register_thresholds" in result.stdout
    assert "  thresholds:" not in result.stdout
    info = {p["name"]: p for p in json.loads(invoke("plugins", "--json").stdout)}
    assert info["datasets"]["hooks"] == ["register_datasets"]
    assert "registered" not in info["datasets"]
    result = invoke("plugins", "-v")
    assert "  thresholds: contamination, zscore" in result.stdout
    assert "  commands: impute" in result.stdout
    info = {p["name"]: p for p in json.loads(invoke("plugins", "--json", "--verbose").stdout)}
    assert "pot" in info["thresholds"]["registered"]["thresholds"]


class CommandPlugin:
    """A plugin adding one command and trying to replace a built-in one."""

    @staticmethod
    @hookimpl
    def register_commands(cli):
        import click

        @click.command(name="detect")
        def impostor():
            """Not the real detect."""

        @click.command()
        def greet():
            """Say hi."""
            click.echo("hi")

        cli.add_command(impostor)
        cli.add_command(greet)


@pytest.fixture
def command_plugin():
    manager = get_plugin_manager()
    manager.register(CommandPlugin, name="cli-test")
    yield
    manager.unregister(name="cli-test")


def test_plugin_commands_are_added_but_cannot_replace_built_ins(command_plugin, capsys):
    group = AnovaeGroup(name="anovae", commands={"detect": detect})
    names = group.list_commands(None)
    assert "greet" in names
    assert group.commands["detect"] is detect
    assert "plugin 'cli-test' tried to add command 'detect', already taken by built-in" in capsys.readouterr().err
    assert group.plugin_commands()["greet"] == "cli-test"


# ---- real processes -----------------------------------------------------------------------
def executable():
    found = shutil.which("anovae", path=os.path.dirname(sys.executable)) or shutil.which("anovae")
    if found is None:
        pytest.skip("the anovae executable is not installed (pip install -e .)")
    return found


def run(*args, env=None, **kwargs):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([executable(), *map(str, args)], capture_output=True, text=True,
                          env=environment, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder holding the installed example plugin and a plugin that fails to import."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    # Build from a copy: pip writes build/ and *.egg-info next to the sources.
    shutil.copytree(EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-input", "--disable-pip-version-check", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    broken = target / "anovae_broken_plugin-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: anovae-broken-plugin\nVersion: 0.1\n")
    (broken / "entry_points.txt").write_text("[anovae]\nbroken = anovae_broken_plugin_not_there\n")
    return target


def with_path(folder, **extra):
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])), **extra}


def test_example_plugin_strategy_is_listed_and_a_broken_plugin_skipped(plugin_path):
    result = run("thresholds", env=with_path(plugin_path))
    assert result.returncode == 0, result.stderr
    assert "example-top-k: Flag the k highest scores" in result.stdout
    assert "pot:" in result.stdout  # the built-in plugins still work
    assert "anovae: plugin 'broken' failed to load and was skipped" in result.stderr
    result = run("thresholds", "example-top-k", env=with_path(plugin_path))
    assert "parameters: k=10" in result.stdout


def test_a_broken_plugin_does_not_break_help(plugin_path):
    result = run("--help", env=with_path(plugin_path))
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout and "detect" in result.stdout
    assert "plugin 'broken' failed to load and was skipped" in result.stderr


def test_example_plugin_imputer_is_used_by_impute(plugin_path, tmp_path):
    frame = tiny_frame()
    frame.loc[[1, 5], "a"] = np.nan
    source = tmp_path / "holes.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "filled.csv"
    result = run("impute", source, "-o", out, "--method", "example-median", "--exclude", "id",
                 env=with_path(plugin_path, ANOVAE_PLUGINS="example"))
    assert result.returncode == 0, result.stderr
    filled = read_csv(out)
    assert filled["a"].notna().all()
    assert filled.loc[1, "a"] == filled.loc[5, "a"] == frame["a"].median()
    assert filled["kind"].tolist() == frame["kind"].tolist()  # text copied as it was
    result = run("impute", source, "-o", out, "--force", "--method", "example-mediam",
                 env=with_path(plugin_path, ANOVAE_PLUGINS="example"))
    assert result.returncode == 2
    assert "unknown imputer 'example-mediam'; did you mean 'example-median'?" in result.stderr


def test_example_plugin_strategy_is_used_by_detect(plugin_path, data):
    result = run("detect", data, "--exclude", "id", "--threshold", "example-top-k",
                 "--threshold-param", "k=5", *FAST, env=with_path(plugin_path))
    assert result.returncode == 0, result.stderr
    assert read_csv(result.stdout)["is_anomaly"].sum() == 5


def test_example_plugin_command_works_and_reports_bad_input_in_one_line(plugin_path, data, tmp_path):
    result = run("hello", data, "--name", "tester", env=with_path(plugin_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Hello, tester, from the example plugin!", f"{data}: 40 rows, 6 columns"]
    # The error boundary covers plugin commands too, in a real process.
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    # (leaving out the broken plugin, whose warning would come first)
    result = run("hello", ragged, env=with_path(plugin_path, ANOVAE_PLUGINS="example"))
    assert result.returncode == 1
    assert result.stderr == f"Error: {ragged}: line 3 has 3 fields but the header has 2\n"


def test_the_guides_test_fixture_works_with_the_plugin_installed(plugin_path, tmp_path):
    # docs/plugins.md section 6, run as a plugin author would, the plugin installed.
    guide = (REPO / "docs" / "plugins.md").read_text()
    section = guide[guide.index("## 6. Test it"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[: code.index("```")]
    test_file = tmp_path / "test_guide.py"
    test_file.write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, **with_path(plugin_path, ANOVAE_PLUGINS="example")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_anovae_plugins_restricts_what_loads(plugin_path):
    # Built-ins always load; the variable selects third-party plugins only.
    result = run("thresholds", env=with_path(plugin_path, ANOVAE_PLUGINS=""))
    assert result.returncode == 0, result.stderr
    assert "example-top-k" not in result.stdout and "zscore:" in result.stdout
    assert "broken" not in result.stderr
