"""VAEImputer: fill missing cells with a VAE's conditional expectations."""

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from anovae import VAE
from anovae.modeling import (
    BERNOULLI,
    CATEGORICAL,
    GAUSSIAN,
    column_codec,
    encode_rows,
    map_chunks,
    missing_cells,
    resolve_device,
    scoring_draws,
)

from ._miwae import conditional_means, importance_weights, most_probable, resampled_draws
from ._tables import AllowsMissing, as_frame, complete, resolve_columns


def _zero_one(column):
    """Whether every observed value of ``column`` is 0 or 1."""
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return bool(np.isin(values[~np.isnan(values)], (0.0, 1.0)).all())


def default_estimator(**params):
    """The VAE fitted when none is given (``params`` override its settings).

    Five settings differ from the detector's defaults, on purpose:

    - a per-cell learned variance (``noise_std="cell"``): the importance weights
      rest on how well each draw explains the observed cells, and a fixed or
      per-column noise makes the draws look alike (measured on two-factor synthetic
      data: RMSE 0.29 per cell, 0.42 per column, 0.78 with unit noise);
    - no trimming (``trim_fraction=0``): the rows a detector would leave out as
      presumed anomalies still need their cells filled (satellite, 20% missing:
      RMSE 0.33 untrimmed against 0.64 with a fifth of each minibatch trimmed);
    - no power transform (``numeric_transform="standardize"``): a fill is judged
      in the user's units, where the back-transformed mean of a heavy-tailed
      column is biased low (on five of the ODDS sets defaults are chosen on, 20% of
      cells missing, seed 0: mean RMSE 0.722 standardized against 0.777 with
      Yeo-Johnson; pageblocks 0.693 against 0.990);
    - wider layers and a fixed step budget (``hidden_layer_sizes=(256, 256)``,
      ``max_steps=3000``, without the detector's cap of 50 passes over a small
      table): a conditional expectation needs a sharper decoder than a density
      score does. Chosen on the ten ``CHOSEN_ON`` sets of ``benchmarks/odds.py``
      only (20% of cells missing, seed 0, mean RMSE): 0.772 with the detector's
      (64, 32) and automatic budget, 0.743 with 3000 steps, 0.724 with (128, 128),
      0.710 with both, 0.679 with (256, 256) and 3000 steps, 0.682 with (512, 512);
      the held-out figures are in ``benchmarks/imputation.py``.

    The detection threshold is unused here; a fixed share skips fitting one.
    """
    return VAE(**{
        "noise_std": "cell", "trim_fraction": 0.0, "numeric_transform": "standardize",
        "hidden_layer_sizes": (256, 256), "max_steps": 3000, "contamination": 0.1, **params,
    })


class VAEImputer(AllowsMissing, TransformerMixin, BaseEstimator):
    """Fill missing cells with a variational autoencoder (the MIWAE rule).

    ``fit`` trains an :class:`anovae.VAE` on the incomplete table: missing cells
    are left out of its likelihood, so no complete rows are needed. ``transform``
    then fills each missing cell from the model, conditioning on the cells observed
    in the same row by self-normalized importance sampling over K posterior draws:

    - a numeric cell gets its conditional expectation E[x_m | x_o] (a column of
      two values other than 0 and 1, Bernoulli in the model, too: a value between
      its two);
    - a categorical cell (and a 0/1 column) gets its most probable value under the
      same weights, sum_k w_k p(x_m | z_k).

    Observed cells are never changed: the result is a copy of the input with only
    the missing cells written. For multiple imputation, :meth:`sample_imputations`
    returns several completed tables drawn from the model's conditional
    distribution (sampling importance resampling); ``sample_posterior=True`` makes
    ``transform`` return one such draw.

    A DataFrame comes back as a DataFrame (same index, same dtypes where the fills
    allow it), so string and categorical columns work; an array comes back as a
    float array. Missing cells are NaN, None or ``pd.NA``.

    Parameters
    ----------
    estimator : anovae.VAE or None, default=None
        The model to fit (cloned; it is never modified). None uses
        ``anovae.VAE(noise_std="cell", trim_fraction=0.0,
        numeric_transform="standardize", hidden_layer_sizes=(256, 256),
        max_steps=3000, contamination=0.1)``: a decoder that learns each cell's
        variance, which the importance weights need, wider than the detector's and
        trained on every row in the user's units for 3000 steps (early stopping
        may end it sooner), and a detection threshold (unused here) set by a fixed
        share rather than fitted. Why each differs: :func:`default_estimator`.
    columns : list of str or int, or None, default=None
        Columns to fill, by name or position; None fills every column. The model
        always uses every column.
    n_importance_samples : int, default=100
        K, the posterior draws behind each estimate. Memory stays bounded whatever
        K and the number of rows: rows are processed in chunks.
    n_estimators : int, default=1
        Models fitted, each with its own seed. ``transform`` averages their
        conditional expectations (and category probabilities) before picking a
        value; a draw comes from one model picked at random. Fitting and filling
        cost grow in proportion.
    sample_posterior : bool, default=False
        If True, ``transform`` returns one draw from the conditional distribution
        instead of the conditional expectation / most probable value.
    random_state : int, RandomState instance or None, default=None
        Seeds the model (overriding ``estimator.random_state`` unless None) and the
        draws of ``sample_posterior``. The importance draws are fixed by the fitted
        model, so ``transform`` gives the same result on every call.

    Attributes
    ----------
    estimators_ : list of anovae.VAE
        The fitted models (``n_estimators`` of them).
    estimator_ : anovae.VAE
        The first of ``estimators_``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame.

    See Also
    --------
    CVAEImputer : recovers a categorical column with a conditional VAE (ID-CVAE).
    sklearn.impute.IterativeImputer : the regression-based alternative.

    References
    ----------
    .. [1] P.-A. Mattei and J. Frellsen, "MIWAE: Deep Generative Modelling and
       Imputation of Incomplete Data Sets", ICML 2019.
    .. [2] D. B. Rubin, "Using the SIR algorithm to simulate posterior
       distributions", Bayesian Statistics 3, 1988.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae import VAE
    >>> from anovae_imputation import VAEImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 1)) @ [[1.0, 2.0, -1.0]]
    >>> X[::3, 1] = np.nan
    >>> model = VAE(noise_std="cell", trim_fraction=0.0, max_epochs=20)
    >>> imputer = VAEImputer(estimator=model, random_state=0).fit(X)
    >>> filled = imputer.transform(X)
    >>> bool(np.isnan(filled).any()), bool((filled[1] == X[1]).all())
    (False, True)
    """

    _parameter_constraints: dict = {
        "estimator": [None, VAE],
        "columns": [None, "array-like", str, Integral],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        estimator=None,
        columns=None,
        n_importance_samples=100,
        n_estimators=1,
        sample_posterior=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.columns = columns
        self.n_importance_samples = n_importance_samples
        self.n_estimators = n_estimators
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the model on X (array or DataFrame, missing cells allowed).

        Returns
        -------
        self : VAEImputer
        """
        frame = as_frame(self, X, reset=True)
        self._names = list(frame.columns)
        self._targets = resolve_columns(self.columns, self._names, range(len(self._names)))
        self.estimators_ = [model.fit(frame) for model in self._models()]
        self.estimator_ = self.estimators_[0]
        # 0/1 columns get 0 or 1, not a probability: the filled column keeps its values.
        # Other two-valued columns (Bernoulli in the model too) get the expected value
        # between their two, as every other number does: rounded to one of their two
        # values, hepatitis's standardized flags went from RMSE 0.98 to 1.12
        # (benchmarks/imputation.py).
        by_name = {str(name): frame[name] for name in frame.columns}
        self._binary = np.array(
            [_zero_one(by_name[name]) for name in column_codec(self.estimator_).names(BERNOULLI)], dtype=bool
        )
        return self

    def _models(self):
        """The ``n_estimators`` unfitted models, each with its own seed; sets the
        draw seed of ``sample_posterior``."""
        base = clone(self.estimator) if self.estimator is not None else default_estimator()
        rng = check_random_state(self.random_state)
        models = []
        for i in range(self.n_estimators):
            model = clone(base)
            if self.random_state is not None:
                model.set_params(random_state=int(rng.randint(2**31 - 1)))
            elif i > 0 and base.random_state is not None:
                # The given model's seed fixes the first; the others must differ from it.
                seeds = check_random_state(base.random_state)
                model.set_params(random_state=int(seeds.randint(2**31 - 1, size=i)[-1]))
            models.append(model)
        self._draw_seed = int(rng.randint(2**31 - 1))
        return models

    def transform(self, X):
        """Fill the missing cells of X.

        Returns
        -------
        X_filled : DataFrame if X is one, else ndarray of shape (n_samples, n_features)
            A copy of X whose missing cells (in ``columns``) are filled.
        """
        if self.sample_posterior:
            generator = torch.Generator().manual_seed(self._draw_seed)
            return self._impute(X, n_draws=1, generator=generator)[0]
        return self._impute(X)[0]

    def sample_imputations(self, X, n_imputations=5, random_state=None):
        """Draw ``n_imputations`` completed copies of X for multiple imputation.

        Each copy fills the missing cells with one draw from the model's conditional
        distribution given the row's observed cells; observed cells are the same in
        every copy. Analyse each copy, then pool (Rubin's rules).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        n_imputations : int, default=5
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        imputations : list of n_imputations DataFrames or ndarrays, like ``transform``.
        """
        check_is_fitted(self)
        if not isinstance(n_imputations, Integral) or n_imputations < 1:
            raise ValueError(f"n_imputations must be a positive integer, got {n_imputations!r}")
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        return self._impute(X, n_draws=int(n_imputations), generator=torch.Generator().manual_seed(seed))

    def category_probabilities(self, X, column):
        """The probability of each value of the categorical ``column`` in each row of
        X, given the row's other observed cells.

        The same estimate ``transform`` picks a fill from (the importance-weighted
        decoder probabilities, averaged over the models), here as numbers, so that
        another model's evidence can be weighed against it (``MixedImputer``
        multiplies it with its conditional VAE's). The column's own cells are not
        read: an observed cell is treated as missing, so every row is asked the same
        question.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features)
        column : str
            A column of ``fit``'s table that the model holds as categorical (text).

        Returns
        -------
        probabilities : DataFrame of shape (n_samples, n_values)
            One column per value of ``column`` seen in ``fit``, X's index; each row
            sums to 1.
        """
        check_is_fitted(self)
        frame = as_frame(self, X, reset=False, names=self._names)
        codec = column_codec(self.estimator_)
        text = codec.names(CATEGORICAL)
        if column not in text:
            raise ValueError(
                f"column {column!r} is not a categorical column of the fitted table "
                f"(categorical: {', '.join(map(repr, text)) or 'none'})"
            )
        blanked = frame.copy()
        blanked[column] = frame[column].where(np.zeros(len(frame), dtype=bool))
        means = self._conditional_means(encode_rows(self.estimator_, blanked))
        # conditional_means' layout: Gaussian, Bernoulli, then each categorical
        # column's seen categories.
        start = len(codec.names(GAUSSIAN)) + len(codec.names(BERNOULLI))
        for name, slots in zip(text, codec.n_categories):
            if name == column:
                break
            start += slots - 1
        values = codec.categories(column)
        probabilities = means[:, start : start + len(values)]
        # The slot for never-seen values is left out: what remains is renormalized.
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        return pd.DataFrame(probabilities, index=frame.index, columns=pd.Index(values, dtype=object))

    def get_feature_names_out(self, input_features=None):
        """Output names: the input's, since every column passes through."""
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    # ---- the work --------------------------------------------------------------------
    def _impute(self, X, n_draws=None, generator=None):
        """Completed copies of X: one (the expectations) or ``n_draws`` draws."""
        check_is_fitted(self)
        frame = as_frame(self, X, reset=False, names=self._names)
        # One encoding serves every model: their codecs are fitted alike on the same table.
        encoded = encode_rows(self.estimator_, frame)
        missing = missing_cells(self.estimator_, encoded)
        missing[:, np.setdiff1d(np.arange(missing.shape[1]), self._targets)] = False
        rows = np.flatnonzero(missing.any(axis=1))
        copies = 1 if n_draws is None else n_draws
        if rows.size == 0:
            return [complete(X, {}) for _ in range(copies)]

        if n_draws is None:
            values = self._expectations(encoded.take(rows))[:, None, :]
        else:
            values = self._draws(encoded.take(rows), n_draws, generator)
        completed = []
        for m in range(copies):
            decoded = self._decode(values[:, m, :])
            fills = {}
            for j in self._targets:
                hit = missing[rows, j]
                fills[j] = (rows[hit], decoded.iloc[:, j].to_numpy()[hit])
            completed.append(complete(X, fills))
        return completed

    def _expectations(self, encoded):
        """Model-space fills (n, G + B + C): each model's conditional expectations,
        averaged over the models, then the most probable value of each 0/1 and
        categorical cell."""
        means = self._conditional_means(encoded)
        codec = column_codec(self.estimator_)
        # n_categories counts the slot kept for unseen values; fills use seen ones only.
        return most_probable(means, len(codec.names(GAUSSIAN)), self._binary, [k - 1 for k in codec.n_categories])

    def _conditional_means(self, encoded):
        """Each model's :func:`conditional_means` of the rows, averaged over the models."""
        return np.mean([
            self._map(model, encoded, lambda likelihood, out, weights, binary: conditional_means(likelihood, out, weights))
            for model in self.estimators_
        ], axis=0)

    def _draws(self, encoded, n_draws, generator):
        """(n, n_draws, G + B + C) draws from the models' equal-weight mixture: each
        draw comes from one model picked at random."""
        per_model = [
            self._map(
                model, encoded,
                lambda likelihood, out, weights, binary: resampled_draws(
                    likelihood, out, weights, binary, n_draws, generator
                ),
                extra=n_draws,
            )
            for model in self.estimators_
        ]
        if len(per_model) == 1:
            return per_model[0]
        n = per_model[0].shape[0]
        picks = torch.randint(len(per_model), (n, n_draws), generator=generator).numpy()
        return np.take_along_axis(np.stack(per_model), picks[None, :, :, None], axis=0)[0]

    def _map(self, model, encoded, rule, extra=0):
        """``rule(likelihood, decoder outputs, importance weights, binary)`` over the
        rows of ``encoded``, chunk by chunk, under one fitted model."""
        module = model.module_
        device = resolve_device(model.device)
        eps = scoring_draws(model, (self.n_importance_samples, 1, model.latent_dim), device)
        binary = torch.as_tensor(self._binary, device=device)

        def fill(batch, _):
            out, weights = importance_weights(module, batch, eps)
            return rule(module.likelihood, out, weights, binary)

        return map_chunks(model, encoded, fill, samples=self.n_importance_samples + extra)

    def _decode(self, values):
        """Model-space values (n, G + B + C) to a DataFrame in the original units."""
        codec = column_codec(self.estimator_)
        g, b = len(codec.names(GAUSSIAN)), len(codec.names(BERNOULLI))
        codes = values[:, g + b :].astype(np.int64)
        onehots = [np.eye(k)[codes[:, i]] for i, k in enumerate(codec.n_categories)]
        return codec.decode(values[:, :g], values[:, g : g + b], onehots)
