"""Scoring a Dask DataFrame with a fitted model, on the cluster (public API).

For tables too large for one machine, or already in Dask::

    import dask.dataframe as dd
    import anovae
    from anovae.dask import score_dataframe

    vae = anovae.load("model.anovae")
    frame = dd.read_parquet("telemetry/")
    scored = score_dataframe(frame, vae)          # lazy, like any Dask DataFrame
    scored.to_parquet("scored/")                  # or scored[scored.is_anomaly == 1]...

The model goes into the task graph once, as the bytes of its model file: each
worker receives it once and loads it once, whatever the number of partitions. The
scores are those of ``score_samples`` in one process, to float32 rounding: scoring
draws are fixed when the model is fitted, so a row's score does not depend on the
partition it is in. The command line's ``anovae score DATA --dask`` does the same on
files (see its ``--help``).

Importing this module does not import Dask; calling :func:`score_dataframe` does.
Install it with ``pip install 'anovae[dask]'``.
"""

__all__ = ["score_dataframe"]

SCORE_COLUMN = "anomaly_score"
FLAG_COLUMN = "is_anomaly"


def score_dataframe(ddf, estimator, *, score_column=SCORE_COLUMN, flag_column=FLAG_COLUMN):
    """Add the anomaly score and flag of every row of a Dask DataFrame.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        Rows to score. The columns the estimator was fitted on are picked by name,
        in any order (all columns, in order, for a model fitted on an array); other
        columns pass through unchanged.
    estimator : VAE
        A fitted :class:`anovae.VAE` (for instance from :func:`anovae.load`).
    score_column, flag_column : str
        Names of the two columns added.

    Returns
    -------
    dask.dataframe.DataFrame
        ``ddf`` with ``score_column`` (float64, ``-score_samples``: higher is more
        anomalous, in nats) and ``flag_column`` (int64, 1 where ``predict`` says -1)
        added, partition by partition. Lazy: nothing is computed until you ask.

    Raises
    ------
    anovae.errors.DataError
        ``ddf`` lacks a column the model was fitted on, or already has a column
        named ``score_column`` or ``flag_column``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, dask.dataframe as dd
    >>> from anovae import VAE
    >>> X = pd.DataFrame(np.random.RandomState(0).normal(size=(500, 3)), columns=list("abc"))
    >>> vae = VAE(max_epochs=2, random_state=0).fit(X)
    >>> scored = score_dataframe(dd.from_pandas(X, npartitions=4), vae)
    >>> list(scored.columns)
    ['a', 'b', 'c', 'anomaly_score', 'is_anomaly']
    >>> scores = scored["anomaly_score"].compute(scheduler="synchronous").to_numpy()
    >>> bool(np.allclose(scores, -vae.score_samples(X), rtol=1e-6))
    True
    """
    try:
        import dask
    except ImportError:
        from .errors import AnovaeError

        raise AnovaeError("anovae.dask needs Dask: pip install 'anovae[dask]'") from None
    import numpy as np
    import pandas as pd
    from sklearn.utils.validation import check_is_fitted

    from ._shipped_model import ShippedModel
    from .cli._detection import model_features
    from .errors import DataError

    check_is_fitted(estimator)
    features = model_features(estimator, ddf.columns, "the Dask DataFrame")
    for name in (score_column, flag_column):
        if name in ddf.columns:
            raise DataError(
                f"the Dask DataFrame already has a column {name!r}; choose another name "
                f"with score_column= / flag_column="
            )
    # One key in the graph for the model: each worker fetches it once.
    model = dask.delayed(ShippedModel.of(estimator), pure=True)
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in ddf.dtypes.items()})
    meta[score_column] = pd.Series(dtype=np.float64)
    meta[flag_column] = pd.Series(dtype=np.int64)
    return ddf.map_partitions(
        score_partition, model, features, (score_column, flag_column), meta=meta, align_dataframes=False
    )


def score_partition(frame, model, features, names):
    """One partition (a pandas DataFrame) with the two result columns added.

    ``model`` is a :class:`~anovae._shipped_model.ShippedModel`; ``features`` the
    columns the model takes; ``names`` the score and flag columns' names.
    """
    import numpy as np

    from .cli._detection import model_input, score_rows, with_results

    if len(frame) == 0:
        return with_results(frame, names, np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))
    estimator = model.estimator()
    scores, flags = score_rows(estimator, model_input(estimator, frame, features))
    return with_results(frame, names, scores, flags)
