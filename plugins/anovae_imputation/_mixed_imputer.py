"""MixedImputer: each kind of column filled by the rule that suits it (``anovae impute``'s default)."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._cvae_imputer import CVAEImputer
from ._tables import AllowsMissing, as_frame, complete, resolve_columns
from ._vae_imputer import VAEImputer


class MixedImputer(AllowsMissing, TransformerMixin, BaseEstimator):
    """Fill numeric cells with a VAE and recover text cells with a conditional VAE.

    A text (categorical) column is a label the other columns predict: for each one
    with missing cells, a :class:`CVAEImputer` trains a conditional VAE with that
    column as the label, which gives each candidate value its posterior
    probability from how well it explains the rest of the row (the ID-CVAE rule,
    with the values' training frequencies as their prior). Numeric columns get their
    conditional expectation from one :class:`VAEImputer` (the MIWAE rule). Both
    models read the table as it was given, so neither depends on the other's fills.

    Why two models: a single VAE fills a category from ``sum_k w_k p(x_m | z_k)``,
    its decoder's guess from a code that never saw the column, while the
    conditional VAE compares the whole row's evidence under each candidate value;
    which one recovers categories better was decided on a selection set
    (``benchmarks/imputation.py`` gives the rule and the figures). The two err on
    different rows (the conditional VAE's decoder can reconstruct a value pair it
    never saw together), so a text cell gets the value with the highest product of
    both models' probabilities (``text_rule="product"``). By default that product
    is also multiplied, for each other text column observed in the row, by how much
    more often the value occurred beside that column's value than overall in
    ``fit``'s table (``text_rule="cooccurrence"``, a naive-Bayes factor
    ``p(v | t) / p(v)`` from add-one counts): a pair of text values never seen
    together is then unlikely whatever the networks' codes make of the row.
    ``text_rule="cvae"`` keeps the conditional VAE's choice alone.

    Observed cells are never changed. A DataFrame comes back as a DataFrame, an
    array as a float array (an array has no text column: only the VAE runs).

    Parameters
    ----------
    vae : VAEImputer or None, default=None
        Fills the numeric columns (cloned). None uses ``VAEImputer()``.
    cvae : CVAEImputer or None, default=None
        Recovers the text columns (cloned). None uses ``CVAEImputer()``.
    columns : list of str or int, or None, default=None
        Columns to fill, by name or position. None fills every numeric column and
        every text column that has a missing cell in ``fit``'s table (each text
        column needs a model of its own: name it here to have one fitted anyway).
    max_categories : int, default=256
        A text column with more distinct values than this (identifiers, free text),
        or with a single one, is filled by the VAE instead: the conditional VAE
        scores every candidate value for every missing cell, and needs two classes.
    text_rule : {"cooccurrence", "product", "cvae"}, default="cooccurrence"
        How a text cell's value is chosen: the highest product of the conditional
        VAE's posterior and the VAE's probability of the value given the row's
        other cells (:meth:`VAEImputer.category_probabilities`), times the
        co-occurrence ratios of ``cooccurrence_`` ("cooccurrence"); that product
        without the ratios ("product"); or the conditional VAE's posterior alone
        ("cvae"). The first two fit the VAE even when no numeric column is to be
        filled (on KDDTrain+ with one text column blank: 1.5 times the time). A
        row's text cell that is blank, or holds a value ``fit`` never saw beside
        the target column, adds no ratio.
    random_state : int, RandomState instance or None, default=None
        Given to both imputers as it is (overriding theirs unless None), so that on
        a table without text columns the result is ``VAEImputer``'s with that seed.

    Attributes
    ----------
    vae_ : VAEImputer or None
        The fitted VAE imputer; None when no numeric column is to be filled and
        ``text_rule`` is "cvae" (or no text column is to be filled).
    cvae_ : CVAEImputer or None
        The fitted text imputer; None when no text column is to be filled.
    cooccurrence_ : dict
        For each text column to be filled, ``{other text column: DataFrame}``:
        how many rows of ``fit``'s table hold each pair of values (rows: the other
        column's values; columns: the target's). Empty unless ``text_rule`` is
        "cooccurrence". The other text columns are those with 2 to
        ``max_categories`` distinct values.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame.

    See Also
    --------
    VAEImputer : one VAE for every column.
    CVAEImputer : the ID-CVAE recovery of text columns alone.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anovae import VAE, ConditionalVAE
    >>> from anovae_imputation import CVAEImputer, MixedImputer, VAEImputer
    >>> rng = np.random.RandomState(0)
    >>> x = rng.normal(size=400)
    >>> df = pd.DataFrame({"x": x, "y": x + rng.normal(0, 0.1, 400),
    ...                    "side": np.where(x > 0, "right", "left")})
    >>> df.loc[::4, "side"] = None
    >>> df.loc[1::4, "y"] = np.nan
    >>> imputer = MixedImputer(vae=VAEImputer(estimator=VAE(max_epochs=30)),
    ...                        cvae=CVAEImputer(estimator=ConditionalVAE(max_epochs=30)),
    ...                        random_state=0)
    >>> filled = imputer.fit_transform(df)
    >>> int(filled.isna().sum().sum())
    0
    """

    _parameter_constraints: dict = {
        "vae": [None, VAEImputer],
        "cvae": [None, CVAEImputer],
        "columns": [None, "array-like", str, Integral],
        "max_categories": [Interval(Integral, 2, None, closed="left")],
        "text_rule": [StrOptions({"cooccurrence", "product", "cvae"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self, *, vae=None, cvae=None, columns=None, max_categories=256, text_rule="cooccurrence", random_state=None
    ):
        self.vae = vae
        self.cvae = cvae
        self.columns = columns
        self.max_categories = max_categories
        self.text_rule = text_rule
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the imputer each kind of target column needs.

        Returns
        -------
        self : MixedImputer
        """
        frame = as_frame(self, X, reset=True)
        self._names = list(frame.columns)
        is_text = [not pd.api.types.is_numeric_dtype(frame[name]) for name in self._names]
        default = [j for j, name in enumerate(self._names) if not is_text[j] or frame[name].isna().any()]
        targets = resolve_columns(self.columns, self._names, default)
        labels = [
            j for j in range(len(self._names))
            if is_text[j] and 2 <= frame.iloc[:, j].nunique() <= self.max_categories
        ]
        self._text = [j for j in targets if j in labels and len(self._names) > 1]
        self._others = [j for j in targets if j not in self._text]
        self.vae_ = self.cvae_ = None
        self.cooccurrence_ = {}
        if self.text_rule == "cooccurrence":
            self.cooccurrence_ = {
                self._names[j]: {self._names[k]: _pair_counts(frame, k, j) for k in labels if k != j}
                for j in self._text
            }
        # The product rules weigh the VAE's probabilities of each text value: the VAE
        # is then fitted even when no numeric column is to be filled.
        if self._others or (self._text and self.text_rule != "cvae"):
            self.vae_ = self._configured(
                self.vae if self.vae is not None else VAEImputer(), self._others or self._text
            ).fit(X)
        if self._text:
            self.cvae_ = self._configured(self.cvae if self.cvae is not None else CVAEImputer(), self._text).fit(X)
        return self

    def _configured(self, imputer, positions):
        imputer = clone(imputer).set_params(columns=[self._names[j] for j in positions])
        if self.random_state is not None:
            imputer.set_params(random_state=self.random_state)
        return imputer

    def transform(self, X):
        """Fill the missing cells of the target columns.

        Returns
        -------
        X_filled : DataFrame if X is one, else ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "vae_")
        frame = as_frame(self, X, reset=False, names=self._names)
        filled = self.vae_.transform(X) if self._others else X
        fills = {}
        if self.cvae_ is not None:
            # Only a DataFrame has text columns.
            for j in self._text:
                rows = np.flatnonzero(frame.iloc[:, j].isna().to_numpy())
                if rows.size:
                    fills[j] = (rows, self._recovered(frame.iloc[rows], self._names[j]))
        # The VAE's output is already a copy of X: written in place, not copied again.
        return complete(filled, fills, copy=not self._others)

    def _recovered(self, rows, name):
        """The value each of ``rows`` gets in the text column ``name``."""
        log_posterior = self.cvae_.class_log_posterior(rows, name)
        # A text column is categorical in the VAE too (fit gave it both models).
        if self.text_rule != "cvae" and self.vae_ is not None:
            probabilities = self.vae_.category_probabilities(rows, name)
            aligned = probabilities.reindex(columns=log_posterior.columns, fill_value=0.0).to_numpy()
            # A value one model never saw is not ruled out by that model alone.
            log_posterior = log_posterior + np.log(np.maximum(aligned, np.finfo(np.float64).tiny))
        for other, counts in getattr(self, "cooccurrence_", {}).get(name, {}).items():
            log_posterior = log_posterior + _log_ratios(counts, rows[other], log_posterior.columns)
        return log_posterior.columns.to_numpy()[np.argmax(log_posterior.to_numpy(), axis=1)]

    def get_feature_names_out(self, input_features=None):
        """Output names: the input's, since every column passes through."""
        check_is_fitted(self, "vae_")
        return _check_feature_names_in(self, input_features)


def _pair_counts(frame, other, target):
    """Rows of ``frame`` holding each pair of values of columns ``other`` and ``target``
    (positions), over the rows where both are observed."""
    pairs = frame.iloc[:, [other, target]].dropna().astype(object)
    return pd.crosstab(pairs.iloc[:, 0], pairs.iloc[:, 1]).rename_axis(index=None, columns=None)


def _log_ratios(counts, given, values):
    """log p(v | t) - log p(v) for each row's value t of ``given`` (a Series) and each
    target value v of ``values``, from the pair ``counts`` with one added to every
    cell (so a pair never seen is unlikely, not impossible). Zero on rows whose
    ``given`` is blank or a value the counts never saw: they carry no evidence."""
    table = counts.reindex(columns=values, fill_value=0)
    n_values = len(values)
    overall = table.to_numpy().sum(axis=0)
    log_prior = np.log((overall + 1.0) / (overall.sum() + n_values))
    given = given.astype(object)
    known = given.isin(table.index).to_numpy()
    out = np.zeros((len(given), n_values))
    if known.any():
        pairs = table.reindex(given[known]).to_numpy(dtype=np.float64)
        out[known] = np.log((pairs + 1.0) / (pairs.sum(axis=1, keepdims=True) + n_values)) - log_prior
    return out
