"""Tables read piece by piece: the data a streamed fit visits in any order.

A source is cut into *units* that can be read independently and in any order:
the row groups of a Parquet file, folder or glob, or fixed-size slices of
in-memory DataFrames. Each unit has a known row count, so every row has a global
id (the unit's first id plus its position), whatever order the units are read in
and whichever process reads them: the sample of rows drawn by ``_stream_stats``
and the rows held out for validation are defined by these ids, so they do not
depend on how the units are shuffled or shared out between processes.

A function returning a fresh iterable of DataFrames on each call is a source too
(one unit, read in its own order each pass), for data no library here can cut
into pieces, such as a large CSV read in chunks.
"""

import abc
import glob
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError, one_line_reason

#: Rows of one unit cut from an in-memory DataFrame: small enough that the
#: shuffled order of units mixes the table well, large enough to encode cheaply.
FRAME_UNIT_ROWS = 4096
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Unit:
    """One piece of a source: where it is, its row count, how to name it in errors."""

    key: tuple
    n_rows: object  # int, or None where unknown before reading (a function source)
    label: str  # the file (or "DataFrame 3") for messages
    first_row: int = 0  # position of its first row in that file or frame, for messages
    first_id: int = 0  # global id of its first row (see number_units)


class TableSource(abc.ABC):
    """Base class: ``units``, ``columns``, ``numeric`` (the columns read as numbers)
    and ``read(unit, columns, chunk_rows)``."""

    units: list
    columns: list
    numeric: set
    shardable = True

    @abc.abstractmethod
    def read(self, unit, columns, chunk_rows):
        """Yield DataFrames of at most ``chunk_rows`` rows of ``unit``, ``columns`` only."""

    #: How messages count rows: "row" (from 1) or, for a CSV file, "line" (the
    #: header is line 1), as the command line's messages do.
    row_word = "row"

    def memory_bytes(self):
        """Estimated in-memory size of the whole table, or None when unknown."""
        return None

    def where(self, unit, position):
        """``(file, "row N")`` naming the row at ``position`` (from 0) of ``unit``."""
        row = unit.first_row + position
        if self.row_word == "line":
            return unit.label, f"line {row + 2}"
        return unit.label, f"row {row + 1}"

    def describe(self):
        return type(self).__name__


def is_glob(text):
    return any(ch in str(text) for ch in "*?[")


def parquet_files(path):
    """The Parquet data ``path`` names: ``[path]`` for a .parquet file or a folder
    holding them, the sorted files for a glob matching only .parquet files; None
    for anything else (a CSV file, a folder of CSV parts), left to other readers.
    A glob that matches nothing is a DataError."""
    text = os.fspath(path)
    if is_glob(text):
        files = sorted(f for f in glob.glob(text, recursive=True) if os.path.isfile(f))
        if not files:
            raise DataError(f"{text}: no file matches")
        return files if all(f.lower().endswith(PARQUET_SUFFIXES) for f in files) else None
    if os.path.isdir(text):
        for _, _, names in os.walk(text):
            if any(n.lower().endswith(PARQUET_SUFFIXES) and not n.startswith((".", "_")) for n in names):
                # A folder: pyarrow reads hive-style partition columns from its paths.
                return [text]
        return None
    return [text] if text.lower().endswith(PARQUET_SUFFIXES) else None


class ParquetSource(TableSource):
    """A Parquet file, folder (hive partitions become columns) or glob; one unit per row group."""

    def __init__(self, path):
        import pyarrow.dataset as ds

        self.path = os.fspath(path)
        if not os.path.exists(self.path) and not is_glob(self.path):
            raise DataError(f"{self.path}: no such file")
        files = parquet_files(self.path)
        if files is None:
            raise DataError(f"{self.path}: not Parquet (a .parquet file, a folder or a glob of them)")
        source = files[0] if len(files) == 1 else files
        try:
            if os.path.isdir(files[0]):
                self.dataset = ds.dataset(source, format="parquet", partitioning="hive")
            else:
                self.dataset = ds.dataset(source, format="parquet")
            fragments = list(self.dataset.get_fragments())
            self.units, self._bytes = [], 0
            for f_index, fragment in enumerate(fragments):
                label, first = fragment.path, 0
                for rg_index, row_group in enumerate(fragment.row_groups):
                    self.units.append(Unit((f_index, rg_index), row_group.num_rows, label, first))
                    first += row_group.num_rows
                meta = fragment.metadata
                self._bytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        except DataError:
            raise
        except Exception as exc:  # pyarrow's errors name the bad file in their text
            raise DataError(f"{self.path}: cannot read as Parquet: {one_line_reason(exc)}") from None
        self._fragments = fragments
        schema = self.dataset.schema
        self.columns = [str(name) for name in schema.names]
        # Decided by the schema, not by what one piece happens to hold, so that every
        # process of a distributed fit agrees.
        self.numeric = {str(field.name) for field in schema if _is_numeric_type(field.type)}

    def read(self, unit, columns, chunk_rows):
        f_index, rg_index = unit.key
        fragment = self._fragments[f_index].subset(row_group_ids=[rg_index])
        try:
            batches = fragment.to_batches(schema=self.dataset.schema, columns=list(columns), batch_size=chunk_rows)
            for batch in batches:
                if batch.num_rows:
                    yield batch.to_pandas()
        except Exception as exc:
            raise DataError(f"{unit.label}: cannot read row group {rg_index}: {one_line_reason(exc)}") from None

    def memory_bytes(self):
        """Uncompressed size of the data, from the files' metadata (no data read)."""
        return self._bytes

    def describe(self):
        return self.path


class FrameSource(TableSource):
    """In-memory DataFrames, cut into units of at most ``FRAME_UNIT_ROWS`` rows."""

    def __init__(self, frames, unit_rows=FRAME_UNIT_ROWS, label=None, row_word="row"):
        self.row_word = row_word
        self.frames = []
        for i, frame in enumerate(frames):
            if not (hasattr(frame, "columns") and hasattr(frame, "iloc")):
                raise TypeError(f"item {i} of the source is a {type(frame).__name__}, not a DataFrame")
            self.frames.append(frame)
        if not self.frames:
            raise DataError("the source holds no DataFrame")
        self.columns = [str(c) for c in self.frames[0].columns]
        self.numeric = numeric_columns(self.frames[0])
        for i, frame in enumerate(self.frames[1:], 1):
            if [str(c) for c in frame.columns] != self.columns:
                raise DataError(f"DataFrame {i} of the source has other columns than DataFrame 0")
        self.units = [
            Unit((i, start), min(unit_rows, len(frame) - start), label or f"DataFrame {i}", start)
            for i, frame in enumerate(self.frames)
            for start in range(0, len(frame), unit_rows)
        ]

    def read(self, unit, columns, chunk_rows):
        i, start = unit.key
        frame = self.frames[i]
        positions = [frame.columns.get_loc(c) if c in frame.columns else self.columns.index(c) for c in columns]
        piece = frame.iloc[start : start + unit.n_rows, positions]
        piece.columns = list(columns)
        for offset in range(0, len(piece), chunk_rows):
            yield piece.iloc[offset : offset + chunk_rows].reset_index(drop=True)

    def memory_bytes(self):
        return int(sum(frame.memory_usage(deep=False).sum() for frame in self.frames))


class FunctionSource(TableSource):
    """``make()`` returns a fresh iterable of DataFrames on each call: one unit, read
    in its own order every pass; its row count is learnt by the first pass."""

    shardable = False

    def __init__(self, make, label="the source", row_word="row"):
        self.make = make
        self.row_word = row_word
        self.label = label
        first = next(iter(make()), None)
        if first is None:
            raise DataError(f"{label}: no rows")
        self.columns = [str(c) for c in first.columns]
        self.numeric = numeric_columns(first)
        self.units = [Unit((0,), None, label, 0)]

    def read(self, unit, columns, chunk_rows):
        for frame in self.make():
            piece = frame.set_axis([str(c) for c in frame.columns], axis=1)
            missing = [c for c in columns if c not in piece.columns]
            if missing:
                raise DataError(f"{self.label}: a part lacks column(s) {', '.join(map(repr, missing))}")
            piece = piece[list(columns)]
            for offset in range(0, len(piece), chunk_rows):
                yield piece.iloc[offset : offset + chunk_rows].reset_index(drop=True)


def open_source(source):
    """A :class:`TableSource` for what ``VAE.fit_stream`` accepts.

    A path (file, folder or glob of Parquet), a list or tuple of DataFrames, one
    DataFrame, or a function returning a fresh iterable of DataFrames.
    """
    if isinstance(source, TableSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        return ParquetSource(source)
    if hasattr(source, "columns") and hasattr(source, "iloc"):
        return FrameSource([source])
    if isinstance(source, (list, tuple)):
        return FrameSource(source)
    if callable(source):
        return FunctionSource(source)
    if hasattr(source, "__next__"):
        raise TypeError(
            "an iterator of DataFrames can be read only once and a fit reads its data "
            "several times; pass a list of DataFrames or a function returning a new iterator"
        )
    raise TypeError(f"cannot stream from a {type(source).__name__}: give a Parquet path, DataFrames or a function")


def row_ids(unit, start, n_rows):
    """Global ids of ``n_rows`` rows of ``unit`` from its row ``start`` on."""
    return np.arange(start, start + n_rows, dtype=np.int64) + unit.first_id


def number_units(units):
    """Give each unit its first global id (``first_id``), in the source's own order."""
    position = 0
    for unit in units:
        unit.first_id = position
        position += unit.n_rows or 0
    return position


def _is_numeric_type(arrow_type):
    import pyarrow as pa

    return any(
        check(arrow_type) for check in (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    )


def numeric_columns(frame):
    # As TabularCodec decides: numbers and booleans are numeric, anything else is a category.
    return {
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    }

