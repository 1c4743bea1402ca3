"""Output written in the format its name asks for, and tables read from several files.

``-o out.csv.gz`` / ``.bz2`` / ``.xz`` / ``.zst`` is compressed CSV with the input's
cells as written; ``-o out.parquet`` is Parquet with typed columns, written row
group by row group when ``score`` streams; a compression anovae does not write is
refused before any work. DATA may be a folder of part files or a glob (issue 11's
"writer by suffix", issue 13's partitioned input).
"""

import bz2
import gzip
import lzma
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import anovae
from anovae import VAE
from anovae.cli import cli

SMALL = dict(max_epochs=2, hidden_layer_sizes=(16,), latent_dim=2, random_state=0)
OPENERS = {".csv.gz": gzip.open, ".csv.bz2": bz2.open, ".csv.xz": lzma.open}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def table(n=200, seed=0):
    """Cells a careless writer would rewrite (leading and trailing zeros), an integer
    column, a text column and a label."""
    rng = np.random.RandomState(seed)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in range(n)],
            "a": [f"{v:.3f}0" for v in a],
            "b": (2 * a + rng.normal(scale=0.1, size=n)).round(3),
            "count": rng.randint(0, 9, size=n),
            "kind": rng.choice(["x", "y"], n),
            "label": (rng.rand(n) < 0.1).astype(int),
        }
    )


def write_text(frame, path):
    path.write_text(frame.to_csv(index=False))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    frame = pd.read_csv(write_text(table(), folder / "train.csv"))
    vae = VAE(**SMALL).fit(frame[["a", "b", "count", "kind"]])
    return anovae.save(vae, folder / "model.anovae")


@pytest.fixture
def data(tmp_path):
    return write_text(table(), tmp_path / "data.csv")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def score(data, model, out, *extra):
    result = invoke("score", data, "--model", model, "-o", out, "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return out


# ---- compressed CSV ------------------------------------------------------------------
def compressed_suffixes():
    suffixes = list(OPENERS)
    try:
        import zstandard  # noqa: F401

        suffixes.append(".csv.zst")
    except ImportError:
        pass
    return suffixes


@pytest.mark.parametrize("suffix", compressed_suffixes())
def test_compressed_csv_holds_the_cells_as_written(tmp_path, data, model, suffix):
    plain = score(data, model, tmp_path / "plain.csv", "--chunksize", "64")
    packed = score(data, model, tmp_path / f"out{suffix}", "--chunksize", "64")
    if suffix == ".csv.zst":
        import zstandard

        text = zstandard.ZstdDecompressor().decompress(packed.read_bytes(), max_output_size=1 << 24).decode()
    else:
        with OPENERS[suffix](packed, "rt", encoding="utf-8", newline="") as handle:
            text = handle.read()
    assert text == plain.read_text()
    lines = text.splitlines()
    assert lines[0] == "id,a,b,count,kind,label,anomaly_score,is_anomaly"
    assert [line.split(",")[:6] for line in lines[1:]] == [
        line.split(",") for line in data.read_text().splitlines()[1:]
    ]
    assert lines[1].startswith("00000,") and lines[1].split(",")[1].endswith("0")
    # pandas reads it back by its suffix, as any tool would.
    assert len(pd.read_csv(packed)) == 200


def test_gzip_header_names_the_output_not_its_temporary_file(tmp_path, data, model):
    out = score(data, model, tmp_path / "scores.csv.gz")
    header = out.read_bytes()[:64]
    assert b"scores.csv\x00" in header and b".tmp" not in header


def test_detect_and_impute_write_compressed_csv(tmp_path, data):
    out = tmp_path / "detect.csv.xz"
    result = invoke("detect", data, "--exclude", "id", "--epochs", "2", "--quiet", "-o", out)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 200
    holes = table()
    holes["b"] = holes["b"].astype(object)
    holes.loc[[3, 9], "b"] = ""
    source = write_text(holes, tmp_path / "holes.csv")
    out = tmp_path / "filled.csv.gz"
    result = invoke("impute", source, "--exclude", "id", "--epochs", "2", "--quiet", "-o", out)
    assert result.exit_code == 0, result.output
    with gzip.open(out, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[1] == source.read_text().splitlines()[1]  # untouched cells as written
    assert lines[4].split(",")[2] != ""


@pytest.mark.parametrize("name", ["out.csv.zip", "out.csv.lz4", "out.7z"])
def test_a_compression_anovae_does_not_write_is_a_usage_error_before_any_work(tmp_path, data, name):
    result = invoke("detect", data, "--exclude", "id", "--epochs", "500", "-o", tmp_path / name)
    suffix = "." + name.rsplit(".", 1)[1]
    one_line_error(result, name, f"does not write {suffix} files", ".parquet", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_zstd_without_its_module_is_one_line(tmp_path, data, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed
    result = invoke("score", data, "--model", model, "-o", tmp_path / "out.csv.zst")
    one_line_error(result, "out.csv.zst", "zstandard")
    assert not (tmp_path / "out.csv.zst").exists()


# ---- Parquet ---------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_output_has_typed_columns_and_one_row_group_per_chunk(tmp_path, data, model, suffix):
    out = score(data, model, tmp_path / f"out{suffix}", "--chunksize", "64")
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == 4  # 64 + 64 + 64 + 8 rows
    schema = parquet.schema_arrow
    assert schema.names == ["id", "a", "b", "count", "kind", "label", "anomaly_score", "is_anomaly"]
    kind = schema.field("kind").type
    assert pa.types.is_string(kind) or pa.types.is_large_string(kind)
    assert schema.field("a").type == pa.float64()  # a number, not the text "0.1230"
    # Values as read: a column the model does not use is typed as pandas reads it.
    assert schema.field("id").type == pa.int64() and schema.field("count").type == pa.int64()
    assert schema.field("anomaly_score").type == pa.float64()
    assert schema.field("is_anomaly").type == pa.int64()
    written = pq.read_table(out).to_pandas()
    assert written["id"].tolist() == list(range(200))
    plain = pd.read_csv(score(data, model, tmp_path / "plain.csv"))
    np.testing.assert_allclose(written["anomaly_score"], plain["anomaly_score"], rtol=1e-12)
    assert (written["is_anomaly"].to_numpy() == plain["is_anomaly"].to_numpy()).all()


def test_detect_writes_parquet(tmp_path, data):
    out = tmp_path / "out.parquet"
    result = invoke("detect", data, "--exclude", "id", "--epochs", "2", "--quiet", "-o", out)
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    assert len(written) == 200 and written["count"].dtype.kind == "i"


def test_a_later_chunk_that_cannot_take_the_first_chunks_types_is_one_line(tmp_path, model):
    frame = table()
    frame["note"] = [str(i) for i in range(150)] + ["late text"] * 50  # integers, then text
    data = write_text(frame, tmp_path / "data.csv")
    out = tmp_path / "out.parquet"
    result = invoke("score", data, "--model", model, "-o", out, "--chunksize", "100")
    one_line_error(result, "out.parquet", "column 'note'", "from row 101 on", "the first 100 rows", "--chunksize")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
    # Types that can be cast are: integers in the first chunk, decimals later.
    frame["note"] = [str(i) for i in range(150)] + ["1.5"] * 50
    write_text(frame, data)
    result = invoke("score", data, "--model", model, "-o", out, "--chunksize", "100", "--quiet")
    one_line_error(result, "column 'note'")
    score(data, model, out, "--chunksize", "1000")  # one chunk: one type, decimals
    assert pq.ParquetFile(out).schema_arrow.field("note").type == pa.float64()


def test_duplicate_column_names_cannot_be_parquet(tmp_path, model):
    # A copy of a column the model does not use is fine for CSV, not for Parquet.
    data = tmp_path / "data.csv"
    data.write_text(table().to_csv(index=False).replace("label", "id", 1))
    score(data, model, tmp_path / "out.csv")
    result = invoke("score", data, "--model", model, "-o", tmp_path / "out.parquet")
    one_line_error(result, "out.parquet", "'id' appears more than once")


@pytest.mark.parametrize("suffix", [".parquet", ".csv.gz"])
def test_a_failure_after_some_chunks_leaves_no_file(tmp_path, model, suffix):
    frame = table()
    frame["b"] = frame["b"].astype(object)
    frame.loc[150, "b"] = "inf"
    data = write_text(frame, tmp_path / "data.csv")
    result = invoke("score", data, "--model", model, "-o", tmp_path / f"out{suffix}", "--chunksize", "50")
    one_line_error(result, "data.csv", "column 'b'", "line 152")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# ---- several input files ----------------------------------------------------------------
def split(frame, folder, suffix, sizes=(70, 70, 60)):
    folder.mkdir(exist_ok=True)
    start = 0
    for i, size in enumerate(sizes):
        part = frame.iloc[start : start + size]
        # Numbered as writers do: part.10 must come after part.2.
        name = folder / f"part.{i * 5}{suffix}"
        if suffix == ".parquet":
            pd.read_csv(write_text(part, folder / "_tmp.csv"), dtype={"id": str}).to_parquet(name, index=False)
            (folder / "_tmp.csv").unlink()
        else:
            write_text(part, name)
        start += size
    return folder


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("pattern", ["folder", "glob"])
def test_a_folder_or_glob_is_scored_as_one_table_in_order(tmp_path, data, model, suffix, pattern):
    folder = split(table(), tmp_path / "parts", suffix)
    (folder / "_SUCCESS").write_text("")  # writers' marker files are not data
    # Writers leave files without rows for empty partitions: skipped.
    if suffix == ".parquet":
        pq.write_table(pq.read_table(folder / "part.0.parquet").slice(0, 0), folder / "part.99.parquet")
    else:
        (folder / "part.99.csv").write_text("id,a,b,count,kind,label\n")
    source = folder if pattern == "folder" else folder / f"part.*{suffix}"
    whole = pd.read_csv(score(data, model, tmp_path / "whole.csv"))
    for command in ("score", "detect"):
        extra = ["--chunksize", "30"] if command == "score" else []
        result = invoke(command, source, "--model", model, "-o", tmp_path / f"{command}.csv", "--quiet", *extra)
        assert result.exit_code == 0, result.output
        parts = pd.read_csv(tmp_path / f"{command}.csv", dtype={"id": str})
        assert parts["id"].tolist() == [f"{i:05d}" for i in range(200)]
        # Scores do not depend on the rows scored alongside, to float32 rounding.
        np.testing.assert_allclose(parts["anomaly_score"], whole["anomaly_score"], rtol=1e-6)


def test_a_folder_of_compressed_parts_is_scored_like_the_whole_file(tmp_path, data, model):
    import zipfile

    folder = split(table(), tmp_path / "parts", ".csv")
    parts = sorted(folder.glob("*.csv"))
    # One part of each kind a single file may be: gzip, zip, plain.
    with open(parts[0], "rb") as plain, gzip.open(f"{parts[0]}.gz", "wb") as packed:
        packed.write(plain.read())
    with zipfile.ZipFile(f"{parts[1]}.zip", "w") as archive:
        archive.write(parts[1], parts[1].name)
    parts[0].unlink()
    parts[1].unlink()
    whole = pd.read_csv(score(data, model, tmp_path / "whole.csv"))
    result = invoke("score", folder, "--model", model, "-o", tmp_path / "out.csv", "--quiet")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "out.csv", dtype={"id": str})
    assert sorted(scored["id"]) == [f"{i:05d}" for i in range(200)]
    by_id = whole.assign(id=whole["id"].map("{:05d}".format)).set_index("id")["anomaly_score"]
    np.testing.assert_allclose(scored["anomaly_score"], by_id[scored["id"]].to_numpy(), rtol=1e-6)


def test_a_bad_value_in_a_part_names_the_part_and_its_line(tmp_path, model):
    frame = table()
    frame["b"] = frame["b"].astype(object)
    frame.loc[150, "b"] = "inf"  # the 11th row of the third part (rows 140-199)
    folder = split(frame, tmp_path / "parts", ".csv")
    for command in ("score", "detect"):
        result = invoke(command, folder / "*.csv", "--model", model, "-o", tmp_path / "out.csv")
        one_line_error(result, "column 'b'", f"line 12 of {folder / 'part.10.csv'}")


def test_parts_with_other_columns_are_refused_naming_the_part(tmp_path, model):
    folder = split(table(), tmp_path / "parts", ".csv")
    write_text(table(10).drop(columns="label"), folder / "part.3.csv")
    result = invoke("score", folder, "--model", model, "-o", tmp_path / "out.csv")
    one_line_error(result, "part.3.csv", "columns differ from those of", "part.0.csv", "lacks 'label'")
    assert not (tmp_path / "out.csv").exists()


def test_multi_file_input_errors(tmp_path, model):
    folder = split(table(), tmp_path / "parts", ".csv")
    result = invoke("score", tmp_path / "nothing-*.csv", "--model", model)
    one_line_error(result, "nothing-*.csv", "no file matches")
    table().to_parquet(folder / "extra.parquet")
    result = invoke("score", folder, "--model", model)
    one_line_error(result, "both Parquet and CSV", "*.parquet")
    (tmp_path / "empty").mkdir()
    result = invoke("detect", tmp_path / "empty", "--epochs", "2")
    one_line_error(result, "no CSV or Parquet file")


def test_an_output_that_is_one_of_the_input_parts_is_refused(tmp_path, model):
    folder = split(table(), tmp_path / "parts", ".csv")
    before = (folder / "part.5.csv").read_text()
    result = invoke("score", folder / "*.csv", "--model", model, "-o", folder / "part.5.csv", "--force")
    one_line_error(result, "part.5.csv", "never overwrites its input", code=2)
    assert (folder / "part.5.csv").read_text() == before
