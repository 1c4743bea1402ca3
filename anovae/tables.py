"""Reading and writing tables the way every ``anovae`` command does (public API).

A plugin command that reads a table or writes one uses these, so that it reports a
bad file, a missing column or an existing output exactly like the built-in commands
(one line naming the file and the line) and never leaves a partial output behind.
The functions are documented in docs/plugins.md; they raise
:class:`anovae.errors.DataError` for bad data and :class:`click.BadParameter` for a
bad option value.
"""

from .cli._io import (
    atomic_path,
    check_columns,
    check_finite,
    check_not_empty,
    check_numeric,
    check_output_path,
    fill_cells,
    iter_table,
    open_output,
    read_table,
    row_label,
    write_csv,
)
from .cli._output import TableOutput, check_table_output, open_table_output

__all__ = [
    "TableOutput",
    "atomic_path",
    "check_columns",
    "check_finite",
    "check_not_empty",
    "check_numeric",
    "check_output_path",
    "check_table_output",
    "fill_cells",
    "iter_table",
    "open_output",
    "open_table_output",
    "read_table",
    "row_label",
    "write_csv",
]
