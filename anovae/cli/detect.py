"""``anovae detect``: train a VAE on a table and flag its anomalous rows, in one step."""

import contextlib
import os

import click

# The modules that compute (pandas, scikit-learn, torch through the estimator) are
# imported inside the command: `anovae --help` and `anovae detect --help` import this
# module and must answer at once (benchmarks/cli_startup.py).
from ._options import given, parse_threshold_params, reading_options, training_options

# Options that shape training, meaningless when --model supplies a trained model.
_TRAINING_ONLY = ("threshold", "threshold_param", "contamination", "epochs", "latent_dim", "seed", "model_out")


@click.command()
@click.argument("data", metavar="DATA")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Write the result here instead of to stdout: CSV, compressed CSV (.csv.gz, "
    ".bz2, .xz, .zst) or Parquet (.parquet), by the name's suffix.",
)
@training_options
@reading_options
@click.option("--model-out", metavar="PATH", help="Also save the fitted model here (see 'anovae score').")
@click.option("--model", "model_path", metavar="PATH", help="Score with this saved model; no training.")
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Print the N most anomalous rows and the columns that make them so.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Replace OUT / --model-out if they exist.")
@click.pass_context
def detect(ctx, data, output, training, reading, model_out, model_path, top, quiet, force):
    """Train a VAE on DATA (CSV or Parquet: a file, a folder of parts or a glob) and
    score every row.

    The output has every input row and column, in order, plus anomaly_score
    (higher = more anomalous) and is_anomaly (0/1): as written (cells, header,
    separator) in CSV, as read (typed columns) in Parquet. Text columns are used as
    categorical features; leave identifiers out with --exclude.

    \b
    Example:
      anovae detect datasets/iot_sample.csv -o scored.csv \\
        --exclude timestamp --exclude device_id --exclude anomaly_type \\
        --label-column label --top 5
    """
    from .. import save
    from ._detection import (
        TopRows,
        check_model_values,
        check_scores,
        features_line,
        label_targets,
        label_report,
        load_model,
        model_dtypes,
        model_features,
        model_input,
        report,
        result_names,
        score_rows,
        threshold_line,
        trim_hint,
        train,
        training_features,
        training_line,
        with_results,
    )
    from ._io import atomic_path, check_columns, check_output_path, read_table
    from ._output import check_table_output, open_table_output

    if model_path is not None:
        for name in _TRAINING_ONLY:
            if given(ctx, name):
                flag = "--" + name.replace("_", "-")
                raise click.UsageError(f"{flag} applies to training; it cannot be used with --model")
    params = parse_threshold_params(training.threshold, training.threshold_param)
    if training.threshold is not None and training.contamination is not None:
        raise click.UsageError(
            "--contamination and --threshold are alternatives; give one "
            "(--threshold contamination --threshold-param contamination=X is the same rule)"
        )
    check_table_output(output, force=force, inputs=[data, model_path])
    check_output_path(model_out, force=force, inputs=[data], option="--model-out")
    if output and model_out and os.path.abspath(output) == os.path.abspath(model_out):
        raise click.BadParameter(f"{model_out} is the same file as -o {output}", param_hint="'--model-out'")

    estimator = None
    if model_path is not None:
        estimator = load_model(model_path, training.device if given(ctx, "device") else None)
    # The model reads parsed values; the output copies the cells as written.
    frame, cells = read_table(
        data, dtype=model_dtypes(estimator) if estimator is not None else None, cells="text", **reading
    )
    label = training.label_column
    if estimator is None:
        features = training_features(frame, training, data)
    else:
        if label is not None:
            check_columns([label], frame.columns, "--label-column")
        features = model_features(estimator, frame.columns, data, label)
        check_model_values(estimator, frame, features, data)
    labels = label_targets(frame[label], data) if label is not None else None

    lines = []
    known = None
    trained_here = estimator is None
    if trained_here:
        estimator, seconds, known = train(frame[features], training, params, labels, quiet)
        lines.append(training_line(estimator, seconds))
    else:
        lines.append(f"scored with {model_path} (trained {estimator.n_epochs_} epoch(s))")
    scores, flags = score_rows(estimator, model_input(estimator, frame, features), known)
    check_scores(scores, frame, data)
    names = result_names(frame.columns)

    with contextlib.ExitStack() as outputs:
        if model_out is not None:
            save(estimator, outputs.enter_context(atomic_path(model_out)))
        table = outputs.enter_context(open_table_output(output))
        table.write(with_results(table.rows(frame, cells), names, scores, flags))

    lines.insert(0, features_line(estimator, len(frame)))
    lines.append(threshold_line(estimator, int(flags.sum()), len(frame)))
    if trained_here:
        lines += trim_hint(estimator, int(flags.sum()), len(frame), training.contamination)
    if labels is not None:
        lines.append(label_report(labels, scores, flags))
    for path in (output, model_out):
        if path is not None:
            lines.append(f"wrote {path}")
    report(lines, quiet)
    if top:
        best = TopRows(top)
        best.add(frame, scores)
        for line in best.lines(estimator, features, data):
            click.echo(line, err=True)
