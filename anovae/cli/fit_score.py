"""``anovae fit`` and ``anovae score``: train once, then score many files.

The model file records the names and kinds of the columns it was trained on, so
``score`` takes any file with those columns: it picks them by name, in any order,
and copies every other column (ids, timestamps, labels) to the output untouched.
No sidecar file is needed, and the same CSV layout as ``fit`` just works.
"""

import contextlib
import os
import warnings

import click

# The modules that compute (pandas, scikit-learn, torch through the estimator) are
# imported inside the command: `anovae --help` and `anovae fit --help` import this
# module and must answer at once (benchmarks/cli_startup.py).
from ._dask_score import check_address
from ._fit_scale import parse_size
from ._options import device_option, parse_threshold_params, reading_options, training_options


@click.command()
@click.argument("data", metavar="DATA")
@click.option("--model-out", required=True, metavar="PATH", help="Where to save the fitted model.")
@training_options
@reading_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Replace --model-out if it exists.")
@click.option(
    "--streaming/--no-streaming",
    default=None,
    help="Stream DATA through training piece by piece, in memory bounded by "
    "--buffer-rows, for data larger than RAM (Parquet file, folder or glob; a CSV is "
    "read in chunks). Default: stream Parquet data larger than --memory-budget.",
)
@click.option(
    "--memory-budget",
    default="auto",
    show_default=True,
    metavar="SIZE",
    callback=parse_size,
    help="Parquet DATA whose uncompressed size exceeds this (512MB, 8GB...) is "
    "streamed. auto: a quarter of this machine's memory.",
)
@click.option(
    "--buffer-rows",
    type=click.IntRange(min=2),
    default=65536,
    show_default=True,
    metavar="N",
    help="Rows a streamed fit's shuffle buffer holds; chunks of half that are read.",
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Train with N processes on this machine (data-parallel, torch "
    "DistributedDataParallel; gloo on CPU, NCCL on GPUs). Across machines, start "
    "'torchrun ... -m anovae fit' on each instead.",
)
def fit(data, model_out, training, reading, quiet, force, streaming, memory_budget, buffer_rows, nproc):
    """Train a VAE on DATA and save it, for 'anovae score' to use.

    The summary reports how many training rows the model flags, and with
    --label-column how well it ranks them (a streamed fit measures both on a
    uniform sample of the rows).
    """
    from .. import save
    from ._detection import (
        features_line,
        label_report,
        label_targets,
        report,
        score_rows,
        threshold_line,
        train,
        trim_hint,
        training_features,
        training_line,
    )
    from ._io import atomic_path, check_output_path, read_table

    params = parse_threshold_params(training.threshold, training.threshold_param)
    if training.threshold is not None and training.contamination is not None:
        raise click.UsageError("--contamination and --threshold are alternatives; give one")
    check_output_path(model_out, force=force, inputs=[data], option="--model-out")
    from ._fit_scale import launched, scaled_fit, should_stream

    if nproc > 1 and launched():
        raise click.UsageError("--nproc starts its own processes; under torchrun leave it out")
    # Several processes always read DATA in pieces; whether one would stream only
    # matters alone.
    stream = bool(streaming) if nproc > 1 else should_stream(data, streaming, memory_budget)
    if nproc > 1 or launched() or stream:
        work = dict(
            data=data, model_out=model_out, training=training, params=params, reading=reading,
            quiet=quiet, stream=stream, buffer_rows=buffer_rows,
        )
        if nproc == 1:
            return scaled_fit(**work)
        from ._launch import launch

        debug = bool(click.get_current_context().find_root().params.get("debug"))
        return launch(nproc, scaled_fit, work, debug=debug)
    frame = read_table(data, **reading)
    features = training_features(frame, training, data)
    label = training.label_column
    labels = label_targets(frame[label], data) if label is not None else None
    estimator, seconds, log_likelihood = train(frame[features], training, params, labels, quiet)
    with atomic_path(model_out) as tmp:
        save(estimator, tmp)
    if quiet:
        return
    scores, flags = score_rows(estimator, frame[features], log_likelihood)
    lines = [
        features_line(estimator, len(frame)),
        training_line(estimator, seconds),
        threshold_line(estimator, int(flags.sum()), len(frame)),
    ]
    lines += trim_hint(estimator, int(flags.sum()), len(frame), training.contamination)
    if labels is not None:
        lines.append(label_report(labels, scores, flags))
    lines.append(f"wrote {model_out}")
    report(lines, quiet)


@click.command()
@click.argument("data", metavar="DATA")
@click.option("--model", "model_path", required=True, metavar="PATH", help="A model saved by 'anovae fit' or 'detect --model-out'.")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Write the result here instead of to stdout: CSV, compressed CSV (.csv.gz, "
    ".bz2, .xz, .zst) or Parquet (.parquet, written chunk by chunk), by the name's "
    "suffix. With --dask, a folder of Parquet parts, one per input file.",
)
@click.option(
    "--chunksize",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Rows read, scored and written at a time; memory depends on it, not on the file size.",
)
@click.option(
    "--label-column",
    metavar="COL",
    help="Column of known labels (two classes): AUROC, AP and F1 are printed. Keeps "
    "one label and one score per row in memory.",
)
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Print the N most anomalous rows and the columns that make them so.")
@device_option(default=None)
@reading_options
@click.option(
    "--dask",
    "dask_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    callback=check_address,
    help="Score on a Dask cluster, one task per input file: alone, a cluster of one "
    "worker per core on this machine; with a scheduler address (tcp://host:8786), that "
    "cluster, whose workers must see DATA and OUT at the same paths. -o is then a folder.",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def score(data, model_path, output, chunksize, label_column, top, device, dask_address, reading, quiet, force):
    """Score DATA with a saved model, streaming it in chunks.

    DATA is a CSV or Parquet file, a folder of part files or a glob
    ('data/part-*.parquet', quoted). The output has every input row and column, in
    order, plus anomaly_score (higher = more anomalous) and is_anomaly (0/1): as
    written (cells, header, separator) in CSV, as read (typed columns) in Parquet.

    \b
    On a Dask cluster, into a folder of Parquet parts:
      anovae score 'telemetry/*.parquet' --model m.anovae -o scored/ --dask
      anovae score telemetry/ --model m.anovae -o scored/ --dask tcp://host:8786
    """
    if dask_address is not None:
        from ._dask_score import score_on_dask

        score_on_dask(dask_address, data, model_path, output, chunksize, label_column, top, device, reading, quiet, force)
        return
    import numpy as np
    import pandas as pd

    from ._detection import (
        ChunkScores,
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
    from ._io import check_columns, iter_table
    from ._output import check_table_output, open_table_output
    from ._pipeline import BackgroundWriter, prefetched

    check_table_output(output, force=force, inputs=[data, model_path])
    estimator = load_model(model_path, device)
    dtype = model_dtypes(estimator)
    tally = ChunkScores(estimator, None, data, top=top, label_column=label_column)
    labels = None
    # The model reads parsed values; the output copies the cells as written.
    chunks = iter_table(data, chunksize=chunksize, dtype=dtype, cells="text", **reading)
    # The CSV parser's "more fields than the header" warning is made an error inside
    # warnings.catch_warnings, whose filters are one setting for the whole process
    # (Python 3.11): switched by the reading thread, they could be switched back by
    # this one mid-parse and the extra fields dropped silently. Set here for the
    # whole command, before that thread starts, the filter is in every state either
    # thread saves and restores (the command's error boundary restores the filters
    # when it ends); Parquet input never raises that warning.
    warnings.filterwarnings("error", category=pd.errors.ParserWarning)
    # The next chunk is read while a chunk is scored.
    chunks = prefetched(chunks)
    # The last chunk is written while the next is scored. Closing the chunks on the
    # way out stops the reading thread at once, even when a chunk fails.
    with open_table_output(output) as table, BackgroundWriter(table.write) as write, contextlib.closing(chunks):
        for chunk, cells in chunks:
            if tally.features is None:
                if label_column is not None:
                    check_columns([label_column], chunk.columns, "--label-column")
                tally.features = model_features(estimator, chunk.columns, data, label_column)
                names = result_names(chunk.columns)
            scores, flags = tally(chunk)
            write(with_results(table.rows(chunk, cells), names, scores, flags))
        if label_column is not None:
            # Inside the output block: a bad label column must not leave a file behind.
            all_labels = pd.concat(tally.labels, ignore_index=True).rename(label_column)
            labels = label_targets(all_labels, data)
    lines = [
        features_line(estimator, tally.rows),
        f"scored with {model_path} (trained {estimator.n_epochs_} epoch(s))",
        threshold_line(estimator, tally.flagged, tally.rows),
    ]
    if labels is not None:
        lines.append(label_report(labels, np.concatenate(tally.scores), np.concatenate(tally.flags)))
    if output is not None:
        lines.append(f"wrote {os.fspath(output)}")
    report(lines, quiet)
    for line in tally.best.lines(estimator, tally.features, data):
        click.echo(line, err=True)
