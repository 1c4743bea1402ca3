"""``anovae score DATA --dask [ADDRESS]``: the same scores, computed on a Dask cluster.

One task per input file (a part of a folder or glob): a worker reads its part chunk
by chunk, scores it with the model it received once (:mod:`anovae._shipped_model`),
and writes ``part-NNNNN.parquet`` into a temporary folder beside OUT; the folder
becomes OUT when every part is written (:func:`~anovae.cli._output.atomic_folder`),
so a failed job leaves no partial output. A part whose worker dies is run again on
another worker (Dask's retries) and its file written anew. Only a summary of each
part comes back: rows, flags, the ``--top`` rows, and with ``--label-column`` one
label and one score per row.

Every part is written with the column types of the first part's first chunk, so
that the folder reads as one table; a part whose values cannot take them is a
one-line error naming the part and the column.

Workers must see DATA and OUT at the same paths as this machine (one machine, or a
shared file system). Nothing here imports Dask, pandas or torch at module level:
``anovae score --help`` imports this module.
"""

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field

import click

from ..errors import DataError, one_line_reason

#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT = 5
_ADDRESS_RE = re.compile(r"^([a-z][a-z0-9+.-]*://)?(\[[0-9a-fA-F:.]+\]|[\w.-]+)(:\d+)?$")
#: The value of a bare --dask (no address): start a cluster on this machine.
LOCAL = "local"


def check_address(ctx, param, value):
    """Click callback for --dask: None, LOCAL, or a scheduler address."""
    if value is None or value == LOCAL:
        return value
    if "/" in value.split("://", 1)[-1] or not _ADDRESS_RE.match(value) or (
        "://" not in value and ":" not in value
    ):
        raise click.BadParameter(
            f"{value!r} is not a scheduler address such as tcp://host:8786 (give DATA "
            "before --dask, or write --dask=ADDRESS)"
        )
    return value


@dataclass
class Job:
    """What every part's task needs to know (sent with each task: small)."""

    features: list
    names: tuple
    columns: list
    first_part: str
    schema: object
    dtype: dict
    reading: dict
    chunksize: int
    label_column: str = None
    top: int = None
    device: str = None


@dataclass
class PartResult:
    """What a task sends back: counts, the part's top rows, labels and scores if asked."""

    rows: int = 0
    flagged: int = 0
    top_rows: object = None
    top_scores: object = None
    labels: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    flags: list = field(default_factory=list)


def score_part(part, index, model, folder, job):
    """Worker task: score the file ``part`` into ``folder/part-{index:05d}.parquet``."""
    import numpy as np

    from ._detection import ChunkScores, with_results
    from ._io import _check_part_columns, iter_table
    from ._output import open_table_output

    estimator = model.estimator()
    if job.device is not None:
        estimator.set_params(device=job.device)
    tally = ChunkScores(estimator, job.features, part, top=job.top, label_column=job.label_column)
    target = os.path.join(folder, f"part-{index:05d}.parquet")
    fixed_by = f"the first rows of {job.first_part}"
    with open_table_output(target, schema=job.schema, fixed_by=fixed_by, name=part) as table:
        for chunk in iter_table(part, chunksize=job.chunksize, dtype=job.dtype, **job.reading):
            if tally.rows == 0:
                _check_part_columns(part, chunk.columns, job.first_part, job.columns)
            scores, flags = tally(chunk)
            table.write(with_results(chunk, job.names, scores, flags))
    result = PartResult(tally.rows, tally.flagged, tally.best.rows, tally.best.scores)
    if job.label_column is not None and tally.rows:
        result.labels = [np.concatenate([labels.to_numpy() for labels in tally.labels])]
        result.scores = [np.concatenate(tally.scores)]
        result.flags = [np.concatenate(tally.flags)]
    return result


# ---- the cluster ---------------------------------------------------------------------------
def _workers_wanted():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _default_malloc():
    """Start local workers without the MALLOC_TRIM_THRESHOLD_ Dask gives them.

    Setting any glibc malloc tunable turns off its adaptive mmap threshold: every
    tensor of a scoring chunk is then mapped and faulted in afresh, and 10M rows
    took 138 s instead of 69 s on two workers (benchmarks/scale.py). The setting
    hands freed memory back to the system sooner; a task here holds one chunk at a
    time, so a worker's memory stays bounded without it.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


@contextlib.contextmanager
def dask_client(address):
    """A connected ``distributed.Client``: to ``address``, or to a new local cluster.

    The local cluster has one single-threaded worker process per core, on the
    loopback interface, without a dashboard; each worker may use its share of the
    machine's memory (Dask's ``memory_limit="auto"``), more than the chunks it
    holds. A scheduler that cannot be reached within :data:`CONNECT_TIMEOUT`
    seconds is a one-line error naming its address.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DataError("--dask needs Dask: pip install 'anovae[dask]'") from None
    if address is None or address == LOCAL:
        with _default_malloc(), LocalCluster(
            n_workers=_workers_wanted(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="auto",
            # A worker's failure reaches the user as one line, not as the worker's log.
            silence_logs=logging.CRITICAL,
        ) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError, ValueError) as exc:
        reason = one_line_reason(exc)
        raise DataError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s ({reason})"
        ) from None
    with client:
        yield client


def _gather(client, futures, parts, address):
    """Every part's result, in order; the first failure as a one-line error."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    try:
        for future in as_completed(futures):
            if future.status == "error":
                future.result()  # raises the worker's exception here
        return client.gather(futures)
    except KilledWorker:
        part = next((parts[i] for i, f in enumerate(futures) if f.status == "error"), "a part")
        raise DataError(
            f"{part}: the Dask workers scoring it died repeatedly (out of memory? see the "
            "workers' logs); no output written"
        ) from None
    except OSError as exc:  # the scheduler went away
        where = "the local Dask cluster" if address in (None, LOCAL) else f"the Dask scheduler at {address}"
        raise DataError(f"lost {where} ({one_line_reason(exc)}); no output written") from None


# ---- the command ---------------------------------------------------------------------------
def score_on_dask(address, data, model_path, output, chunksize, label_column, top, device, reading, quiet, force):
    """Run ``anovae score`` on a Dask cluster and print its summary (see the module)."""
    import numpy as np
    import pandas as pd

    from ._detection import (
        TopRows,
        check_model_values,
        features_line,
        label_report,
        label_targets,
        load_model,
        model_dtypes,
        model_features,
        report,
        result_names,
        threshold_line,
        with_results,
    )
    from ._io import _PART_STARTS, _has_rows, _part_key, check_columns, iter_table, table_parts
    from ._output import arrow_table, atomic_folder, check_output_folder

    if data == "-":
        raise click.BadParameter("--dask reads files that the workers can open, not standard input", param_hint="'DATA'")
    check_output_folder(output, force=force, inputs=[data, model_path])
    parts = table_parts(data) or [data]
    parts = [part for part in parts if _has_rows(part)]
    if not parts:
        raise DataError(f"{data}: no data rows in any of its files")
    estimator = load_model(model_path, device)
    dtype = model_dtypes(estimator)
    # The first chunk fixes the features, the result names and the output types.
    with contextlib.closing(iter_table(parts[0], chunksize=chunksize, dtype=dtype, **reading)) as chunks:
        first = next(chunks)
    if label_column is not None:
        check_columns([label_column], first.columns, "--label-column")
    features = model_features(estimator, first.columns, parts[0], label_column)
    check_model_values(estimator, first, features, parts[0])
    names = result_names(first.columns)
    sample = with_results(first, names, np.zeros(len(first)), np.zeros(len(first), dtype=np.int64))
    job = Job(
        features=features,
        names=names,
        columns=[str(c) for c in first.columns],
        first_part=parts[0],
        schema=arrow_table(sample, parts[0]).schema,
        dtype=dtype,
        reading=reading,
        chunksize=chunksize,
        label_column=label_column,
        top=top,
        device=device,
    )
    from .._shipped_model import ShippedModel

    shipped = ShippedModel.of(estimator)
    # The cluster closes before the folder is removed on failure: no worker is still
    # writing into it then.
    with atomic_folder(output) as folder, dask_client(address) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        # Sent to every worker now, once; the tasks refer to it by key.
        model = client.scatter(shipped, broadcast=True)
        futures = client.map(
            score_part, parts, range(len(parts)), model=model, folder=folder, job=job, pure=False
        )
        try:
            results = _gather(client, futures, parts, address)
        except BaseException:
            client.cancel(futures)
            raise
        labels = None
        if label_column is not None:
            # Inside the block: a bad label column must not leave a folder behind.
            values = [a for r in results for a in r.labels]
            labels = label_targets(pd.Series(np.concatenate(values), name=label_column), data)

    n_rows = sum(r.rows for r in results)
    flagged = sum(r.flagged for r in results)
    # Rows are numbered across the parts, as when one process reads them in order.
    starts, offset, best = [], 0, TopRows(top)
    for part, result in zip(parts, results):
        starts.append((offset, part))
        if result.top_rows is not None:
            rows = result.top_rows.copy()
            rows.index = rows.index + offset
            best.add(rows, result.top_scores)
        offset += result.rows
    if len(parts) > 1:
        _PART_STARTS[_part_key(data)] = starts
    where = "a local Dask cluster" if address in (None, LOCAL) else f"the Dask scheduler at {address}"
    lines = [
        features_line(estimator, n_rows),
        f"scored with {model_path} (trained {estimator.n_epochs_} epoch(s)) on {where}, "
        f"{workers} worker(s), {len(parts)} part(s)",
        threshold_line(estimator, flagged, n_rows),
    ]
    if labels is not None:
        scores = np.concatenate([a for r in results for a in r.scores])
        flags = np.concatenate([a for r in results for a in r.flags])
        lines.append(label_report(labels, scores, flags))
    lines.append(f"wrote {os.fspath(output)} ({len(parts)} Parquet part(s))")
    report(lines, quiet)
    for line in best.lines(estimator, features, data):
        click.echo(line, err=True)
