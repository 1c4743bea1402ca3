"""The unsupervised detector and transformer."""

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseVAE, _is_frame, transactional
from ._persistence import register_model_class
from .errors import DataError
from .thresholds import get_threshold_strategy, strategy_name

#: Strategy used when ``contamination="auto"`` and no ``threshold`` is given; chosen by
#: ``benchmarks/thresholds.py`` (see the README).
DEFAULT_THRESHOLD = "iqr"
#: How many times scores count the KL term (see ``score_kl_weight``); model files
#: saved before the parameter existed scored with the plain bound, 1.
SCORE_KL_WEIGHT = 2.0


class VAE(ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin, BaseVAE):
    """Variational autoencoder for anomaly detection and representation learning.

    A Gaussian-latent VAE trained by minibatch AEVB with the reparameterization
    trick. Rows are scored by their evidence lower bound (or, with
    ``n_importance_samples > 1``, the importance-weighted bound) on log p(x): the
    lower the score, the more abnormal the row.

    Numeric columns get a Gaussian likelihood on standardized values, 0/1 columns a
    Bernoulli likelihood (``likelihood="auto"``) and string or categorical columns of
    a DataFrame a categorical likelihood. Missing cells (NaN, None) are allowed in
    ``fit`` and at scoring; training counts only observed cells, scoring gives a
    missing one what an observed cell of a normal row costs (see ``score_samples``).

    Parameters
    ----------
    latent_dim : int, default=8
        Dimension of the latent space.
    hidden_layer_sizes : tuple of int, default=(64, 32)
        Encoder hidden layers; the decoder mirrors them.
    activation : {"relu", "tanh", "elu", "leaky_relu"}, default="relu"
        Hidden-layer non-linearity (the AEVB paper used tanh).
    likelihood : {"auto", "gaussian", "bernoulli"}, default="auto"
        Likelihood of numeric columns. ``"auto"``: Bernoulli for a column of exactly
        two values (0 and 1, or any two: its lower value counts as 0, its higher as
        1, and any other value at scoring as a value never seen), Gaussian otherwise.
        A 0/1 flag a scaler has turned into two other numbers is still a flag: on
        the ten ODDS sets defaults are chosen on, modelling such columns as
        Bernoulli rather than Gaussian raised mean AUROC from 0.8325 to 0.8363
        (hepatitis 0.817 to 0.852; ``benchmarks/odds.py``). ``"bernoulli"``
        requires values in [0, 1]; ``"gaussian"`` models every numeric column as a
        number.
    numeric_transform : {"yeo-johnson", "standardize"}, default="yeo-johnson"
        How a Gaussian column enters the model. ``"standardize"``: minus its mean,
        over its standard deviation. ``"yeo-johnson"``: a column with a tail spanning
        orders of magnitude (its maximum at least 10 median distances above its
        minimum: byte counts, currents, packet rates) is first power-transformed by
        maximum likelihood (Yeo & Johnson 2000, exponent in [-1, 1], kept only when
        it beats the identity by log(n) nats), then standardized; other columns are
        only standardized. Either way scores are log-densities in the user's units:
        each cell's log |dT/dx| is added. On the bundled IoT sample (seed 0) this
        raised AUROC from 0.695 to 0.785; on the ten ODDS sets defaults are chosen on
        it cost 0.003 (``benchmarks/odds.py``).
    noise_std : "column", "cell" or float, default="column"
        Standard deviation of the Gaussian likelihood, in standardized units.
        ``"column"`` learns one value per column, shared by every row (a calibrated
        decoder, Rybkin et al. 2021). ``"cell"`` lets the decoder output one per
        cell: flexible, but it can shrink on discrete-valued columns and make
        scores spiky. A float fixes it (half the squared standardized
        reconstruction error); a fixed value close to the data's own variance
        invites posterior collapse (the KL term goes to zero).
    beta : float, default=1.0
        Weight of the KL term (beta-VAE, Higgins et al. 2017); 1 is the true ELBO.
    trim_fraction : float in [0, 1), default=0.2
        Share of each minibatch's rows with the highest loss left out of the
        gradient (a trimmed ELBO, like least trimmed squares), so that anomalies
        mixed into the training data are not learned; early stopping watches the
        validation loss trimmed alike. 0 trains on every row. On the ten ODDS sets
        defaults are chosen on, 0.2 gave mean AUROC 0.819 against 0.794 untrimmed
        and 0.808 at 0.3 (``benchmarks/odds.py --group chosen-on``); trimming
        from the first step beat a warm-up of untrimmed steps (0.800).
        With categorical (string) columns, rows that share all their values
        form a group, and a group holding more than ``trim_fraction`` of a
        minibatch, which cannot be all anomalies, loses at most its own trimmed
        share; the rest of the trimming goes to the other rows, worst first. A
        regime the model explains badly at first inside such a group (a device
        type's standby mode) is then learned instead of being left out from the
        first steps and flagged wholesale, while a small group (attacks sharing
        a protocol and service) is trimmed as freely as before (README,
        "Contaminated training data"; ``benchmarks/iot_sample.py``).
    input_masking : float in [0, 1), default=0.0
        Share of the cells hidden from the encoder at each training step (drawn
        anew per step; the likelihood still scores every observed cell), so that
        the encoder learns to infer a row's code from part of it. Scoring already
        searches for the code that best explains a partial row's observed cells
        (README, "Scores mean the same for every row"); with that search, on the
        bundled IoT sample with 20% of its numeric cells blank, 0.1 gave AUROC
        0.879 / 0.874 against 0.891 / 0.890 at 0, and it cost 0.023 AUROC on complete rows
        (0.947 against 0.970), so it is off by default.
    ema_horizon : float in [0, 1], default=0.0
        With a value above 0 the fitted weights are an exponential moving average
        of the training steps' weights (Polyak averaging) whose horizon is this
        share of the step budget: each step's weights count
        ``1 / (ema_horizon * max_steps)``, bias-corrected so that a short run is
        not pulled towards its initial weights; early stopping judges and keeps
        the averaged weights. 0 keeps the last step's weights. Measured as a
        default and not adopted (``benchmarks/odds.py``): on the ten ODDS sets
        defaults are chosen on 0.25 raised mean AUROC / AP from 0.8325 / 0.532 to
        0.8373 / 0.542, but the IoT sample's seed 0 fell from 0.972 to 0.966 and
        the default threshold flagged fewer rows holding an impossible 0/1 value
        (the averaged model's training scores had a longer tail).
    max_steps : int or "auto", default="auto"
        Training budget in minibatch gradient steps. ``"auto"``: 3000 steps while
        the batch is below its cap (up to 65,536 rows), then shrinking with the
        square root of the row count to 1000 steps (619k rows and beyond), and at
        most 50 passes over a small table (so a 200-row table trains for 200
        steps, not 3000: on the ten ODDS sets defaults are chosen on, the cap
        raised mean AUROC from 0.817 to 0.828). Training time then stops growing with the
        row count (see ``anovae/_budget.py`` for the reasoning and the figures).
    max_epochs : int or None, default=None
        Optional cap on passes over the training data, on top of ``max_steps``.
    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"``: one row in 64 of the training rows, rounded to a
        power of two within [64, 1024], so that small tables take many small steps
        and large ones few, cheap-per-row steps.
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    optimizer : {"adam", "adagrad"}, default="adam"
        Adagrad is the optimizer of the AEVB paper.
    weight_decay : float, default=0.0
        L2 penalty (the paper's weight-decay prior on the parameters).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when their loss stops
        improving; the best weights are kept.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    n_iter_no_change : int, default=10
        Validation checks without improvement before stopping. A check runs every
        100 steps, whatever the table's size, so patience is 1,000 steps.
    tol : float, default=1e-4
        Relative improvement of the validation loss that counts.
    n_importance_samples : int, default=1
        K in the importance-weighted bound used for scoring; 1 scores with the ELBO.
    n_mc_samples : int, default=2
        Monte Carlo repetitions averaged in each score (fixed draws: scores are
        deterministic). Scoring time is about proportional to it: 200k x 20 scored
        at 1.45M rows/s with 2 draws, 0.79M with 5 (one thread, measured before
        complete rows were scored by row sums, which made both faster). Chosen by a rule
        written down before the figures (``benchmarks/odds.py``): on the ten ODDS
        sets defaults are chosen on, mean AUROC / AP 0.8330 / 0.534 with 5 draws,
        0.8329 / 0.529 with 3, 0.8323 / 0.532 with 2 and 0.8297 / 0.530 with 1;
        the IoT sample's seed 0 gave 0.972, 0.970, 0.971 and 0.966.
    score_kl_weight : float >= 1, default=2.0
        How many times a row's score counts its KL term, KL(q(z | x) || p(z)): the
        information the encoder needs to place the row in the latent space. 1 scores
        with the bound itself; 2 subtracts the KL once more, a looser bound that
        weighs how atypical the row's code is as much as how well it is
        reconstructed (the same extra term is subtracted from the importance-weighted
        bound). Training is unaffected, and :meth:`score` always reports the bound
        itself. Chosen on the ten ODDS sets defaults are chosen on and the IoT
        sample's seed 0 (``benchmarks/odds.py`` gives the rule): mean AUROC 0.828 /
        0.833 / 0.837 / 0.837 / 0.835 and AP 0.521 / 0.535 / 0.547 / 0.559 / 0.575
        for 1 / 2 / 4 / 8 / 16, IoT AUROC 0.970 up to 4, then 0.965 and 0.947. Where
        anomalies break relations between columns the KL says little (on the
        blank-cell test data of ``tests/test_scoring.py`` it ranks anomalies below
        normal rows), so a large weight adds noise: from 4 up, blanking a fifth of
        the cells cost more than 0.02 AUROC there (0.998 to 0.978 at 4).
    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of anomalies in the training data: ``offset_`` is then that
        quantile of the training scores. ``"auto"`` applies the default threshold
        strategy instead of a fixed share: Tukey's upper fence (``"iqr"``, Q3 + 1.5 IQR
        of the training anomaly scores), which had the best mean MCC of the
        unsupervised strategies in ``benchmarks/thresholds.py``.
    threshold : str, ThresholdStrategy or None, default=None
        A registered threshold strategy name (see ``anovae thresholds``) or an
        instance; when given it sets ``offset_`` and overrides ``contamination``.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available. Results always come back as NumPy.
    compile : bool, default=False
        Compile the training step with ``torch.compile``: a one-off cost of seconds
        to a minute that pays off on long runs, mostly on a GPU.
    precision : {"float32", "bf16"}, default="float32"
        ``"bf16"`` trains under bfloat16 autocast (mixed precision; for GPUs with
        bf16 matrix units). Scoring always runs in float32.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and the fixed
        scoring draws. No global seed is touched.
    verbose : int, default=0
        1 shows a progress bar on stderr, 2 one line per validation check.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    history_ : list of dict
        One record per validation check (every 100 steps, and at the end):
        ``step``, ``epoch``, ``loss``, ``reconstruction``, ``kl`` (means over the
        steps since the last record), ``val_loss`` (None without early stopping)
        and ``seconds``.
    n_steps_ : int
        Gradient steps run.
    n_epochs_ : int
        Passes over the training rows started.
    training_budget_ : dict
        The resolved ``batch_size`` and ``max_steps``.
    streaming_ : dict
        After :meth:`fit_stream` only: rows, pieces and processes read, the sample
        and held-out rows, and what the shuffle buffer held (see ``fit_stream``).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    threshold_strategy_ : ThresholdStrategy or None
        The fitted strategy that set ``offset_`` (None with a float contamination).
    feature_kinds_ : dict
        Likelihood chosen for each column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame.

    See Also
    --------
    ConditionalVAE : the label-conditioned variant, a generative classifier.

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    .. [2] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
       Autoencoders", ICLR 2016.
    .. [3] O. Rybkin, K. Daniilidis and S. Levine, "Simple and Effective VAE
       Training with Calibrated Decoders", ICML 2021.
    .. [4] J. An and S. Cho, "Variational Autoencoder based Anomaly Detection using
       Reconstruction Probability", SNU Data Mining Center, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae import VAE
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> vae = VAE(max_epochs=5, random_state=0).fit(X)
    >>> vae.transform(X).shape
    (200, 8)
    >>> vae.predict(X[:3]).tolist() in ([1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1])
    True
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "input_masking": [Interval(Real, 0, 1, closed="left")],
        "ema_horizon": [Interval(Real, 0, 1, closed="both")],
        "score_kl_weight": [Interval(Real, 1, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "threshold": [None, str, HasMethods(["fit", "predict"])],
    }

    def __init__(
        self,
        *,
        latent_dim=8,
        hidden_layer_sizes=(64, 32),
        activation="relu",
        likelihood="auto",
        numeric_transform="yeo-johnson",
        noise_std="column",
        beta=1.0,
        trim_fraction=0.2,
        input_masking=0.0,
        ema_horizon=0.0,
        max_epochs=None,
        max_steps="auto",
        batch_size="auto",
        learning_rate=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_importance_samples=1,
        n_mc_samples=2,
        score_kl_weight=SCORE_KL_WEIGHT,
        contamination="auto",
        threshold=None,
        device="auto",
        compile=False,
        precision="float32",
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.likelihood = likelihood
        self.numeric_transform = numeric_transform
        self.noise_std = noise_std
        self.beta = beta
        self.trim_fraction = trim_fraction
        self.input_masking = input_masking
        self.ema_horizon = ema_horizon
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_importance_samples = n_importance_samples
        self.n_mc_samples = n_mc_samples
        self.score_kl_weight = score_kl_weight
        self.contamination = contamination
        self.threshold = threshold
        self.device = device
        self.compile = compile
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def fit(self, X, y=None):
        """Fit the VAE on X (array or DataFrame).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Ignored by the model itself (training is unsupervised). Passed to a
            supervised threshold strategy (such as ``"f1"``) with 1 = anomaly.

        Returns
        -------
        self : VAE

        Raises
        ------
        anovae.errors.DataError
            X has fewer than 2 rows.

        Warns
        -----
        anovae.errors.FewRowsWarning
            X has fewer than 50 rows: the scores, and above all the threshold, cannot
            be trusted (see ``FEW_TRAINING_ROWS`` in ``anovae/_base.py``).
        """
        self._fit_and_score(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def fit_score_samples(self, X, y=None):
        """Fit on X and return ``score_samples(X)``, scoring the rows once.

        The same numbers as ``fit(X, y).score_samples(X)``, for half the scoring
        work: fitting already scores every row to set ``offset_``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._fit_and_score(X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def fit_stream(self, source, *, columns=None, label_column=None, buffer_rows=65536, sample_rows=100_000):
        """Fit on a table read piece by piece, in bounded memory (data larger than RAM).

        The codec's statistics come from one pass over the data (exact counts,
        means, variances and categories; the power transform from a uniform sample
        of ``sample_rows`` rows), then training streams the data in a seeded random
        order of its pieces through a shuffle buffer of ``buffer_rows`` rows.
        Early stopping validates on held-out rows of the sample, and ``offset_``
        comes from the sample's scores. The budget (``max_steps="auto"``) is set
        from the total row count. Under ``torchrun`` (a default process group
        initialized) each process reads its share of the pieces and training is
        data-parallel. See ``anovae/_streaming.py`` for the details.

        Parameters
        ----------
        source : str, path, DataFrame, list of DataFrames or callable
            A Parquet file, a folder of them (hive partitions become columns) or a
            glob; in-memory DataFrames; or a function returning a new iterable of
            DataFrames on each call (read several times, in its own order).
        columns : list of str, default=None
            Feature columns; default all but ``label_column``.
        label_column : str, default=None
            A column of known labels (1 = anomaly, 0 = normal, NaN = unknown),
            never a feature; the sampled rows' labels go to a supervised threshold.
        buffer_rows : int, default=65536
            Rows the shuffle buffer holds at most; chunks of half of it are read.
            ``batch_size="auto"`` is capped at half of it.
        sample_rows : int, default=100000
            Rows of the uniform sample (power transform, validation, threshold).

        Returns
        -------
        self : VAE
            With ``streaming_``: ``n_rows``, ``n_units``, ``n_processes``,
            ``sample_rows``, ``held_out_rows``, ``buffer_rows``,
            ``peak_buffer_rows`` (the most rows the buffer held) and ``chunk_rows``.
        """
        from ._streaming import fit_stream

        fit_stream(
            self,
            source,
            columns=columns,
            label_column=label_column,
            to_labels=_numeric_labels,
            buffer_rows=buffer_rows,
            sample_rows=sample_rows,
        )
        return self

    def _fit_and_score(self, X, y):
        # A refit in memory must not keep the figures of an earlier streamed fit.
        self.__dict__.pop("streaming_", None)
        strategy = self._threshold_strategy()
        held_out = bool(getattr(strategy, "needs_held_out", False))
        encoded, held_out_rows = self._fit_network(self._frame(X, reset=True), hold_out=held_out)
        scores = self._log_likelihood_bound(encoded)
        self._set_offset(strategy, scores, y, held_out_rows if held_out else None)
        return scores

    def _threshold_strategy(self):
        """The unfitted strategy that will set ``offset_`` (None for a float contamination)."""
        if self.threshold is None and self.contamination != "auto":
            return None
        return get_threshold_strategy(self.threshold if self.threshold is not None else DEFAULT_THRESHOLD)

    def _set_offset(self, strategy, scores, y=None, held_out_rows=None):
        if strategy is None:
            self.threshold_strategy_ = None
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
            return
        if held_out_rows is not None and len(held_out_rows):
            # Rows the network never trained on: their scores are exchangeable with
            # new data, which a conformal cut's guarantee needs.
            scores = scores[held_out_rows]
            y = None if y is None else np.asarray(y)[held_out_rows]
        if getattr(strategy, "supervised", False) and y is not None:
            # Rows whose label is unknown (NaN) say nothing about where to cut.
            y = np.asarray(y, dtype=np.float64)
            known = ~np.isnan(y)
            strategy.fit(-scores[known], y[known])
        else:
            strategy.fit(-scores, None)
        self.threshold_strategy_ = strategy
        self.offset_ = -float(strategy.threshold_)

    def _score_kl_weight(self):
        return float(self.score_kl_weight)

    def score_samples(self, X):
        """Per-row ELBO (or IWAE bound) on log p(x) in nats, with its KL term counted
        ``score_kl_weight`` times; lower is more abnormal.

        Densities refer to the data in its original units (Gaussian columns include
        the Jacobian of standardization and of any power transform). A missing cell
        contributes its expected log-likelihood given the row's observed cells (the
        encoder's input is first completed by three encode-decode passes) plus its
        column's offset, fitted after training on the held-out rows (the training
        rows without early stopping or a threshold that holds rows out): the mean
        amount by which their observed cells fell short of the model's expectation,
        rows beyond Tukey's fence of the training loss left out. The model's own
        expectation is kinder than the truth (its variances are fitted on the rows
        training keeps); with the offset a blank costs, on average, what an observed
        cell of a normal row costs, so rows with blanks are scored like complete
        ones instead of looking more normal.
        A category never seen in training, or a value a column of two values
        never held (0.5 in a 0/1 column as much as 7), costs the fixed
        log-probability -log(n + 1), n the column's training count.
        """
        return self._bounds_of(X)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for normal rows, -1 for anomalies."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def fit_predict(self, X, y=None):
        """Fit on X and return its +1/-1 labels (``y`` goes to a supervised threshold)."""
        return self.fit(X, y).predict(X)

    def score(self, X, y=None):
        """Mean per-row bound on log p(x) of X, in nats (higher is better).

        Like ``GaussianMixture.score``: model selection without labels, for example
        ``GridSearchCV(VAE(), {"latent_dim": [2, 8]})``. The bound itself, with the KL
        term counted once whatever ``score_kl_weight``: it is the model's fit to X
        that is compared. ``y`` is ignored.
        """
        return float(np.mean(self._bounds_of(X, kl_weight=1.0)))

    @property
    def _n_features_out(self):
        # transform's columns, named vae0, vae1, ... by get_feature_names_out
        return self.latent_dim

    def feature_scores(self, X):
        """Per-cell contribution to a row's anomaly: -E_q[log p(x_j | z)] in nats.

        Large values point at the columns that make a row unusual. Missing cells are
        NaN. The row sum plus ``score_kl_weight`` times the KL term equals
        ``-score_samples`` (with ``n_importance_samples=1``).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_features), or a DataFrame with X's
            columns and index when X is a DataFrame.
        """
        encoded, frame = self._encode(X)
        scores = self._cell_scores(encoded)
        if _is_frame(X):
            return pd.DataFrame(scores, columns=X.columns, index=X.index)
        return scores

    def transform(self, X):
        """Latent means E_q[z | x], shape (n_samples, latent_dim)."""
        encoded, _ = self._encode(X)
        return self._latent_means(encoded)

    def inverse_transform(self, X):
        """Decode latent rows into the original feature space (expected values;
        the most probable category for categorical columns)."""
        check_is_fitted(self)
        decoded = self._decode_latent(self._latent_array(X))
        return self._output(decoded)

    def sample(self, n_samples=1, random_state=None):
        """Draw synthetic rows: z ~ N(0, I), then x ~ p(x | z)."""
        check_is_fitted(self)
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n_samples, self.latent_dim, generator=generator).numpy()
        return self._output(self._decode_latent(z, draw=generator))

    # ---- persistence -----------------------------------------------------------------
    _anovae_model_kind = "anovae.VAE"

    def _json_params(self):
        threshold = self.threshold
        if threshold is None or isinstance(threshold, str):
            return super()._json_params()
        # An instance is stored as its registered name and parameters.
        params = self.get_params(deep=False)
        params["threshold"] = None
        params = VAE(**params)._json_params()
        params["threshold"] = {"strategy": strategy_name(threshold), "params": threshold.get_params()}
        return params

    @classmethod
    def _params_from_json(cls, params):
        params = dict(params)
        # Their offset_ was fitted on plain-bound scores: keep scoring them so.
        params.setdefault("score_kl_weight", 1.0)
        threshold = params.get("threshold")
        if isinstance(threshold, dict):
            params["threshold"] = get_threshold_strategy(threshold["strategy"], **threshold["params"])
        return params

    def _extra_state(self):
        meta = {"offset": self.offset_, "threshold_strategy": None}
        arrays = {}
        strategy = self.threshold_strategy_
        if strategy is not None:
            fitted = {}
            for key, value in vars(strategy).items():
                if not key.endswith("_") or key.startswith("__"):
                    continue
                if isinstance(value, np.ndarray):
                    arrays["threshold." + key] = value
                else:
                    fitted[key] = value.item() if isinstance(value, np.generic) else value
            meta["threshold_strategy"] = {
                "strategy": strategy_name(strategy),
                "params": strategy.get_params(),
                "fitted": fitted,
            }
        return meta, arrays

    def _restore_extra_state(self, meta, arrays):
        self.offset_ = float(meta["offset"])
        self.threshold_strategy_ = None
        saved = meta.get("threshold_strategy")
        if saved:
            strategy = get_threshold_strategy(saved["strategy"], **saved["params"])
            for key, value in saved["fitted"].items():
                setattr(strategy, key, value)
            for key, value in arrays.items():
                if key.startswith("threshold."):
                    setattr(strategy, key[len("threshold.") :], value)
            self.threshold_strategy_ = strategy

    def _latent_array(self, Z):
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latent rows of shape (n, {self.latent_dim}), got {Z.shape}")
        return Z


def _numeric_labels(series):
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"label column {series.name!r} must hold 1 (anomaly), 0 (normal) or NaN") from None


register_model_class(VAE)
