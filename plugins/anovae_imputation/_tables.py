"""Tables in and out: validating the input, choosing columns, writing fills back.

Both imputers return a copy of their input in which only the missing cells of the
chosen columns change. The fills are written into the caller's own table rather than
a re-decoded one, so every observed cell comes back exactly as it went in: no
round trip through standardization, no float32, no re-parsed strings.
"""

import numpy as np
import pandas as pd
from sklearn.utils.validation import _check_feature_names, _check_n_features, validate_data


class AllowsMissing:
    """Mixin for the imputers: missing cells are their input, so scikit-learn's
    checks must not refuse NaN."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def is_frame(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def as_frame(estimator, X, *, reset, names=None):
    """Validate X (array or DataFrame) against ``estimator`` and return a DataFrame.

    On ``reset`` this records ``n_features_in_`` (and ``feature_names_in_`` for a
    DataFrame) on the estimator, as ``validate_data`` does. ``names`` relabels the
    columns with the names used in ``fit``, so that an array fitted model accepts a
    DataFrame and the other way round (sklearn warns about the mismatch).
    """
    if is_frame(X):
        labels = [str(c) for c in X.columns]
        if len(set(labels)) != len(labels):
            duplicate = next(label for label in labels if labels.count(label) > 1)
            raise ValueError(f"column {duplicate!r} appears more than once")
        _check_feature_names(estimator, X, reset=reset)
        _check_n_features(estimator, X, reset=reset)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"Found array with shape {X.shape} while at least 1 sample and 1 feature "
                "are required."
            )
        frame = X.set_axis(labels, axis=1)
    else:
        array = validate_data(
            estimator, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64
        )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if names is not None:
        frame = frame.set_axis(list(names), axis=1)
    return frame


def resolve_columns(columns, names, default):
    """Positions of the requested columns (names or integer positions), in table order.

    ``default`` (a list of positions) is used when ``columns`` is None.
    """
    if columns is None:
        return list(default)
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    names = list(names)
    positions = set()
    for column in columns:
        if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
            if not -len(names) <= column < len(names):
                raise ValueError(
                    f"column position {column} is out of range for {len(names)} columns"
                )
            positions.add(int(column) % len(names))
        elif str(column) in names:
            positions.add(names.index(str(column)))
        else:
            raise ValueError(
                f"column {column!r} is not in the data; its columns are {', '.join(names)}"
            )
    return sorted(positions)


def complete(X, fills, copy=True):
    """Return a copy of X with ``fills`` written in; nothing else changes.

    ``fills`` maps a column position to ``(rows, values)``: integer row positions and
    the value for each. A DataFrame comes back as a DataFrame with its index and,
    where the fills allow it, its dtypes; anything else as a float array. With
    ``copy=False`` a DataFrame or float array X of the caller's own is filled in
    place (it must not be the user's).
    """
    if not is_frame(X):
        out = np.array(X, dtype=np.float64, copy=copy)
        for j, (rows, values) in fills.items():
            out[rows, j] = values
        return out
    out = X.copy() if copy else X
    for j, (rows, values) in fills.items():
        if len(rows):
            out.isetitem(j, _filled(out.iloc[:, j], rows, values))
    return out


def _filled(series, rows, values):
    values = np.asarray(values)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # A category may come back that this table's dtype does not list (the model
        # saw it in training): widen the dtype instead of failing.
        new = [v for v in pd.unique(values) if v not in dtype.categories]
        if new:
            series = series.cat.add_categories(new)
    elif values.dtype.kind in "OUS" and pd.api.types.is_numeric_dtype(dtype):
        # An all-missing column read as float, filled with the model's categories.
        series = series.astype(object)
    elif pd.api.types.is_bool_dtype(dtype):
        values = values.astype(bool)
    elif pd.api.types.is_integer_dtype(dtype):
        # A nullable integer column stays integer: round the conditional mean.
        values = np.rint(values.astype(np.float64)).astype(np.int64)
    series = series.copy()
    series.iloc[rows] = values
    return series
