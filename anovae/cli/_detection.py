"""What ``detect``, ``fit`` and ``score`` share: features, the model, scores, labels, reports.

Conventions of the output: ``anomaly_score`` is ``-score_samples`` (higher = more
anomalous, in nats), ``is_anomaly`` is 1 exactly where the estimator's ``predict``
says -1.
"""

import time
import warnings
from dataclasses import dataclass

import click
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from .. import VAE
from .. import load as load_estimator
from .._base import FEW_TRAINING_ROWS, MIN_TRAINING_ROWS
from .._tabular import CATEGORICAL
from ..errors import DataError, FewRowsWarning
from ..thresholds import get_threshold_strategy, strategy_name
from ._io import check_columns, check_finite, check_not_empty, check_numeric, row_label
from ._text_rows import TextRows

SCORE_COLUMN = "anomaly_score"
FLAG_COLUMN = "is_anomaly"
# Label values read as "normal"; the other class of a two-class label is the anomaly.
_NORMAL_WORDS = {"normal", "benign", "inlier", "ok", "negative", "no", "0", "false"}


def warn(message):
    """A note the user should see even with --quiet (it concerns the result)."""
    click.echo(f"anovae: warning: {message}", err=True)


# ---- features -------------------------------------------------------------------------
def check_duplicate_names(columns, used, path, excluded=()):
    """Refuse a column name written twice when the command would use it.

    Which copy would be the feature (or the label)? Copies that are all excluded,
    or that the command does not use, are only copied to the output.
    """
    counts = pd.Series([str(c) for c in columns]).value_counts()
    for name, count in counts[counts > 1].items():
        if name in used and name not in excluded:
            hint = f" or leave every copy out with --exclude {name}" if excluded is not None else ""
            raise DataError(f"{path}: column name {name!r} appears {count} times; rename the copies{hint}")


def check_training_rows(n_rows, path):
    """Refuse a table too small to train on; warn, in one line, about a small one.

    The limits are the estimator's own (``anovae.VAE`` raises and warns alike): fewer
    than 2 rows is an error, fewer than 50 a warning (``benchmarks/training_rows.py``).
    """
    if n_rows < MIN_TRAINING_ROWS:
        raise DataError(f"{path}: {n_rows} data row(s); training needs at least {MIN_TRAINING_ROWS}")
    if n_rows < FEW_TRAINING_ROWS:
        warn(
            f"{path}: only {n_rows} data rows; a model trained on fewer than "
            f"{FEW_TRAINING_ROWS} cannot be trusted, its threshold least of all"
        )


def training_features(frame, training, path):
    """The columns to train on: all but the excluded ones and the label, checked."""
    check_duplicate_names(frame.columns, {str(c) for c in frame.columns}, path, set(training.exclude))
    check_columns(training.exclude, frame.columns, "--exclude")
    if training.label_column is not None:
        check_columns([training.label_column], frame.columns, "--label-column")
    left_out = set(training.exclude) | {training.label_column}
    features = [c for c in frame.columns if c not in left_out]
    if not features:
        raise DataError(
            f"{path}: no feature column left once --exclude and --label-column are "
            f"applied (columns: {', '.join(map(str, frame.columns))})"
        )
    check_not_empty(frame, features, path)
    check_finite(frame, features, path)
    check_training_rows(len(frame), path)
    _warn_suspicious_text_columns(frame, features, path)
    return features


def _warn_suspicious_text_columns(frame, features, path):
    # Two silent ways a text column hurts the model: an identifier becomes a
    # categorical with one category per row, and one typo in a numeric column turns
    # the whole column into text.
    for name in features:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        observed = series.dropna()
        # Each distinct value converted once: a million-row column holds a few.
        codes, uniques = pd.factorize(observed)
        unique_not_number = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").isna().to_numpy()
        not_numbers = pd.Series(unique_not_number[codes], index=observed.index)
        if 0 < not_numbers.sum() <= 0.01 * len(observed):
            position = not_numbers.idxmax()
            warn(
                f"column {name!r} is read as text because of the value {series[position]!r} on "
                f"{row_label(path, position)}; fix that cell for the column to be numeric"
            )
            continue
        distinct = len(uniques)
        if distinct > 50 and distinct > 0.5 * len(observed):
            warn(
                f"column {name!r} has {distinct} distinct values in {len(observed)} rows and is "
                f"used as a category; if it is an identifier or a timestamp, add --exclude {name}"
            )


def model_features(estimator, columns, path, label_column=None):
    """The columns ``estimator`` was trained on, found by name in ``columns``.

    Extra columns are ignored (they are copied to the output); missing ones are an
    error naming them. A model trained on an array (no column names) takes the
    columns in order, all but the label.
    """
    columns = list(columns)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        features = [c for c in columns if c != label_column]
        if len(features) != estimator.n_features_in_:
            raise DataError(
                f"{path}: the model expects {estimator.n_features_in_} unnamed columns, "
                f"the data has {len(features)}"
            )
        return features
    names = [str(n) for n in names]
    check_duplicate_names(columns, set(names) | {label_column}, path, excluded=None)
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataError(
            f"{path}: lacks column(s) {', '.join(map(repr, missing))} that the model was "
            "trained on"
        )
    if label_column in names:
        raise click.BadParameter(
            f"{label_column!r} is one of the model's features, not a label",
            param_hint="'--label-column'",
        )
    return names


def model_dtypes(estimator):
    """Read the model's categorical columns as text, so "007" is not read as 7."""
    kinds = getattr(estimator, "feature_kinds_", {})
    return {name: "string" for name, kind in kinds.items() if kind == CATEGORICAL} or None


def check_model_values(estimator, frame, features, path):
    """Values a model can score: numbers where it learnt numbers, no infinities."""
    kinds = getattr(estimator, "feature_kinds_", {})
    numeric = [c for c in features if kinds.get(str(c), "gaussian") != CATEGORICAL]
    check_numeric(frame, numeric, path)
    check_finite(frame, features, path)


def model_input(estimator, frame, features):
    """The frame an estimator takes: named columns, or a float array for an unnamed model."""
    X = frame[features]
    if getattr(estimator, "feature_names_in_", None) is None:
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    return X


# ---- the model ------------------------------------------------------------------------
def load_model(path, device=None):
    """Load a VAE written by ``anovae fit`` / ``--model-out`` (or ``anovae.save``)."""
    estimator = load_estimator(path)
    if not isinstance(estimator, VAE):
        raise DataError(
            f"{path}: holds a {type(estimator).__name__}; this command scores VAE models"
        )
    if device is not None:
        estimator.set_params(device=device)
    return estimator


def estimator_for(training, params, has_labels, quiet=False):
    """The VAE the training options describe; a strategy that learns from labels
    (such as ``f1``) without ``--label-column`` is a usage error."""
    strategy = None
    if training.threshold is not None:
        strategy = get_threshold_strategy(training.threshold, **params)
        if getattr(strategy, "supervised", False) and not has_labels:
            raise click.BadParameter(
                f"strategy {training.threshold!r} learns from labels; give --label-column",
                param_hint="'--threshold'",
            )
    # Options left out keep the estimator's own defaults (one place says what they are).
    given = {
        name: value
        for name, value in (("score_kl_weight", training.score_kl_weight), ("trim_fraction", training.trim_fraction))
        if value is not None
    }
    return VAE(
        latent_dim=training.latent_dim,
        max_epochs=training.epochs,
        max_steps=training.steps or "auto",
        input_masking=training.input_masking,
        contamination=training.contamination if training.contamination is not None else "auto",
        threshold=strategy,
        device=training.device,
        random_state=training.seed,
        verbose=0 if quiet else 1,
        **given,
    )


def train(X, training, params, labels=None, quiet=False):
    """Fit a VAE on ``X`` with the command's options.

    Returns the estimator, the seconds taken and ``score_samples(X)``, computed once
    by the fit itself (scoring a large table twice costs seconds). The estimator
    sets its own threshold; a supervised strategy (such as ``f1``) gets the known
    labels through ``fit``'s ``y``.
    """
    estimator = estimator_for(training, params, labels is not None, quiet)
    supervised = bool(getattr(estimator.threshold, "supervised", False))
    started = time.perf_counter()
    with warnings.catch_warnings():
        # check_training_rows already said so, naming the file.
        warnings.simplefilter("ignore", FewRowsWarning)
        log_likelihood = estimator.fit_score_samples(X, labels.y if supervised else None)
    estimator.set_params(verbose=0)
    return estimator, time.perf_counter() - started, log_likelihood


def score_rows(estimator, X, log_likelihood=None):
    """Return ``(anomaly_score, is_anomaly)`` for X in one scoring pass.

    ``is_anomaly`` repeats ``predict``'s arithmetic (``score_samples - offset_ < 0``)
    rather than calling it, which would score every row a second time.
    ``log_likelihood``: ``score_samples(X)`` when already known (from the fit).
    """
    if log_likelihood is None:
        log_likelihood = estimator.score_samples(X)
    flags = (log_likelihood - estimator.offset_ < 0).astype(np.int64)
    return -log_likelihood, flags


def check_scores(scores, frame, path):
    """Refuse to write a NaN or infinite score: a blank score is silently "normal".

    ``detect`` refuses such training scores when it fits the threshold; scoring with
    a saved model must refuse them too, naming the first row.
    """
    bad = ~np.isfinite(scores)
    if bad.any():
        position = frame.index[int(np.flatnonzero(bad)[0])]
        raise DataError(
            f"{path}: the model gives {row_label(path, position)} a NaN or infinite anomaly "
            f"score ({int(bad.sum())} row(s) in all); is the model file intact and the data "
            "within the range it was trained on?"
        )


# ---- output ---------------------------------------------------------------------------
def result_names(columns):
    """Names of the two result columns, prefixed with ``anovae_`` if the input has them.

    The sample data's own label is called ``is_anomaly``: the prediction must not
    hide it.
    """
    taken = {str(c) for c in columns}
    names = []
    for name in (SCORE_COLUMN, FLAG_COLUMN):
        chosen = name
        while chosen in taken:
            chosen = "anovae_" + chosen
        if chosen != name:
            warn(f"the input already has a column {name!r}; the result is in {chosen!r}")
        taken.add(chosen)
        names.append(chosen)
    return tuple(names)


def with_results(frame, names, scores, flags):
    """The input rows and columns, unchanged and in order, plus the two result columns.

    ``frame`` is a DataFrame (values or cells) or the rows' text (``TextRows``)."""
    if isinstance(frame, TextRows):
        return frame.appended(names, [scores, flags])
    out = frame.copy(deep=False)
    out[names[0]] = scores
    out[names[1]] = flags
    return out


# ---- labels ---------------------------------------------------------------------------
@dataclass
class Labels:
    column: str
    y: np.ndarray  # 1.0 anomaly, 0.0 normal, NaN unknown
    positive: object
    reason: str


def label_targets(series, path):
    """Read a two-class label column as 0/1 (NaN where missing).

    The anomaly class is 1 (or True) when the classes are 0/1; else the class that
    is not a "normal" word; else the rarer class. The choice is reported.
    """
    known = series.dropna()
    classes = list(pd.unique(known))
    if len(classes) != 2:
        shown = ", ".join(repr(_plain(c)) for c in classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise DataError(
            f"{path}: label column {series.name!r} has {len(classes)} distinct value(s) "
            f"({shown or 'none'}); it needs exactly two, normal and anomaly"
        )
    words = {str(_plain(c)).strip().lower() for c in classes}
    if words in ({"0", "1"}, {"false", "true"}, {"0.0", "1.0"}):
        positive = next(c for c in classes if str(_plain(c)).lower() in ("1", "true", "1.0"))
        reason = "the class 1"
    elif len(words & _NORMAL_WORDS) == 1:
        positive = next(c for c in classes if str(_plain(c)).strip().lower() not in _NORMAL_WORDS)
        reason = "the class that is not 'normal'"
    else:
        counts = known.value_counts()
        positive = counts.index[-1] if counts.iloc[0] != counts.iloc[-1] else sorted(classes, key=str)[-1]
        reason = "the rarer class"
    y = (series == positive).to_numpy(dtype=np.float64, na_value=np.nan)
    y[series.isna().to_numpy()] = np.nan
    return Labels(str(series.name), y, _plain(positive), reason)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def label_report(labels, scores, flags):
    """One line: AUROC and AP of the scores, F1 of the flags, against the labels."""
    known = ~np.isnan(labels.y)
    y = labels.y[known].astype(np.int64)
    auroc = roc_auc_score(y, scores[known])
    ap = average_precision_score(y, scores[known])
    f1 = f1_score(y, flags[known], zero_division=0.0)
    missing = int((~known).sum())
    note = f"; {missing} rows without a label left out" if missing else ""
    return (
        f"against {labels.column!r} (anomaly = {labels.positive!r}, {labels.reason}): "
        f"AUROC {auroc:.3f}  AP {ap:.3f}  F1 {f1:.3f}{note}"
    )


# ---- reports --------------------------------------------------------------------------
def report(lines, quiet):
    if quiet:
        return
    for line in lines:
        click.echo(line, err=True)


def features_line(estimator, n_rows):
    """Rows and the features used, so a user can see what --exclude left in."""
    kinds = getattr(estimator, "feature_kinds_", {})
    categorical = [name for name, kind in kinds.items() if kind == CATEGORICAL]
    numeric = len(kinds) - len(categorical)
    names = list(kinds)
    shown = ", ".join(names[:12]) + (f", ... ({len(names) - 12} more)" if len(names) > 12 else "")
    return (
        f"{n_rows} rows, {len(kinds)} features ({numeric} numeric, {len(categorical)} "
        f"categorical): {shown}"
    )


def training_line(estimator, seconds):
    budget = getattr(estimator, "training_budget_", None)
    steps = getattr(estimator, "n_steps_", None)
    if budget is None or steps is None:  # a model file from before step budgets
        return f"trained {estimator.n_epochs_} epoch(s) in {seconds:.1f} s"
    stopped = " (early stop)" if steps < budget["max_steps"] else ""
    return (
        f"trained {steps} steps of {budget['batch_size']} rows ({estimator.n_epochs_} "
        f"epoch(s)) in {seconds:.1f} s{stopped}"
    )


def threshold_line(estimator, flagged, n_rows):
    strategy = getattr(estimator, "threshold_strategy_", None)
    if strategy is None:
        rule = f"contamination {estimator.contamination}"
    else:
        rule = f"threshold {strategy_name(strategy, for_display=True)}"
    share = 100.0 * flagged / n_rows if n_rows else 0.0
    return (
        f"{rule}: anomaly_score > {-estimator.offset_:.6g} flags {flagged} row(s) ({share:.2f}%)"
    )


def trim_hint(estimator, flagged, n_rows, contamination=None):
    """A hint line, in a list, when the flagged share is large beside the trimmed
    share; an empty list otherwise (so that a summary adds it as it is).

    Trimmed training leaves out each batch's worst-explained rows from the first
    steps on; a normal regime below that share can be left out for good and is then
    flagged wholesale (README, "Contaminated training data"). With
    ``contamination`` (``--contamination``) the flagged share is the user's choice."""
    trim = estimator.trim_fraction
    if contamination is not None or not trim or not n_rows or flagged / n_rows <= trim / 2:
        return []
    return [
        f"hint: {100.0 * flagged / n_rows:.1f}% of the rows are flagged, and training left each "
        f"batch's worst-explained {100.0 * trim:g}% out: a normal regime that rare may never have "
        "been learned; if the flagged rows look ordinary, try --trim-fraction 0"
    ]


class ChunkScores:
    """Scores a table chunk by chunk, keeping what the summary needs: row and flag
    counts, the top rows and, with a label column, every label, score and flag.

    One rule for ``anovae score`` and its Dask tasks: each chunk's values are
    checked against the model, scored, and its scores checked, before any of it is
    written.
    """

    def __init__(self, estimator, features, source, *, top, label_column=None):
        self.estimator, self.features, self.source = estimator, features, source
        self.label_column = label_column
        self.rows = self.flagged = 0
        self.best = TopRows(top)
        self.labels, self.scores, self.flags = [], [], []

    def __call__(self, chunk):
        """(scores, flags) of ``chunk``'s rows."""
        check_model_values(self.estimator, chunk, self.features, self.source)
        scores, flags = score_rows(self.estimator, model_input(self.estimator, chunk, self.features))
        check_scores(scores, chunk, self.source)
        self.rows += len(chunk)
        self.flagged += int(flags.sum())
        self.best.add(chunk, scores)
        if self.label_column is not None:
            self.labels.append(chunk[self.label_column].astype(object))
            self.scores.append(scores)
            self.flags.append(flags)
        return scores, flags


class TopRows:
    """The ``n`` highest-scoring rows seen so far, kept across chunks (memory: n rows)."""

    def __init__(self, n):
        self.n = n
        self.rows = None
        self.scores = None

    def add(self, frame, scores):
        if not self.n:
            return
        order = np.argsort(-scores, kind="stable")[: self.n]
        rows, kept = frame.iloc[order], scores[order]
        if self.rows is not None:
            rows = pd.concat([self.rows, rows])
            kept = np.concatenate([self.scores, kept])
        best = np.argsort(-kept, kind="stable")[: self.n]
        self.rows, self.scores = rows.iloc[best], kept[best]

    def lines(self, estimator, features, path):
        """Describe each row: where it is, its score, its 3 most contributing columns."""
        if self.rows is None:
            return []
        rows = self.rows
        contributions = estimator.feature_scores(model_input(estimator, rows, features))
        contributions = np.asarray(contributions, dtype=np.float64)
        context = [c for c in rows.columns if c not in features]
        lines = [f"top {len(rows)} anomalies (columns contributing most, in nats):"]
        for i, (position, row) in enumerate(rows.iterrows()):
            score = self.scores[i]
            cells = contributions[i]
            top = [j for j in np.argsort(-np.nan_to_num(cells, nan=-np.inf), kind="stable")[:3]
                   if not np.isnan(cells[j])]
            parts = [
                f"{features[j]}={_short(row[features[j]])} ({cells[j]:.1f})" for j in top
            ]
            extra = ", ".join(f"{c}={_short(row[c])}" for c in context)
            lines.append(
                f"  {row_label(path, position)}  anomaly_score {score:.1f}  "
                + "  ".join(parts)
                + (f"  [{extra}]" if extra else "")
            )
        return lines


def _short(value, width=24):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "(missing)"
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
