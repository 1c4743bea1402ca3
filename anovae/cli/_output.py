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

import abc
import bz2
import contextlib
import gzip
import io
import lzma
import os
import sys
import tempfile

import click

from ..errors import DataError
from . import _io
from ._io import PARQUET_SUFFIXES, STDIO, atomic_path, check_output_path
from ._text_rows import TextRows

__all__ = [
    "TableOutput",
    "atomic_folder",
    "check_output_folder",
    "check_table_output",
    "open_table_output",
    "output_format",
]

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


class TableOutput(abc.ABC):
    """One result table being written, chunk by chunk (from :func:`open_table_output`)."""

    #: Whether the output is text (CSV), and so carries the input's cells as written.
    text = True

    def rows(self, frame, cells):
        """What to write for these rows: the cells as written (``cells``, from
        ``read_table(..., cells=True)`` or ``cells="text"``) to a text output when
        there are some, else the values as read (``frame``)."""
        return cells if self.text and cells is not None else frame

    @abc.abstractmethod
    def write(self, frame):
        """Append ``frame``'s rows (the first call writes the header, or fixes the types)."""


class _CsvOutput(TableOutput):
    def __init__(self, handle):
        self._handle = handle
        self._header = True

    def write(self, frame):
        if isinstance(frame, TextRows):
            frame.write(self._handle, header=self._header)
        else:
            _io.write_csv(frame, self._handle, header=self._header)
        self._header = False


class _ParquetOutput(TableOutput):
    """Each written frame becomes a row group; the first one fixes the file's types.

    ``schema`` fixes them in advance instead, as ``fixed_by`` says (the parts of a
    Dask job must agree with each other). Errors name the table ``name``.
    """

    text = False

    def __init__(self, tmp, name, schema=None, fixed_by=None):
        self._tmp, self._name = tmp, name
        self._schema = schema
        self._fixed_by = fixed_by
        self._writer = None
        self._rows = 0

    def write(self, frame):
        import pyarrow.parquet as pq

        table = arrow_table(frame, self._name)
        if self._schema is None:
            self._schema = table.schema
        else:
            fixed_by = self._fixed_by or f"the first {self._rows} rows"
            table = cast_table(table, self._schema, self._name, f"from row {self._rows + 1} on", fixed_by)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self._schema, use_dictionary=_dictionary_columns(self._schema))
        self._writer.write_table(table)
        self._rows += len(frame)

    def close(self):
        if self._writer is not None:
            self._writer.close()
        elif self._schema is not None:
            # Nothing was written: still a valid (empty) file with the schema.
            import pyarrow.parquet as pq

            pq.ParquetWriter(self._tmp, self._schema, use_dictionary=_dictionary_columns(self._schema)).close()


def _dictionary_columns(schema):
    # Dictionary encoding pays for text, ids and flags; tried on measured floats (all
    # distinct) it is thrown away after costing most of the write: 100k rows of 19
    # floats and 4 other columns wrote at 1.04M rows/s instead of 0.36M, 8% larger.
    import pyarrow as pa

    return [field.name for field in schema if not pa.types.is_floating(field.type)]


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


def cast_table(table, schema, name, where, fixed_by):
    """``table`` with the types of ``schema``, or a DataError naming the first column that
    cannot take them: a Parquet file (or folder of parts) has one type per column.

    ``where`` says which rows ``table`` holds and ``fixed_by`` which rows fixed the
    types, for the message.
    """
    import pyarrow as pa

    if table.schema.names != schema.names:
        raise DataError(f"{name}: the rows {where} have other columns than {fixed_by}")
    columns = []
    for column_name, field, column in zip(schema.names, schema, table.columns):
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{name}: column {column_name!r} holds {column.type} values {where}, which "
                    f"cannot be written as the {field.type} of {fixed_by} ({_first_line(exc)}); "
                    "Parquet keeps one type per column: read more rows at once (--chunksize) "
                    "or write CSV"
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
def open_table_output(path, *, schema=None, fixed_by=None, name=None):
    """Yield a :class:`TableOutput` writing to ``path`` in the format its name says.

    ``None`` or ``"-"`` is CSV on standard output. A file is written through
    :func:`~anovae.cli._io.atomic_path`: it appears, complete, only if the block
    ends normally. ``schema`` (a ``pyarrow.Schema``) fixes a Parquet output's types
    instead of the first written rows, and ``fixed_by`` says where they came from;
    ``name`` is how errors name the table (default ``path``).
    """
    kind, compression = output_format(path)
    if path is None or path == STDIO:
        yield _CsvOutput(sys.stdout)
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp:
        if kind == "parquet":
            output = _ParquetOutput(tmp, name or os.fspath(path), schema, fixed_by)
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


# ---- a folder of Parquet parts (anovae score --dask) -----------------------------------
def check_output_folder(path, *, force, inputs=(), option="-o"):
    """Check, before any work, that ``path`` can become a folder of Parquet parts.

    Refuses (usage error) no name, standard output, a name that says CSV, and a
    folder that is, or holds, an input file, whatever ``force`` says; refuses (exit
    1) an existing ``path`` without ``force``, and a parent folder that does not exist
    or cannot be written.
    """
    if path is None or path == STDIO:
        raise click.BadParameter(
            "the result is a folder of Parquet parts (one per input part): give its name",
            param_hint=f"'{option}'",
        )
    path = os.fspath(path)
    name = os.path.basename(path.rstrip("/" + os.sep)).lower()
    if output_format(path, option) != ("parquet", None) and name.endswith((".csv", ".tsv", ".txt") + tuple(COMPRESSIONS)):
        raise click.BadParameter(
            f"{path}: the result is a folder of Parquet parts, not a CSV file; name it "
            "like scores/ or scores.parquet",
            param_hint=f"'{option}'",
        )
    target = os.path.abspath(path)
    for source in inputs:
        for file in _io._input_files(source):
            if os.path.commonpath([os.path.abspath(file), target]) == target:
                raise click.BadParameter(
                    f"{path} holds the input file {file}; anovae never overwrites its input",
                    param_hint=f"'{option}'",
                )
    exists = os.path.lexists(path)
    if exists and not force:
        raise click.ClickException(f"{path}: already exists; pass --force to replace it")
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise DataError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DataError(f"{path}: folder {parent} is not writable")
    _io._EXISTED_AT_CHECK[target] = exists


@contextlib.contextmanager
def atomic_folder(path):
    """Yield a temporary folder beside ``path`` that becomes ``path`` on success.

    Like :func:`~anovae.cli._io.atomic_path` for a folder: parts are written into
    the temporary folder, which is renamed to ``path`` once the block ends normally;
    when it raises (a signal included), the folder and whatever is in it are removed.
    An existing ``path`` is replaced only if it existed when
    :func:`check_output_folder` accepted it (``--force``): it is moved aside, the
    new folder renamed into place, and the old one removed.
    """
    import shutil

    path = os.fspath(path).rstrip("/" + os.sep) or os.fspath(path)
    target = os.path.abspath(path)
    replace = _io._EXISTED_AT_CHECK.get(target, True)
    parent = os.path.dirname(target)
    base = os.path.basename(target)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise DataError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    try:
        yield tmp
        for name in os.listdir(tmp):
            if name.startswith("."):  # temporary files of attempts that were killed
                os.unlink(os.path.join(tmp, name))
        os.chmod(tmp, _folder_mode())
        _publish_folder(tmp, target, path, replace)
    except BaseException:
        for _ in range(2):  # twice: a worker may still have been finishing a part in it
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def _folder_mode():
    # mkdtemp creates folders only their owner can read.
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _publish_folder(tmp, target, path, replace):
    import shutil

    if not os.path.lexists(target):
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if os.path.lexists(target):
                raise _io._appeared(path) from None
            raise DataError(f"{path}: cannot write there ({exc.strerror or exc})") from None
        return
    if not replace:
        raise _io._appeared(path)
    # Two renames: the old result is kept until the new one is in place.
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".old", dir=os.path.dirname(target))
    aside = os.path.join(old, "previous")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(aside, target)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
