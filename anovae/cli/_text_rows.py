"""A CSV's rows kept as the lines they were written as, for output that copies them.

``detect`` and ``score`` write every input cell as written. Holding those cells as a
DataFrame of strings (one Python string per cell) and writing it back with pandas
took most of ``anovae detect``'s time on a million rows: 1M x 20 cells read twice and
formatted again. When the file's rows are plain lines (no quoting, one line per row,
every line with the header's number of fields) the line *is* the row as written, and
the output row is that line, the separator, and the appended values: one string per
row, no re-parsing, no re-formatting. Files that are not that plain (quotes, blank or
ragged lines, compression) keep the DataFrame of cells (``read_table(cells=True)``).
"""

import codecs
import io
import os

import numpy as np
import pandas as pd

from ._compression import FORMATS

__all__ = ["TextRows", "iter_text_rows", "read_text_rows"]

# Suffixes pandas decompresses by (tar archives too): their lines are not the file's bytes.
_COMPRESSED_SUFFIXES = (*FORMATS, ".tar", ".tgz")


class TextRows:
    """Rows as written: the header line and one line per row, without line endings.

    ``sep`` and ``decimal`` are the file's; values appended by :meth:`appended` are
    written with them, as the rest of the row is.
    """

    def __init__(self, header, lines, sep, decimal):
        self.header = header
        self.lines = lines
        self.sep = sep
        self.decimal = decimal

    def __len__(self):
        return len(self.lines)

    def appended(self, names, columns):
        """These rows with ``columns`` (arrays, one value per row) added at the end,
        formatted as pandas writes them in a CSV (the same text as the DataFrame path)."""
        sep = self.sep
        cells = [_csv_text(column, self.decimal) for column in columns]
        if all(column is not None for column in cells):
            tails = [sep.join(row) for row in zip(*cells)]
        else:
            tails = pd.DataFrame(dict(enumerate(columns))).to_csv(
                index=False, header=False, sep=sep, decimal=self.decimal, lineterminator="\n"
            )
            tails = tails.split("\n")
        lines = [line + sep + tail for line, tail in zip(self.lines, tails)]
        header = self.header + sep + sep.join(names)
        return TextRows(header, lines, sep, self.decimal)

    def write(self, handle, header=True):
        """Write the rows (after the header line when ``header``) to a text handle."""
        if header:
            handle.write(self.header + "\n")
        if self.lines:
            handle.write("\n".join(self.lines))
            handle.write("\n")


def _csv_text(column, decimal):
    """A column's values as pandas writes them in a CSV, or None for a column whose
    text is not that simple: a finite float64 is its shortest round-trip repr (what
    pandas writes, with ``decimal`` for the point), an integer or a bool its repr.
    About three times faster than formatting a DataFrame (0.56 s against 1.7 s for
    the two result columns of a million rows)."""
    values = np.asarray(column)
    if values.dtype == np.float64:
        if not np.isfinite(values).all():
            return None
        text = list(map(repr, values.tolist()))
        return text if decimal == "." else [value.replace(".", decimal) for value in text]
    if values.dtype.kind in "iub":
        return list(map(repr, values.tolist()))
    return None


def _plain(path):
    return path is not None and os.path.isfile(path) and not str(path).lower().endswith(_COMPRESSED_SUFFIXES)


def _plain_lines(lines, sep, n_fields):
    """Whether every line is a row whose fields are the text between separators."""
    for line in lines:
        if '"' in line or "\r" in line or line.count(sep) != n_fields - 1:
            return False
    return True


def _decoded(raw):
    # utf-8-sig as pandas reads it (a leading byte-order mark is not part of the header).
    text = raw.decode("utf-8-sig")
    return text.replace("\r\n", "\n")


def read_text_rows(path, sep, decimal, n_rows):
    """The rows of the plain CSV file ``path`` as :class:`TextRows`, or None when its
    lines are not exactly its ``n_rows`` rows (see the module's docstring)."""
    if not _plain(path) or len(sep) != 1:
        return None
    with open(path, "rb") as handle:
        lines = _decoded(handle.read()).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or len(lines) - 1 != n_rows:
        return None
    header = lines[0]
    if '"' in header or "\r" in header:
        return None
    rows = lines[1:]
    if not _plain_lines(rows, sep, header.count(sep) + 1):
        return None
    return TextRows(header, rows, sep, decimal)


def _unquoted(path, block=1 << 24):
    """Whether the file holds no quote character and no carriage return outside a
    CRLF line ending: then its lines are its records (blank ones aside)."""
    with open(path, "rb") as handle:
        previous = b""
        while True:
            data = handle.read(block)
            if not data:
                return True
            data = previous + data
            if b'"' in data[len(previous):]:
                return False
            # Keep a trailing CR for the next block, where its LF may be.
            previous = b"\r" if data.endswith(b"\r") else b""
            body = data[:-1] if previous else data
            if body.count(b"\r") != body.count(b"\r\n"):
                return False


def iter_text_rows(path, sep, decimal):
    """A function ``take(n)`` returning the next ``n`` rows of the CSV file ``path``
    as ``(TextRows, plain)``, and a ``close()``; or None when the file's lines are not
    its records (quotes, compression). ``plain`` is False when some line in the chunk
    does not have the header's number of fields: the caller then parses that chunk's
    cells (:func:`cells_frame`)."""
    if not _plain(path) or len(sep) != 1 or not _unquoted(path):
        return None
    handle = open(path, "rb")
    header = _decoded(handle.readline()).rstrip("\n")
    n_fields = header.count(sep) + 1
    lines = _Lines(handle)

    def take(n):
        chunk = lines.take(n)
        return TextRows(header, chunk, sep, decimal), _plain_lines(chunk, sep, n_fields)

    return take, handle.close


class _Lines:
    """The non-blank lines of a binary handle, without line endings, decoded a block
    at a time (one decode and one split per block, not one per line: line by line
    they took about a quarter of ``anovae score``'s time on a million plain rows,
    3.5 s of about 13)."""

    def __init__(self, handle, block=1 << 22):
        self._handle, self._block = handle, block
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._ready, self._at, self._pending, self._done = [], 0, "", False

    def take(self, n):
        out = []
        while len(out) < n:
            if self._at == len(self._ready):
                if self._done:
                    break
                self._fill()
                continue
            end = min(len(self._ready), self._at + n - len(out))
            out.extend(self._ready[self._at : end])
            self._at = end
        return out

    def _fill(self):
        data = self._handle.read(self._block)
        self._done = not data
        # The pending partial line goes in front, so a CRLF split between two blocks
        # is whole again before it is replaced.
        text = (self._pending + self._decoder.decode(data, final=self._done)).replace("\r\n", "\n")
        parts = text.split("\n")
        self._pending = "" if self._done else parts.pop()
        # Blank lines are not rows (pandas skips them): they never reach a chunk.
        self._ready, self._at = [line for line in parts if line], 0


def cells_frame(text_rows, header, sep):
    """The DataFrame of cells (as ``read_table(cells=True)`` gives) for ``text_rows``."""
    from ._io import _cells_options

    frame = pd.read_csv(io.StringIO("\n".join(text_rows.lines)), names=range(len(header)), **_cells_options(sep))
    frame.columns = header
    return frame
