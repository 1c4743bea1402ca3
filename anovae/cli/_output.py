"""Result tables written in the format their file name asks for.

``-o scores.csv`` writes CSV, ``-o scores.csv.gz`` (``.bz2``, ``.xz``, ``.zst``) the
same CSV compressed, ``-o scores.parquet`` (``.pq``) Parquet with typed columns. Any
other name is CSV, as before suffixes meant anything. A compression anovae does not
write (``.zip``, ``.lz4``...) is refused before any work, rather than written as plain
text under a name that promises otherwise.

Every file goes through :func:`anovae.cli._io.atomic_path`: a failed or interrupted
command leaves no partial output. A CSV output carries the input's cells as written
(see :meth:`TableOutput.rows`); a Parquet output carries the values as read, with
the types of the input's columns.
"""

import bz2
import contextlib
import gzip
import io
import lzma
import os
import sys

import click

from ..errors import DataError
from . import _io
from ._io import PARQUET_SUFFIXES, STDIO, atomic_path, check_output_path

__all__ = ["TableOutput", "check_table_output", "open_table_output", "output_format"]

#: The compressions a CSV output may have, by the name's last suffix.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
# Compressed or archive formats that are not written: refused by name.
_UNWRITTEN = (".zip", ".lz4", ".7z", ".br", ".lzma", ".lz", ".z", ".sz", ".snappy", ".zstd", ".tar", ".tgz", ".rar")
_WRITTEN = ".csv, .csv.gz, .csv.bz2, .csv.xz, .csv.zst, .parquet"


def output_format(path, option="-o"):
    """``("parquet", None)`` or ``("csv", compression or None)`` for an output name.

    Raises :class:`click.BadParameter` for a compression suffix anovae does not
    write, and :class:`~anovae.errors.DataError` for ``.zst`` when the
    ``zstandard`` module is missing. Standard output (``None`` or ``"-"``) is CSV.
    """
    if path is None or path == STDIO:
        return "csv", None
    name = os.path.basename(os.fspath(path).rstrip("/" + os.sep)).lower()
    suffix = os.path.splitext(name)[1]
    if suffix in PARQUET_SUFFIXES:
        return "parquet", None
    if suffix in _UNWRITTEN:
        raise click.BadParameter(
            f"{os.fspath(path)}: anovae does not write {suffix} files; name the output "
            f"with one of {_WRITTEN}",
            param_hint=f"'{option}'",
        )
    compression = COMPRESSIONS.get(suffix)
    if compression == "zstd":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise DataError(
                f"{os.fspath(path)}: writing .zst needs the zstandard module "
                "(pip install zstandard); .gz or .xz need nothing more"
            ) from None
    return "csv", compression


def check_table_output(path, *, force, inputs=(), option="-o"):
    """:func:`~anovae.cli._io.check_output_path` for a result table, and its format.

    Both checks run before any work, so that a bad name costs no training.
    """
    check_output_path(path, force=force, inputs=inputs, option=option)
    output_format(path, option)


class TableOutput:
    """One result table being written, chunk by chunk (from :func:`open_table_output`)."""

    #: Whether the output is text (CSV), and so carries the input's cells as written.
    text = True

    def rows(self, frame, cells):
        """What to write for these rows: the cells as written (``cells``, from
        ``read_table(..., cells=True)``) to a text output when there are some, else
        the values as read (``frame``)."""
        return cells if self.text and cells is not None else frame

    def write(self, frame):
        """Append ``frame``'s rows (the first call writes the header, or fixes the types)."""
        raise NotImplementedError


class _CsvOutput(TableOutput):
    def __init__(self, handle):
        self._handle = handle
        self._header = True

    def write(self, frame):
        _io.write_csv(frame, self._handle, header=self._header)
        self._header = False


class _ParquetOutput(TableOutput):
    """Each written frame becomes a row group; the first one fixes the file's schema.

    ``schema`` fixes it in advance instead (the parts of a Dask job must agree).
    """

    text = False

    def __init__(self, tmp, path, schema=None):
        self._tmp, self._path = tmp, path
        self._schema = schema
        self._writer = None
        self._rows = 0

    def write(self, frame):
        import pyarrow.parquet as pq

        table = arrow_table(frame, self._path)
        if self._schema is None:
            self._schema = table.schema
        else:
            table = cast_table(table, self._schema, self._path, self._rows)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
        self._writer.write_table(table)
        self._rows += len(frame)

    def close(self):
        if self._writer is not None:
            self._writer.close()
        elif self._schema is not None:
            # Nothing was written: still a valid (empty) file with the schema.
            import pyarrow.parquet as pq

            pq.ParquetWriter(self._tmp, self._schema).close()


def arrow_table(frame, path):
    """``frame`` as an Arrow table (no index), or a one-line DataError naming ``path``."""
    import pyarrow as pa

    names = [str(c) for c in frame.columns]
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{path}: Parquet needs distinct column names and {name!r} appears more than "
                "once; rename the copies or write CSV"
            )
        seen.add(name)
    if list(frame.columns) != names:
        frame = frame.set_axis(names, axis=1)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        for name in names:  # name the column that cannot be stored
            try:
                pa.Array.from_pandas(frame[name])
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{path}: column {name!r} cannot be written to Parquet ({_first_line(exc)})"
                ) from None
        raise


def cast_table(table, schema, path, rows_before):
    """``table`` with the types of ``schema``, or a DataError naming the first column that
    cannot take them (a Parquet file has one type per column)."""
    import pyarrow as pa

    if table.schema.names != schema.names:
        raise DataError(f"{path}: later rows have other columns than the first ones")
    columns = []
    for name, field, column in zip(schema.names, schema, table.columns):
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{path}: column {name!r} holds {column.type} values after row {rows_before}, "
                    f"which cannot be written as the {field.type} of the rows before "
                    f"({_first_line(exc)}); Parquet keeps one type per column: read more rows "
                    "at once (--chunksize) or write CSV"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _compressed_text(tmp, path, compression):
    """A text handle on ``tmp`` that compresses what is written to it."""
    inner_name = os.path.basename(os.fspath(path))[: -len(os.path.splitext(os.fspath(path))[1])]
    with open(tmp, "wb") as raw:
        if compression == "gzip":
            # The header stores a file name: the final one, not the temporary file's.
            binary = gzip.GzipFile(filename=inner_name, mode="wb", fileobj=raw)
        elif compression == "bz2":
            binary = bz2.BZ2File(raw, "wb")
        elif compression == "xz":
            binary = lzma.LZMAFile(raw, "wb")
        else:
            import zstandard

            binary = zstandard.ZstdCompressor().stream_writer(raw, closefd=False)
        with io.TextIOWrapper(binary, encoding="utf-8", newline="") as handle:
            yield handle


@contextlib.contextmanager
def open_table_output(path, *, schema=None):
    """Yield a :class:`TableOutput` writing to ``path`` in the format its name says.

    ``None`` or ``"-"`` is CSV on standard output. A file is written through
    :func:`~anovae.cli._io.atomic_path`: it appears, complete, only if the block
    ends normally. ``schema`` (a ``pyarrow.Schema``) fixes a Parquet output's types
    instead of the first written rows.
    """
    kind, compression = output_format(path)
    if path is None or path == STDIO:
        yield _CsvOutput(sys.stdout)
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp:
        if kind == "parquet":
            output = _ParquetOutput(tmp, os.fspath(path), schema)
            try:
                yield output
            except BaseException:
                # The file is removed anyway; only its handle must not stay open.
                with contextlib.suppress(Exception):
                    output.close()
                raise
            output.close()
        elif compression is None:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                yield _CsvOutput(handle)
        else:
            with _compressed_text(tmp, path, compression) as handle:
                yield _CsvOutput(handle)
