"""Reading tables and writing results, for anovae's commands and plugin commands.

Everything a command that turns a data file into an output file needs, with the
failure modes already handled:

- :func:`read_table` reads a whole CSV or Parquet file; :func:`iter_table` streams
  one in chunks. ``"-"`` means standard input (CSV). A folder of part files or a glob
  (:func:`table_parts`) is read as one table, file after file.
- :func:`check_columns` checks column names given on the command line, with a
  "did you mean"; :func:`check_not_empty`, :func:`check_finite` and
  :func:`check_numeric` check feature values; :func:`row_label` says where a row is.
- :func:`check_output_path` refuses, before any work is done, an output that is the
  input, that exists (without ``--force``) or whose folder cannot be written;
  :func:`atomic_path` and :func:`open_output` write through a temporary file in the
  target folder that replaces the target only once complete, so a failed run leaves
  no partial file; :func:`write_csv` writes one frame (or one chunk) of results.
  ``_output.py`` builds on these to write CSV, compressed CSV or Parquet by the
  output name's suffix.

Every error raised here is an :class:`anovae.errors.DataError` (exit code 1) or a
click usage error (exit code 2), with a one-line message naming the file and, where
known, the column and line. Commands need no ``try``/``except``: the root group's
error boundary (see ``_errors.py``, re-exported here as :func:`error_boundary`)
turns them into ``Error: ...`` lines.

CSV conventions: UTF-8 (a byte-order mark is accepted), comma-separated, one header
line. Column types are inferred by pandas with nullable dtypes, so an integer column
with blanks stays an integer column in the output. Lines are counted from 1, the
header being line 1, assuming one line per row (no quoted line breaks).
"""

import bisect
import contextlib
import csv
import difflib
import glob
import importlib
import os
import re
import sys
import tempfile
import warnings

import click
import numpy as np
import pandas as pd

from .._atomic import PublishError, TargetExistsError, atomic_write
from ..errors import DataError
from ._compression import DECODER_ERRORS, decompression_error
from ._errors import error_boundary
from ._text_rows import TextRows, cells_frame, iter_text_rows, read_text_rows

__all__ = [
    "STDIO",
    "atomic_path",
    "check_columns",
    "check_finite",
    "check_not_empty",
    "check_numeric",
    "check_output_path",
    "error_boundary",
    "fill_cells",
    "is_parquet",
    "iter_table",
    "open_output",
    "read_table",
    "row_label",
    "table_parts",
    "write_csv",
]

#: The path that means standard input (for data) or standard output (for results).
STDIO = "-"
PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_OPTIONS = {
    # utf-8-sig also reads plain UTF-8, and strips the BOM spreadsheet programs write
    # (which would otherwise become part of the first column's name).
    "encoding": "utf-8-sig",
    # Without it pandas silently turns the first column into the index when the
    # first row has one field too many.
    "index_col": False,
    "dtype_backend": "numpy_nullable",
}
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


# ---- reading -------------------------------------------------------------------------
def is_parquet(path):
    """Whether ``path`` is read as Parquet (by its suffix) rather than CSV."""
    return path != STDIO and str(path).lower().endswith(PARQUET_SUFFIXES)


def row_label(path, position):
    """How to point a user at the row at 0-based ``position``: ``line 12`` or ``row 11``.

    For a table read from several files (see :func:`table_parts`), the row's own file:
    ``line 12 of data/part-3.csv``.
    """
    starts = _PART_STARTS.get(_part_key(path))
    if starts:
        index = max(bisect.bisect_right([start for start, _ in starts], position) - 1, 0)
        start, part = starts[index]
        return f"{row_label(part, position - start)} of {part}"
    if is_parquet(path):
        return f"row {position + 1}"
    return f"line {position + 2}"


def _source(path):
    """Return what pandas should read for ``path``, or raise DataError."""
    if path == STDIO:
        return sys.stdin.buffer
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied")
    if is_parquet(path):
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            # A core dependency: only a broken installation lacks it.
            raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    return path


def _first_non_utf8_line(path):
    # Only on failure: pandas reports a byte offset inside its read buffer, which
    # means nothing to the user. A newline byte never occurs inside a multi-byte
    # UTF-8 character, so splitting the raw bytes on it is safe.
    if path == STDIO:
        return None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


@contextlib.contextmanager
def _reading(path):
    """Translate what pandas and pyarrow raise while reading into one-line DataErrors."""
    try:
        with warnings.catch_warnings():
            # With index_col=False pandas only warns, then drops the extra fields.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: line 2 has more fields than the header") from None
    except pd.errors.ParserError as exc:
        match = _FIELDS_RE.search(str(exc))
        if match:
            expected, line, saw = match.groups()
            raise DataError(
                f"{path}: line {line} has {saw} fields but the header has {expected}"
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV file ({first})") from None
    except UnicodeDecodeError as exc:
        line = _first_non_utf8_line(path)
        where = f" on line {line}" if line else ""
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{byte}{where}); save the file as UTF-8"
        ) from None
    except Exception as exc:
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
        compressed = decompression_error(path, exc)
        if compressed is not None:
            raise compressed from None
        raise


def _check_shape(frame, path):
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no columns")
    if frame.shape[0] == 0:
        raise DataError(f"{path}: no data rows (only a header)")


# ---- tables kept in several files: a folder of parts, or a glob ------------------------
_GLOB_CHARS = ("*", "?", "[")
_TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".psv", ".txt")
# Where each file of a multi-file table starts (0-based row, file), by the path the
# user gave, so that row_label can name the file and its own line.
_PART_STARTS = {}


def _part_key(path):
    return None if path is None or path == STDIO else os.fspath(path)


def _is_data_name(name):
    return _inner_suffix(name) in PARQUET_SUFFIXES + _TEXT_SUFFIXES


def _natural_key(path):
    # part.10 after part.9, in the order the writer numbered them.
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", path)]


def table_parts(path):
    """The files of a table kept in several, in order; None when ``path`` is one file.

    A folder contributes its CSV and Parquet files (compressed CSV included), except
    names starting with ``.`` or ``_`` (``_SUCCESS``, ``_metadata``); a glob such as
    ``data/part-*.csv`` every file it matches. Natural order: ``part.2`` before
    ``part.10``. Raises DataError when nothing matches or when Parquet and CSV files
    are mixed.
    """
    if _part_key(path) is None:
        return None
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = [os.path.join(path, name) for name in os.listdir(path)
                      if not name.startswith((".", "_")) and _is_data_name(name)]
        files = [name for name in candidates if os.path.isfile(name)]
        if not files:
            raise DataError(f"{path}: the folder holds no CSV or Parquet file")
    elif not os.path.lexists(path) and any(char in path for char in _GLOB_CHARS):
        files = [name for name in glob.glob(path) if os.path.isfile(name)]
        if not files:
            raise DataError(f"{path}: no file matches")
    else:
        return None
    if len({is_parquet(name) for name in files}) > 1:
        raise DataError(
            f"{path}: holds both Parquet and CSV files; give a glob that matches one kind, "
            f"such as {os.path.join(path, '*.parquet') if os.path.isdir(path) else path + '.parquet'}"
        )
    return sorted(files, key=_natural_key)


def _has_rows(part):
    """False for a part with no data row (writers leave such files for empty partitions)."""
    if is_parquet(part):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(part).metadata.num_rows > 0
        except Exception:
            return True  # reading it reports the problem, naming the file
    opener = _plain_opener(part)
    if opener is None:
        return True
    try:
        with opener(part, "rb") as handle:
            lines = 0
            for line in handle:
                lines += bool(line.strip())
                if lines == 2:
                    return True
        return False
    except (OSError, EOFError, ValueError):
        return True


def _check_part_columns(part, columns, first_part, first_columns):
    columns = [str(c) for c in columns]
    if columns != first_columns:
        missing = [c for c in first_columns if c not in columns]
        extra = [c for c in columns if c not in first_columns]
        what = (f"lacks {', '.join(map(repr, missing))}" if missing else
                f"has {', '.join(map(repr, extra))} more" if extra else "has them in another order")
        raise DataError(f"{part}: its columns differ from those of {first_part} (it {what})")


def _read_parts(path, parts, *, cells, **options):
    """read_table for several files: their rows in order, the files' columns alike."""
    frames, raws, starts, first = [], [], [], None
    rows = 0
    for part in parts:
        if not _has_rows(part):
            continue
        frame, raw = read_table(part, cells=True, **options) if cells else (read_table(part, **options), None)
        if first is None:
            first = (part, [str(c) for c in frame.columns])
        else:
            _check_part_columns(part, frame.columns, *first)
        starts.append((rows, part))
        rows += len(frame)
        frames.append(frame)
        raws.append(raw)
    if not frames:
        raise DataError(f"{path}: no data rows in any of its {len(parts)} file(s)")
    _PART_STARTS[_part_key(path)] = starts
    frame = pd.concat(frames, ignore_index=True)
    if not cells:
        return frame
    raw = None
    if raws[0] is not None:
        raw = pd.concat(raws, ignore_index=True)
        raw.attrs.update(raws[0].attrs)  # written back with the first file's separator
    return frame, raw


def _iter_parts(path, parts, *, chunksize, cells, **options):
    """iter_table for several files, one after the other; the index runs on across them."""
    starts = []
    _PART_STARTS[_part_key(path)] = starts
    offset, first = 0, None
    for part in parts:
        if not _has_rows(part):
            continue
        starts.append((offset, part))
        rows = 0
        # The rows' text is kept as cells (not lines) across files: the output is
        # written with the first file's separator (see _read_parts).
        for item in iter_table(part, chunksize=chunksize, cells=bool(cells), **options):
            frame, raw = item if cells else (item, None)
            if first is None:
                first = (part, [str(c) for c in frame.columns])
            elif rows == 0:
                _check_part_columns(part, frame.columns, *first)
            rows += len(frame)
            frame.index = frame.index + offset
            if raw is not None:
                raw.index = frame.index
            yield item
        offset += rows
    if not starts:
        raise DataError(f"{path}: no data rows in any of its {len(parts)} file(s)")


# ---- the dialect: separator and decimal mark -------------------------------------------
#: Separators a table is sniffed for, in order of preference when several fit.
SEPARATORS = (",", ";", "\t", "|")
_SUFFIX_SEP = {".tsv": "\t", ".tab": "\t", ".psv": "|"}
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
#: Compressed files read by their own readers (``_compression``): zstandard is an
#: optional package, and a zip archive holds a member rather than a stream.
_ARCHIVES = (".zst", ".zip")
_SNIFF_BYTES = 1 << 16
_DECIMAL_COMMA_RE = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_stdin_copy = None


def _stdin_path():
    """Standard input copied to a temporary file once, so it can be read twice (sniffed
    and parsed, then read again as verbatim cells). Removed when the process ends."""
    global _stdin_copy
    if _stdin_copy is None:
        _stdin_copy = tempfile.NamedTemporaryFile(prefix="anovae-stdin-", suffix=".csv")
        while True:
            block = sys.stdin.buffer.read(1 << 20)
            if not block:
                break
            _stdin_copy.write(block)
        _stdin_copy.flush()
    return _stdin_copy.name


def _inner_suffix(path):
    """The suffix that says what the file holds: ``.tsv`` for ``data.tsv.gz``."""
    name = os.path.basename(str(path)).lower()
    stem, suffix = os.path.splitext(name)
    if suffix in _COMPRESSED or suffix in _ARCHIVES:
        suffix = os.path.splitext(stem)[1]
    return suffix


def _plain_opener(path):
    """``open``, or the standard library's ``open`` for a .gz, .bz2 or .xz file, giving
    the file's bytes; None for a .zst or .zip file, which these cannot read."""
    suffix = os.path.splitext(str(path).lower())[1]
    if suffix in _ARCHIVES:
        return None
    module = _COMPRESSED.get(suffix)
    return open if module is None else importlib.import_module(module).open


def _head_lines(path):
    """The first lines of a (possibly compressed) text file, for sniffing; [] if unreadable."""
    opener = _plain_opener(path)
    if opener is None:
        return []
    try:
        with opener(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, ValueError, *DECODER_ERRORS):
        return []  # reading it properly will report the problem, naming the file
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    # The last line may be cut off by the sniffing limit.
    return lines[:-1] if len(head) == _SNIFF_BYTES and len(lines) > 1 else lines


def _fields(line, sep):
    return next(csv.reader([line], delimiter=sep), [])


def sniff_separator(lines):
    """The separator that splits every line into the same number (> 1) of fields.

    The most fields wins; ties go to the earlier of SEPARATORS. None when no
    candidate splits the header.
    """
    best, best_count = None, 1
    for sep in SEPARATORS:
        counts = {len(_fields(line, sep)) for line in lines[:50]}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    return best


def table_dialect(path, sep=None, decimal=None):
    """``(sep, decimal)`` to read the CSV ``path`` with: given, by suffix, or sniffed.

    A ``.tsv`` / ``.tab`` file is tab-separated and a ``.psv`` one pipe-separated;
    otherwise the first lines are sniffed (default ``,``). The decimal mark is ``.``
    unless the separator is ``;`` and the numbers are written like ``7,5``.
    """
    if sep is None:
        sep = _SUFFIX_SEP.get(_inner_suffix(path))
    lines = None
    if sep is None:
        lines = _head_lines(path)
        sep = sniff_separator(lines) or ","
    if decimal is None:
        decimal = "."
        if sep not in (",",):
            lines = _head_lines(path) if lines is None else lines
            cells = [cell for line in lines[1:50] for cell in _fields(line, sep)]
            if any(_DECIMAL_COMMA_RE.match(c) for c in cells) and not any(
                re.match(r"^\s*[-+]?\d+\.\d+\s*$", c) for c in cells
            ):
                decimal = ","
    if sep == decimal:
        raise click.BadParameter(f"the separator and the decimal mark are both {sep!r}", param_hint="'--decimal'")
    return sep, decimal


def _check_one_column(frame, path, sep):
    """A table read as one column whose header holds another separator was misread."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for other in SEPARATORS:
        if other != sep and other in header:
            shown = "\\t" if other == "\t" else other
            raise DataError(
                f"{path}: read as a single column, but its header contains {shown!r}; "
                f"give the separator with --sep '{shown}'"
            )


# ---- reading -----------------------------------------------------------------------------
def _cells_options(sep):
    # Every cell as the exact text between the separators: no NA detection, no
    # number parsing, header kept as a row so duplicate and empty names survive.
    return dict(sep=sep, dtype=str, header=None, keep_default_na=False, na_filter=False, encoding="utf-8-sig", index_col=False)


def _verbatim_header(path, sep):
    with _reading(path):
        first = pd.read_csv(path, nrows=1, **_cells_options(sep))
    return [str(v) for v in first.iloc[0].tolist()]


def read_table(path, *, dtype=None, sep=None, decimal=None, na_values=None, cells=False):
    """Read a whole CSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str
        The file, or ``"-"`` for CSV on standard input.
    dtype : dict, optional
        ``{column: dtype}`` to force, for example ``"string"`` for columns a model
        treats as categorical, so that ``"007"`` stays text.
    sep, decimal : str, optional
        The CSV separator and decimal mark; by default found by :func:`table_dialect`.
    na_values : list of str, optional
        More cell values to read as missing (in ``frame`` only: ``cells`` keeps them).
    cells : bool or "text"
        Also return the cells exactly as written, for output: ``(frame, cells)``,
        where ``cells`` is a DataFrame of strings whose column labels are the header
        as written (duplicates and empty names included), or None for Parquet. The
        model reads ``frame``; the output copies ``cells``. With ``"text"``, a plain
        CSV file's rows come as their lines instead (a ``TextRows``, much faster to
        keep and to write back; see ``_text_rows.py``) when the file allows it.

    Raises
    ------
    DataError
        Missing file, a directory, an empty or header-only file, ragged rows,
        bytes that are not UTF-8, a corrupt Parquet file, a table that parses to a
        single column whose header holds another separator.

    A folder of part files or a glob (see :func:`table_parts`) reads every file, in
    order, as one table; the files must have the same columns.
    """
    parts = table_parts(path)
    if parts is not None:
        return _read_parts(path, parts, dtype=dtype, sep=sep, decimal=decimal, na_values=na_values, cells=cells)
    source = _source(path)
    raw = None
    with _reading(path):
        if is_parquet(path):
            frame = pd.read_parquet(source)
            if dtype:
                frame = frame.astype({k: v for k, v in dtype.items() if k in frame.columns})
        else:
            if path == STDIO:
                source = _stdin_path()
            sep, decimal = table_dialect(source, sep, decimal)
            frame = pd.read_csv(source, dtype=dtype, sep=sep, decimal=decimal, na_values=na_values, **_CSV_OPTIONS)
            _check_one_column(frame, path, sep)
            # Column names as written: pandas renames a duplicate 'a' to 'a.1' and an
            # empty name to 'Unnamed: 1', names the user never wrote.
            header = _verbatim_header(source, sep)
            if len(header) == frame.shape[1]:
                frame.columns = header
            if cells == "text":
                raw = read_text_rows(source, sep, decimal, len(frame))
            if cells and raw is None:
                raw = pd.read_csv(source, skiprows=1, names=range(len(header)), **_cells_options(sep))
                raw.columns = header
                raw.attrs.update(sep=sep, decimal=decimal)
    _check_shape(frame, path)
    if cells:
        if raw is not None and len(raw) != len(frame):
            raise DataError(f"{path}: rows could not be matched to their text (quoted line breaks?)")
        return frame, raw
    return frame


def iter_table(path, *, chunksize, dtype=None, sep=None, decimal=None, na_values=None, cells=False):
    """Stream a CSV or Parquet file as DataFrames of at most ``chunksize`` rows.

    The index of each chunk continues from the previous one, so :func:`row_label`
    works on it. Memory is bounded by the chunk size whatever the file size. Raises
    the errors of :func:`read_table`, possibly after some chunks were yielded (a bad
    line far into the file), so write the output with :func:`open_output`. With
    ``cells``, yields ``(frame, cells)`` pairs as :func:`read_table` returns them.
    A folder or a glob is streamed file by file (a chunk never spans two files).
    """
    parts = table_parts(path)
    if parts is not None:
        yield from _iter_parts(
            path, parts, chunksize=chunksize, dtype=dtype, sep=sep, decimal=decimal, na_values=na_values, cells=cells
        )
        return
    source = _source(path)
    seen = 0
    columns = None
    if is_parquet(path):
        import pyarrow.parquet as pq

        with _reading(path):
            batches = pq.ParquetFile(source).iter_batches(batch_size=chunksize)
        while True:
            with _reading(path):
                batch = next(batches, None)
            if batch is None:
                break
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(seen, seen + len(frame))
            if dtype:
                frame = frame.astype({k: v for k, v in dtype.items() if k in frame.columns})
            columns = frame.columns
            seen += len(frame)
            if len(frame):
                yield (frame, None) if cells else frame
    else:
        if path == STDIO:
            source = _stdin_path()
        sep, decimal = table_dialect(source, sep, decimal)
        with _reading(path):
            reader = pd.read_csv(
                source, dtype=dtype, chunksize=chunksize, sep=sep, decimal=decimal, na_values=na_values, **_CSV_OPTIONS
            )
            raw_reader = text = None
            header = _verbatim_header(source, sep)
            if cells == "text":
                text = iter_text_rows(source, sep, decimal)
            if cells and text is None:
                raw_reader = pd.read_csv(
                    source, skiprows=1, names=range(len(header)), chunksize=chunksize, **_cells_options(sep)
                )
        with reader, (raw_reader or contextlib.nullcontext()), contextlib.ExitStack() as closing:
            if text is not None:
                closing.callback(text[1])
            while True:
                # A fresh _reading per chunk: its warning filter must not stay active
                # in the caller's code while this generator is suspended.
                with _reading(path):
                    frame = next(reader, None)
                    raw = next(raw_reader, None) if raw_reader is not None else None
                if frame is None:
                    break
                if text is not None:
                    raw, plain = text[0](len(frame))
                    if not plain:
                        # Ragged lines in this chunk: their cells, padded as pandas reads them.
                        raw = cells_frame(raw, header, sep)
                if seen == 0:
                    _check_one_column(frame, path, sep)
                columns = frame.columns
                seen += len(frame)
                if len(header) == frame.shape[1]:
                    frame.columns = header  # as written, see read_table
                if cells:
                    if raw is None or len(raw) != len(frame):
                        raise DataError(f"{path}: rows could not be matched to their text (quoted line breaks?)")
                    if not isinstance(raw, TextRows):
                        raw.columns = header
                        raw.attrs.update(sep=sep, decimal=decimal)
                        raw.index = frame.index
                if len(frame):
                    yield (frame, raw) if cells else frame
    if columns is not None and len(columns) == 0:
        raise DataError(f"{path}: no columns")
    if seen == 0:
        raise DataError(f"{path}: no data rows (only a header)")


# ---- columns and values --------------------------------------------------------------
def _suggest(name, candidates):
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_columns(names, columns, option):
    """Raise :class:`click.BadParameter` unless every name in ``names`` is a column.

    ``option`` is the option the names came from (``"--exclude"``), for the message.
    """
    columns = list(columns)
    for name in names:
        if name not in columns:
            shown = ", ".join(map(str, columns[:20])) + (", ..." if len(columns) > 20 else "")
            raise click.BadParameter(
                f"no column {name!r}{_suggest(name, columns)} Columns: {shown}",
                param_hint=f"'{option}'",
            )


def _numeric_values(series):
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_number_column(series):
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def check_not_empty(frame, columns, path):
    """Raise DataError if a column has no value at all (nothing to learn from)."""
    for name in columns:
        if frame[name].isna().all():
            raise DataError(
                f"{path}: column {name!r} is empty in every row; leave it out with --exclude {name}"
            )


#: The largest magnitude a network computing in float32 can take in; beyond it a value
#: becomes infinite inside the model and its score NaN or infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_finite(frame, columns, path):
    """Raise DataError at the first infinite or out-of-range value of a numeric column.

    Values beyond what float32 holds (about 3.4e38) are refused here, naming column
    and line, rather than becoming an infinite or NaN score far downstream.
    """
    for name in columns:
        series = frame[name]
        if not _is_number_column(series):
            continue
        values = _numeric_values(series)
        with np.errstate(invalid="ignore"):
            bad = np.abs(values) > FLOAT32_MAX
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            position = frame.index[first]
            what = "an infinite value" if np.isinf(values[first]) else f"the value {values[first]!r}, too large"
            raise DataError(
                f"{path}: column {name!r} has {what} on {row_label(path, position)}"
                + ("" if np.isinf(values[first]) else " (the model computes in float32: at most about 3.4e38)")
            )


def check_numeric(frame, columns, path):
    """Raise DataError at the first value of ``columns`` that is not a number.

    For columns a model learnt as numeric: pandas reads a column as text as soon as
    one cell is not a number, and the message should name that cell.
    """
    for name in columns:
        series = frame[name]
        if _is_number_column(series) or pd.api.types.is_bool_dtype(series):
            continue
        parsed = pd.to_numeric(series, errors="coerce")
        bad = parsed.isna() & series.notna()
        if bad.any():
            position = bad.idxmax()
            raise DataError(
                f"{path}: column {name!r} has the non-numeric value {series[position]!r} on "
                f"{row_label(path, position)}, but the model learnt it as numeric"
            )


# ---- writing -------------------------------------------------------------------------
def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# Whether each output path (absolute) existed when check_output_path accepted it: a
# path that did not must not be replaced at the end either (see atomic_path).
_EXISTED_AT_CHECK = {}


def _input_files(source):
    """The files an input names: one, or each part of a folder or glob."""
    if not source or source == STDIO:
        return []
    try:
        return table_parts(source) or [source]
    except DataError:
        return [source]  # reading it will say what is wrong


def check_output_path(path, *, force, inputs=(), option="-o"):
    """Check, before any work, that ``path`` can receive a result.

    Refuses (click usage error) an output that is one of ``inputs``, whatever
    ``force`` says; refuses (exit 1) an existing file without ``force``, a directory
    or a path ending in a separator, or a folder that does not exist or cannot be
    written. ``None`` and ``"-"`` (standard output) always pass. Every message names
    ``path`` as the user wrote it.
    """
    if path is None or path == STDIO:
        return
    path = os.fspath(path)
    for source in inputs:
        for name in _input_files(source):
            if _same_file(path, name):
                raise click.BadParameter(
                    f"{path} is the input file {name}; anovae never overwrites its input",
                    param_hint=f"'{option}'",
                )
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory; give a file name")
    if path.endswith(("/", os.sep)):
        raise DataError(f"{path}: names a folder (it ends with '/'); give a file name")
    exists = os.path.lexists(path)
    if exists and not force:
        raise click.ClickException(f"{path}: already exists; pass --force to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise DataError(f"{path}: folder {folder} is not writable")
    _EXISTED_AT_CHECK[os.path.abspath(path)] = exists


def _appeared(path):
    return DataError(
        f"{path}: was created by another program while anovae ran; it was left as it is "
        "and this result discarded (pass --force to replace it)"
    )


@contextlib.contextmanager
def atomic_path(path, *, replace=None):
    """Yield a temporary path beside ``path`` that becomes ``path`` on success.

    Write the result to the yielded path (any writer will do, such as
    ``anovae.save``). When the block ends normally the file is moved to ``path`` in
    one step (same folder, hence same file system), so readers see either the old
    file or the complete new one; when it raises (a signal included, see
    ``_errors.py``), the temporary file is removed and ``path`` is untouched.

    ``replace`` says whether an existing ``path`` may be replaced; by default, only
    if it existed when :func:`check_output_path` accepted it (that is, with
    ``--force``): a file that appears while the command runs is never replaced.
    """
    path = os.fspath(path)
    if replace is None:
        replace = _EXISTED_AT_CHECK.get(os.path.abspath(path), True)
    try:
        with atomic_write(path, replace=replace) as tmp:
            yield tmp
    except TargetExistsError:
        raise _appeared(path) from None
    except PublishError as exc:
        # Not the temporary file's name: the user knows only theirs.
        raise DataError(f"{path}: cannot write there ({exc.strerror or exc})") from None


@contextlib.contextmanager
def open_output(path):
    """Yield a text handle for results: standard output for ``None``/``"-"``, else a file.

    A file is written through :func:`atomic_path`. Standard output cannot be taken
    back, so a command that streams should validate what it can before its first
    write.
    """
    if path is None or path == STDIO:
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            yield handle


def _cell_text(value, decimal):
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = repr(float(value))
        return text.replace(".", decimal) if decimal != "." else text
    return str(value)


def fill_cells(cells, before, after, columns):
    """``cells`` (verbatim, from ``read_table(..., cells=True)``) with the cells of
    ``columns`` that are missing in ``before`` and set in ``after`` written in.

    Every other cell stays as written: an imputed copy differs from its input only
    where a value was filled.
    """
    out = cells.copy()
    decimal = cells.attrs.get("decimal", ".")
    positions = {name: i for i, name in enumerate(before.columns)}
    for name in columns:
        newly = before[name].isna().to_numpy() & after[name].notna().to_numpy()
        if newly.any():
            text = [_cell_text(v, decimal) for v in after[name][newly]]
            out.iloc[np.flatnonzero(newly), positions[name]] = text
    return out


def write_csv(frame, handle, *, header=True, sep=None, decimal=None):
    """Append ``frame`` to ``handle`` as CSV (no index; blanks for missing cells).

    A frame of verbatim cells (``read_table(..., cells=True)``) is written back as
    read, with the input's separator and decimal mark unless ``sep`` / ``decimal``
    say otherwise, so that the output reads like the input.
    """
    sep = sep or frame.attrs.get("sep", ",")
    decimal = decimal or frame.attrs.get("decimal", ".")
    frame.to_csv(handle, index=False, header=header, lineterminator="\n", sep=sep, decimal=decimal)
