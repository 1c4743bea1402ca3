"""``anovae fit`` beyond one in-memory table: streamed and data-parallel training.

- Streamed (``--streaming``, or automatically for Parquet data larger than
  ``--memory-budget``): ``VAE.fit_stream`` reads DATA piece by piece (see
  ``anovae/_streaming.py``); memory depends on ``--buffer-rows``, not on the size of
  DATA. The summary's threshold and label figures are measured on the fit's uniform
  sample of rows, not on every row (that would mean a second pass and one score per
  row in memory): ``anovae score`` gives every row's.
- Data-parallel (``torchrun ... -m anovae fit`` or ``--nproc N``): every process
  runs this code, reads its own share of DATA and trains one model with
  DistributedDataParallel (``anovae/_ddp.py``); process 0 writes the model and the
  summary. Parquet is shared out by row groups; a CSV file is read whole by every
  process, which trains on its own slices of it.
"""

import os
import time

import click

# Nothing heavy at import: `anovae fit --help` imports this module for --memory-budget.

#: Share of this machine's memory an in-memory fit may take before Parquet data is
#: streamed (``--memory-budget auto``): the table is held about three times over
#: (pandas, encoded float32 arrays, device tensors), plus scoring.
AUTO_BUDGET_SHARE = 0.25
_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30, "GB": 2**30, "T": 2**40, "TB": 2**40}


def parse_size(ctx, param, value):
    """``--memory-budget``: "auto", or a size such as 512MB, 8GB, 1.5G (binary units)."""
    if value is None or value == "auto":
        return value
    text = value.strip().upper().replace("IB", "B")
    number = text.rstrip("KMGTB")
    unit = text[len(number) :]
    try:
        size = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise click.BadParameter(f"{value!r} is not a size such as 512MB or 8GB") from None
    if not size > 0:
        raise click.BadParameter(f"{value!r} is not a positive size")
    return int(size)


def launched():
    """Whether this process is one of several started by torchrun or ``--nproc``
    (torchrun's WORLD_SIZE; read without importing torch)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def machine_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def should_stream(data, streaming, memory_budget):
    """Whether ``anovae fit DATA`` streams: as asked, else for Parquet data whose
    uncompressed size (from the files' metadata) exceeds the memory budget."""
    from .._sources import ParquetSource, parquet_files
    from ..errors import DataError

    if streaming is not None:
        return streaming
    if data == "-" or parquet_files(data) is None:
        return False
    budget = memory_budget
    if budget in (None, "auto"):
        total = machine_memory()
        if total is None:
            return False
        budget = AUTO_BUDGET_SHARE * total
    try:
        size = ParquetSource(data).memory_bytes()
    except DataError:
        return False  # reading it whole says what is wrong, as it always has
    return size > budget


def scaled_fit(data, model_out, training, params, reading, quiet, stream, buffer_rows):
    """The ``fit`` command, streamed and/or as one process of a distributed job."""
    from .._ddp import LocalGroup, init_from_environment, leave
    from .._device import resolve_device

    group = init_from_environment(resolve_device(training.device)) if launched() else LocalGroup()
    try:
        _fit(data, model_out, training, params, reading, quiet, stream, buffer_rows, group)
    finally:
        leave()


def _fit(data, model_out, training, params, reading, quiet, stream, buffer_rows, group):
    from .. import save
    from .._streaming import fit_stream
    from ._detection import (
        estimator_for,
        features_line,
        label_report,
        label_targets,
        report,
        score_rows,
        threshold_line,
        training_line,
        trim_hint,
    )
    from ._io import atomic_path, check_columns

    source = _open(data, reading, stream, group, buffer_rows)
    check_columns(training.exclude, source.columns, "--exclude")
    label = training.label_column
    if label is not None:
        check_columns([label], source.columns, "--label-column")
    features = [c for c in source.columns if c not in set(training.exclude) | {label}]
    if not features:
        raise click.UsageError("no feature column left once --exclude and --label-column are applied")
    estimator = estimator_for(training, params, label is not None, quiet or group.rank != 0)
    found = {}

    def to_labels(series):
        found["labels"] = label_targets(series.reset_index(drop=True), data)
        return found["labels"].y

    started = time.perf_counter()
    estimator._validate_params()
    fitted = fit_stream(
        estimator,
        source,
        columns=features,
        label_column=label,
        to_labels=to_labels,
        buffer_rows=buffer_rows,
        group=group,
    )
    seconds = time.perf_counter() - started
    estimator.set_params(verbose=0)
    if group.rank != 0:
        return
    with atomic_path(model_out) as tmp:
        save(estimator, tmp)
    if quiet:
        return
    _, flags = score_rows(estimator, None, fitted.scores)
    info = estimator.streaming_
    how = f"; {group.size} processes" if group.size > 1 else ""
    lines = [
        features_line(estimator, fitted.n_rows),
        training_line(estimator, seconds)
        + f" (streamed: {info['n_units']} piece(s), at most {info['peak_buffer_rows']} rows buffered{how})",
        threshold_line(estimator, int(flags.sum()), len(flags)) + f" of a uniform sample of {len(flags)} rows",
    ]
    lines += trim_hint(estimator, int(flags.sum()), len(flags), training.contamination)
    if label is not None:
        lines.append(label_report(found["labels"], -fitted.scores, flags) + " (on the sample)")
    lines.append(f"wrote {model_out}")
    report(lines, quiet)


def _open(data, reading, stream, group, buffer_rows):
    """The table source of DATA: Parquet pieces, CSV chunks, or a table read whole."""
    from .._sources import FrameSource, FunctionSource, ParquetSource, numeric_columns, parquet_files
    from ._io import STDIO, iter_table, read_table

    if data != STDIO and parquet_files(data) is not None and (stream or group.size > 1):
        return ParquetSource(data)
    if stream and group.size == 1:
        if data == STDIO:
            raise click.UsageError("--streaming reads DATA several times; it cannot be standard input")
        head = next(iter_table(data, chunksize=1000, **reading))
        # Text columns stay text in every chunk ("007" must not become 7 in a chunk
        # that happens to hold only digits).
        numeric = numeric_columns(head)
        text = {c: "string" for c in head.columns if str(c) not in numeric} or None
        chunk = max(1, buffer_rows // 2)
        return FunctionSource(
            lambda: iter_table(data, chunksize=chunk, dtype=text, **reading), label=data, row_word=_row_word(data)
        )
    return FrameSource([read_table(data, **reading)], label=data, row_word=_row_word(data))


def _row_word(data):
    from ._io import row_label

    # The command line's own convention: "line N" in a CSV file, "row N" in Parquet.
    return row_label(data, 0).split()[0]
