"""Rows kept as their lines (TextRows) write exactly what the DataFrame of cells writes."""

import io

import numpy as np
import pytest

from anovae.cli._detection import with_results
from anovae.cli._io import iter_table, read_table, write_csv
from anovae.cli._text_rows import TextRows

PLAIN = "id,a,b,kind\n007,1.50,2,x\n008,1e3,NA,y\n009,,3,x\n010,7.50,-0,z\n"


def _both_ways(path, **options):
    """Output text through the lines path and through the DataFrame-of-cells path."""
    frame, lines = read_table(path, cells="text", **options)
    _, cells = read_table(path, cells=True, **options)
    scores = np.linspace(-1.5, 2.25, len(frame))
    flags = (scores > 0).astype(np.int64)
    names = ("anomaly_score", "is_anomaly")
    fast, slow = io.StringIO(), io.StringIO()
    out = with_results(lines, names, scores, flags)
    (out.write(fast) if isinstance(out, TextRows) else write_csv(out, fast))
    write_csv(with_results(cells, names, scores, flags), slow)
    return lines, fast.getvalue(), slow.getvalue()


def test_plain_file_is_kept_as_lines_and_written_like_its_cells(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(PLAIN)
    lines, fast, slow = _both_ways(str(path))
    assert isinstance(lines, TextRows)
    assert fast == slow
    assert fast.splitlines()[1] == "007,1.50,2,x,-1.5,0"


def test_semicolon_and_decimal_comma_are_kept(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1,5;2\n3,25;4\n5,0;6\n")
    lines, fast, slow = _both_ways(str(path))
    assert isinstance(lines, TextRows) and fast == slow
    assert fast.splitlines()[1] == "1,5;2;-1,5;0"


@pytest.mark.parametrize(
    "content",
    [
        'id,a,b\n1,"x, y",2\n2,z,3\n',  # a quoted separator
        "id,a,b\n1,x,2\n\n2,z,3\n",  # a blank line (not a row)
        "id,a,b\n1,x\n2,z,3\n",  # a short row, padded by pandas
    ],
    ids=["quoted", "blank-line", "ragged"],
)
def test_files_that_are_not_plain_lines_keep_their_cells(tmp_path, content):
    path = tmp_path / "odd.csv"
    path.write_text(content)
    lines, fast, slow = _both_ways(str(path))
    assert not isinstance(lines, TextRows)
    assert fast == slow


def test_crlf_lines_are_rows(tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(PLAIN.replace("\n", "\r\n").encode())
    lines, fast, slow = _both_ways(str(path))
    assert isinstance(lines, TextRows) and fast == slow


@pytest.mark.parametrize(
    "content, plain_chunks",
    [
        (PLAIN, [True, True]),
        ("id,a\n1,x\n\n2,y\n3\n4,w\n", [True, False]),  # blank line skipped; a short row
    ],
    ids=["plain", "blank-and-short"],
)
def test_streamed_chunks_match_the_cells_reader(tmp_path, content, plain_chunks):
    path = tmp_path / "stream.csv"
    path.write_text(content)
    fast = list(iter_table(str(path), chunksize=2, cells="text"))
    slow = list(iter_table(str(path), chunksize=2, cells=True))
    assert [isinstance(raw, TextRows) for _, raw in fast] == plain_chunks
    for (frame, raw), (_, cells) in zip(fast, slow):
        scores = np.arange(len(frame), dtype=float)
        flags = np.zeros(len(frame), dtype=np.int64)
        a, b = io.StringIO(), io.StringIO()
        out = with_results(raw, ("s", "f"), scores, flags)
        (out.write(a, header=False) if isinstance(out, TextRows) else write_csv(out, a, header=False))
        write_csv(with_results(cells, ("s", "f"), scores, flags), b, header=False)
        assert a.getvalue() == b.getvalue()


def test_a_quote_anywhere_makes_the_stream_use_cells(tmp_path):
    path = tmp_path / "late_quote.csv"
    path.write_text("id,a\n1,x\n2,y\n3,\"z\"\n")
    assert all(not isinstance(raw, TextRows) for _, raw in iter_table(str(path), chunksize=2, cells="text"))


def test_lines_read_a_block_at_a_time_are_the_file_s_lines(tmp_path):
    from anovae.cli._text_rows import _Lines

    # CRLF and a two-byte character fall across block boundaries at block size 7;
    # blank lines are skipped and the last line has no line ending.
    text = "h1,h2\r\nab,1\r\n\r\nçé,2\nx,3\n\nlast,4"
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    expected = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    for block in (1, 2, 7, 1 << 22):
        with open(path, "rb") as handle:
            lines = _Lines(handle, block=block)
            got = lines.take(2) + lines.take(3) + lines.take(10)
            assert got == expected and lines.take(5) == []


@pytest.mark.parametrize("decimal", [".", ","])
def test_result_columns_are_formatted_as_pandas_writes_them(decimal):
    import pandas as pd

    from anovae.cli._text_rows import _csv_text

    rng = np.random.RandomState(0)
    floats = np.concatenate([rng.normal(size=2000) * 10.0 ** rng.randint(-20, 20, size=2000),
                             [0.0, -0.0, 1e16, 1e-5, 1.5, 100.0, 1e22, 5e-324]])
    for column in (floats, (floats > 0).astype(np.int64), floats > 0):
        expected = pd.DataFrame({0: column}).to_csv(
            index=False, header=False, sep=";", decimal=decimal, lineterminator="\n"
        ).split("\n")[:-1]
        assert _csv_text(column, decimal) == expected
    # Anything else goes through pandas itself.
    assert _csv_text(np.array([1.0, np.nan]), decimal) is None
    assert _csv_text(floats.astype(np.float32), decimal) is None
