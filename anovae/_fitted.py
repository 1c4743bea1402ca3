"""What code outside the core may ask of a fitted VAE or ConditionalVAE.

Re-exported by ``anovae.modeling``. A plugin that builds on a fitted model (the
built-in imputers do) calls these instead of the estimators' private methods, so it
encodes, draws and scores exactly as the model itself does, through names that are
kept stable. Each function takes the fitted estimator first.
"""

from sklearn.utils.validation import check_is_fitted

from . import _scoring


def encode_rows(model, X):
    """Check ``X`` against ``model`` as ``score_samples`` does, and encode it.

    Returns the rows in the network's form: ``num`` (n, G) transformed Gaussian
    cells, ``bin`` (n, B) Bernoulli cells on the 0/1 scale (a two-valued column's
    lower value 0 and higher 1; any value outside [0, 1], such as the -1 a
    two-valued column's other values become, is never seen; NaN where missing),
    ``cat`` (n, C) category
    codes (-1 where missing); ``len()`` is the number of rows and ``take(rows)`` a
    subset. The column order is the codec's (all Gaussian, then Bernoulli, then
    categorical columns); :func:`missing_cells` gives the table's order.
    """
    encoded, _ = model._encode(X)
    return encoded


def column_codec(model):
    """The fitted column codec of ``model``: how table columns become network inputs.

    Its public part: ``encode(frame)`` (a DataFrame with the model's columns, not
    checked; see :func:`encode_rows`), ``decode(num, bin, cat_probs)`` (network-space
    values back to a DataFrame in the original units; ``cat_probs`` one (n, k + 1)
    array per categorical column, whose last slot, unseen values, is never chosen),
    ``names(kind=None)`` (column names, all or of one kind: ``GAUSSIAN``,
    ``BERNOULLI``, ``CATEGORICAL``), ``n_categories`` (k + 1 per categorical
    column), ``categories(name)`` (a categorical column's k seen values, in slot
    order) and ``column_order()`` (each table column's position in the codec's
    order).
    """
    check_is_fitted(model)
    return model._codec


def missing_cells(model, encoded):
    """Which cells of ``encoded`` (from :func:`encode_rows`) are missing, as an
    (n, n_features) boolean array in the table's column order."""
    return _scoring.missing_cells(column_codec(model), encoded)


def scoring_draws(model, shape, device=None):
    """The model's fixed standard normal draws of ``shape`` (a torch tensor).

    Drawn from the seed the model fixed in ``fit``: the same numbers on every call
    and every device, shared by all rows, so a result computed with them is
    deterministic and a row's result does not depend on the other rows. ``device``:
    where the tensor goes; by default the model's own device.
    """
    check_is_fitted(model)
    return model._draws(shape, model._scoring_device() if device is None else device)


def map_chunks(model, encoded, fn, samples=1, conditions=None):
    """Apply ``fn(batch, condition) -> tensor`` to ``encoded`` chunk by chunk, as the
    model scores: on its device, without gradients, in chunks small enough that
    memory stays flat, with its thread setting. Returns the concatenated outputs as a
    float64 NumPy array.

    ``batch`` has the tensors ``num``, ``bin``, ``cat`` of a chunk's rows;
    ``samples`` is how many draws ``fn`` evaluates per row (it sizes the chunks);
    ``conditions`` are one-hot label rows for a ConditionalVAE (``condition`` is then
    the chunk's rows of them), else None. Chunks run one after another, in order,
    so ``fn`` may draw from a random generator and stay reproducible.
    """
    check_is_fitted(model)
    return model._map_chunks(encoded, fn, samples, conditions)
