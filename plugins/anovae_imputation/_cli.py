"""``anovae impute``: fill the missing cells of a table and write the completed copy."""

import inspect
import time
import warnings

import click

from anovae.cli import device_option

# pandas, torch and the imputers are imported when the command runs: this module is
# imported whenever the plugin adds its command, `anovae --help` included.

#: The imputers this plugin knows how to configure from the command's options; any
#: other registered imputer is built with the parameters it accepts (see _imputer).
_OWN = ("auto", "vae", "cvae")


def _check_method(ctx, param, value):
    from anovae.plugins import PluginError, lookup

    try:
        lookup("imputers", value)
    except PluginError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.argument("data", metavar="DATA")
@click.option(
    "-o", "--output", metavar="OUT", required=True,
    help="Write the completed table here ('-' for stdout): CSV, compressed CSV "
    "(.csv.gz, .bz2, .xz, .zst) or Parquet (.parquet), by the name's suffix.",
)
@click.option(
    "--na-values",
    multiple=True,
    metavar="TEXT",
    help="Also read this value as a missing cell (for example '?' or -999); repeatable. "
    "Blank cells, NA and NaN are missing anyway.",
)
@click.option(
    "--columns",
    multiple=True,
    metavar="COL",
    help="Fill only this column; repeatable. Default: every column with missing cells "
    "(with --method cvae: every text column with missing cells).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="COL",
    help="Leave this column out of the model (ids, timestamps); repeatable. It is copied "
    "to the output as it is.",
)
@click.option(
    "--method",
    metavar="NAME",
    default="auto",
    show_default=True,
    callback=_check_method,
    help="A registered imputer (see 'anovae plugins'). auto: numbers as vae does; a text "
    "cell gets the value that cvae's and vae's probabilities and the table's counts of "
    "value pairs together make most likely (MixedImputer). vae: conditional "
    "expectation (numbers) or most probable value "
    "(categories) under one VAE. cvae: for each text column, the value under which a "
    "conditional VAE reconstructs the row best (ID-CVAE). A plugin's imputer fills the "
    "numeric columns.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, metavar="N",
    help="Cap on training passes over the table. Default: none; the imputer's own "
    "step budget decides, and training stops early when it stalls.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, metavar="INT",
    help="Random seed: the same data and seed give the same result.",
)
@device_option()
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def impute(data, output, na_values, columns, exclude, method, epochs, seed, device, quiet, force):
    """Fill the missing cells of DATA (CSV or Parquet) and write the completed table.

    A model is trained on DATA itself (missing cells are left out of its
    likelihood) and fills each missing cell from the cells observed in the same row.
    Observed cells are written back exactly as read. A per-column count of the
    filled cells goes to stderr.

    \b
    Example:
      anovae impute sensors.csv -o sensors_filled.csv --na-values '?' --exclude id
    """
    import pandas as pd

    from anovae.errors import FewRowsWarning
    from anovae.tables import check_table_output, fill_cells, open_table_output, read_table

    check_table_output(output, force=force, inputs=[data])
    # The model reads parsed values; the output copies the cells as written.
    frame, cells = read_table(data, cells=True)
    frame = _with_na_values(frame, na_values)
    features, targets = _choose_columns(frame, columns, exclude, method, data)
    missing_before = frame[targets].isna().sum()
    wanted = [name for name in targets if missing_before[name] > 0]

    lines = []
    completed = frame
    if wanted:
        imputer = _imputer(method, wanted, epochs, seed, device, quiet)
        started = time.perf_counter()
        completed = frame.copy()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FewRowsWarning)
            filled = imputer.fit_transform(frame[features])
        for warning in caught:
            # The estimator's few-rows warning, said once and about the file; others
            # go on to the usual warning machinery.
            if issubclass(warning.category, FewRowsWarning):
                click.echo(
                    f"anovae: warning: {data}: only {len(frame)} data rows; an imputer trained "
                    "on so few rows cannot be trusted",
                    err=True,
                )
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        if not isinstance(filled, pd.DataFrame):
            filled = pd.DataFrame(filled, columns=features, index=frame.index)
        completed[wanted] = filled[wanted]
        lines.append(_training_line(imputer, method, len(frame), time.perf_counter() - started))

    with open_table_output(output) as table:
        if table.text and cells is not None:
            # The cells as written, with only the filled ones new.
            table.write(fill_cells(cells, frame, completed, wanted))
        else:
            table.write(completed)

    if not quiet:
        filled = missing_before - completed[targets].isna().sum()
        lines.extend(_fill_lines(filled, missing_before[wanted]))
        others = frame.columns.difference(targets, sort=False)
        left = {name: int(n) for name, n in frame[others].isna().sum().items() if n}
        if left:
            lines.append("left missing: " + ", ".join(f"{name} {n}" for name, n in left.items()))
        if output != "-":
            lines.append(f"wrote {output}")
        for line in lines:
            click.echo(line, err=True)


def _fill_lines(filled, missing):
    if missing.empty:
        return ["no missing cell to fill; the table is copied unchanged"]
    lines = [f"filled {int(filled.sum())} missing cell(s) in {int((filled > 0).sum())} column(s):"]
    for name, count in missing.items():
        lines.append(f"  {name}: {int(filled[name])} of {int(count)}")
    return lines


def _with_na_values(frame, tokens):
    """Blank out the cells that spell one of ``tokens``, and re-read such columns as numbers.

    A token like '?' in a numeric column made pandas read the whole column as text;
    once the token is gone the column is numeric again.
    """
    if not tokens:
        return frame
    import pandas as pd

    numbers = set(pd.to_numeric(pd.Series(tokens), errors="coerce").dropna())
    frame = frame.copy()
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            hit = series.isin(numbers)
        else:
            hit = series.astype("string").str.strip().isin(tokens)
        if not hit.any():
            continue
        series = series.mask(hit)
        if not pd.api.types.is_numeric_dtype(series):
            parsed = pd.to_numeric(series, errors="coerce")
            if (parsed.notna() == series.notna()).all():
                series = parsed.convert_dtypes(dtype_backend="numpy_nullable")
        frame[name] = series
    return frame


def _choose_columns(frame, columns, exclude, method, path):
    import pandas as pd

    from anovae.errors import DataError
    from anovae.tables import check_columns, check_finite, check_not_empty

    check_columns(exclude, frame.columns, "--exclude")
    check_columns(columns, frame.columns, "--columns")
    both = [name for name in columns if name in exclude]
    if both:
        raise click.BadParameter(f"column {both[0]!r} is also given to --exclude", param_hint="'--columns'")
    features = [name for name in frame.columns if name not in exclude]
    if not features:
        raise DataError(f"{path}: no column left once --exclude is applied")
    check_not_empty(frame, features, path)
    check_finite(frame, features, path)
    numeric = [name for name in features if pd.api.types.is_numeric_dtype(frame[name])]
    if method in ("auto", "vae"):
        return features, list(columns) or features
    if method not in _OWN:
        # A plugin's imputer is a scikit-learn transformer: numbers in, numbers out.
        for name in columns:
            if name not in numeric:
                raise click.BadParameter(
                    f"column {name!r} is not numeric; imputer {method!r} fills numeric columns",
                    param_hint="'--columns'",
                )
        if not numeric:
            raise DataError(f"{path}: imputer {method!r} fills numeric columns and there is none")
        return numeric, list(columns) or numeric
    if columns:
        for name in columns:
            if name in numeric:
                raise click.BadParameter(
                    f"column {name!r} is numeric; --method cvae recovers text (categorical) "
                    "columns, use --method vae for numbers",
                    param_hint="'--columns'",
                )
        targets = list(columns)
    else:
        targets = [name for name in features if name not in numeric]
        if not targets:
            raise DataError(
                f"{path}: --method cvae recovers text (categorical) columns and there is "
                "none; use --method vae for numbers"
            )
    if len(features) < 2:
        raise DataError(f"{path}: --method cvae needs at least one column besides the one it recovers")
    return features, targets


def _imputer(method, targets, epochs, seed, device, quiet):
    # Without --epochs the models keep their own budget: `anovae impute` then fills
    # exactly as VAEImputer() does (the defaults benchmarks/imputation.py measures).
    common = dict(device=device, verbose=0 if quiet else 1)
    if epochs is not None:
        common["max_epochs"] = epochs
    if method in _OWN:
        from ._cvae_imputer import CVAEImputer
        from ._cvae_imputer import default_estimator as default_cvae
        from ._mixed_imputer import MixedImputer
        from ._vae_imputer import VAEImputer, default_estimator

        vae = VAEImputer(estimator=default_estimator(**common), columns=targets, random_state=seed)
        cvae = CVAEImputer(estimator=default_cvae(**common), columns=targets, random_state=seed)
        if method == "auto":
            # Each part gets the seed as it is: a table without text columns is
            # filled exactly as --method vae fills it.
            return MixedImputer(vae=vae, cvae=cvae, columns=targets, random_state=seed)
        return vae if method == "vae" else cvae
    from anovae.plugins import lookup

    factory = lookup("imputers", method)
    offered = {"columns": targets, "random_state": seed, "device": device}
    return factory(**{key: value for key, value in offered.items() if key in _keywords(factory)})


def _keywords(factory):
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _training_line(imputer, method, n_rows, seconds):
    if method not in _OWN:
        return f"fitted imputer {method!r} on {n_rows} rows ({seconds:.1f}s)"
    if method == "auto":
        vae, cvae = imputer.vae_, imputer.cvae_
    elif method == "vae":
        vae, cvae = imputer, None
    else:
        vae, cvae = None, imputer
    parts = []
    if vae is not None:
        # The command builds one model (it has no --n-estimators).
        parts.append(f"a VAE ({vae.estimator_.n_epochs_} epoch(s))")
    if cvae is not None:
        epochs = ", ".join(f"{name} {model.n_epochs_}" for name, model in cvae.estimators_.items())
        parts.append(f"{len(cvae.estimators_)} conditional VAE(s) (epochs: {epochs})")
    return f"trained {' and '.join(parts)} on {n_rows} rows ({seconds:.1f}s)"
