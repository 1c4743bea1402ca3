"""The conditional VAE of Lopez-Martin et al. (2017): a generative classifier."""

import numpy as np
import pandas as pd
import torch
from scipy.special import logsumexp, softmax
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import BaseVAE, transactional
from ._objectives import gaussian_kl
from ._persistence import register_model_class


class ConditionalVAE(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseVAE):
    """Conditional VAE (ID-CVAE): labels injected into the decoder.

    The decoder models p(x | z, c) for a class label c; the encoder models q(z | x),
    or q(z | x, c) with ``condition_encoder=True``. After fitting, each row's
    class-conditional bound log p(x | c) is available for every class, which makes the
    model a generative classifier: ``predict`` returns the class with the highest
    log p(x | c) + log p(c) -- with a uniform prior, the label under which the row is
    best reconstructed, as in the paper. Rows unlike every known class have a low
    marginal ``score_samples(X)``.

    Parameters
    ----------
    condition_encoder : bool, default=False
        Also feed the label to the encoder. The paper conditions the decoder only,
        which lets one encoding serve every candidate label.
    trim_fraction : float in [0, 1), default=0.0
        As in :class:`anovae.VAE`, but off by default: a classifier must learn
        its rare classes, not trim them away.
    class_prior : {"fit", "uniform"}, default="fit"
        log p(c) used by ``predict``/``predict_proba``/marginal scores: training
        frequencies or uniform (pure best reconstruction).
    latent_dim, hidden_layer_sizes, activation, likelihood, noise_std, beta, \
max_epochs, max_steps, batch_size, learning_rate, optimizer, weight_decay, early_stopping, \
validation_fraction, n_iter_no_change, tol, n_importance_samples, n_mc_samples, \
device, compile, precision, random_state, verbose
        As in :class:`anovae.VAE` (same defaults, but ``n_mc_samples=10``: a
        class is chosen by comparing bounds, where Monte Carlo noise decides
        near-ties).

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen in ``fit``.
    class_log_prior_ : ndarray of shape (n_classes,)
        log p(c) used for prediction.
    module_, history_, n_epochs_, feature_kinds_, n_features_in_, feature_names_in_
        As in :class:`anovae.VAE`.

    References
    ----------
    .. [1] M. Lopez-Martin, B. Carro, A. Sanchez-Esguevillas and J. Lloret,
       "Conditional Variational Autoencoder for Prediction and Feature Recovery
       Applied to Intrusion Detection in IoT", Sensors 17(9), 1967, 2017.
    .. [2] K. Sohn, H. Lee and X. Yan, "Learning Structured Output Representation
       using Deep Conditional Generative Models", NeurIPS 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae import ConditionalVAE
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(4, 1, (100, 3))])
    >>> y = np.array(["a"] * 100 + ["b"] * 100)
    >>> cvae = ConditionalVAE(max_epochs=30, random_state=0).fit(X, y)
    >>> cvae.predict([[0, 0, 0], [4, 4, 4]]).tolist()
    ['a', 'b']
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "condition_encoder": ["boolean"],
        "class_prior": [StrOptions({"fit", "uniform"})],
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
        trim_fraction=0.0,
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
        n_mc_samples=10,
        condition_encoder=False,
        class_prior="fit",
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
        self.condition_encoder = condition_encoder
        self.class_prior = class_prior
        self.device = device
        self.compile = compile
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def fit(self, X, y):
        """Fit on rows X with class labels y.

        Returns
        -------
        self : ConditionalVAE
        """
        if y is None:
            raise ValueError(
                "requires y to be passed, but the target y is None: "
                "ConditionalVAE needs class labels; use anovae.VAE for unlabelled data"
            )
        frame = self._frame(X, reset=True)
        y = column_or_1d(y, warn=True)
        if len(y) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y)} labels")
        missing = pd.isna(y)
        if missing.any():
            raise ValueError(f"y contains missing labels (first at row {int(np.flatnonzero(missing)[0])})")
        check_classification_targets(y)
        self.classes_, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"ConditionalVAE needs at least 2 classes in y; got 1 class ({_plain(self.classes_[0])!r})"
            )
        if self.class_prior == "uniform":
            self.class_log_prior_ = np.full(len(self.classes_), -np.log(len(self.classes_)))
        else:
            self.class_log_prior_ = np.log(counts / counts.sum())
        onehot = np.eye(len(self.classes_), dtype=np.float32)[codes]
        self._fit_network(
            frame, conditions=onehot, n_conditions=len(self.classes_), condition_encoder=self.condition_encoder
        )
        return self

    # ---- per-class bounds ------------------------------------------------------------
    def _onehot(self, y, n):
        y = column_or_1d(y)
        if len(y) != n:
            raise ValueError(f"X has {n} rows but y has {len(y)} labels")
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            label = y[np.flatnonzero(unknown)[0]]
            known = ", ".join(repr(c) for c in self.classes_.tolist())
            raise ValueError(f"unknown class label {_plain(label)!r}; known: {known}")
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def class_log_likelihoods(self, X):
        """log p(x | c) bound for every row and class, shape (n_samples, n_classes)."""
        encoded, _ = self._encode(X)
        return self._class_bounds(encoded)

    def _class_bounds(self, encoded):
        n_classes = len(self.classes_)
        if self.condition_encoder or self.n_importance_samples > 1:
            columns = []
            for c in range(n_classes):
                onehot = np.zeros((len(encoded), n_classes), dtype=np.float32)
                onehot[:, c] = 1
                columns.append(self._log_likelihood_bound(encoded, onehot))
            return np.stack(columns, axis=1)
        # Decoder-only conditioning: one encoding serves every candidate label.
        module, s = self.module_, self.n_mc_samples
        eye = torch.eye(n_classes)
        eps_cpu = self._draws((s, 1, self.latent_dim), "cpu")

        def fn(batch, _):
            mu, log_var = module.encode(batch)
            eps = eps_cpu.to(mu.device)
            z = module.reparameterize(mu, log_var, eps)
            kl = gaussian_kl(mu, log_var)
            bounds = []
            for c in range(n_classes):
                out = module.decode(z, eye[c].to(mu.device))
                bounds.append(module.likelihood(out, batch, True).sum(-1).mean(0) - kl)
            return torch.stack(bounds, dim=1)

        bounds = self._map_chunks(encoded, fn, samples=s * n_classes, parallel=True)
        return bounds + self._log_jacobian(encoded)[:, None]

    def predict_log_proba(self, X):
        """log p(c | x) from the class-conditional bounds and the class prior."""
        joint = self.class_log_likelihoods(X) + self.class_log_prior_
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X):
        """p(c | x) from the class-conditional bounds and the class prior."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The class with the highest log p(x | c) + log p(c)."""
        joint = self.class_log_likelihoods(X) + self.class_log_prior_
        return self.classes_[np.argmax(joint, axis=1)]

    def score_samples(self, X, y=None):
        """log p(x | y) bound when y is given; else the marginal log sum_c p(c) p(x | c).

        Lower is more abnormal: a low marginal marks a row unlike every known class.
        """
        encoded, _ = self._encode(X)
        if y is not None:
            return self._log_likelihood_bound(encoded, self._onehot(y, len(encoded)))
        return logsumexp(self._class_bounds(encoded) + self.class_log_prior_, axis=1)

    @property
    def _n_features_out(self):
        # transform's columns, named conditionalvae0, ... by get_feature_names_out
        return self.latent_dim

    def transform(self, X, y=None):
        """Latent means. With ``condition_encoder`` and no y, the predicted labels are used."""
        encoded, _ = self._encode(X)
        conditions = None
        if self.condition_encoder:
            labels = y if y is not None else self.classes_[
                np.argmax(self._class_bounds(encoded) + self.class_log_prior_, axis=1)
            ]
            conditions = self._onehot(labels, len(encoded))
        return self._latent_means(encoded, conditions)

    def feature_scores(self, X, y):
        """Per-cell -E_q[log p(x_j | z, y)] in nats (NaN where missing)."""
        encoded, _ = self._encode(X)
        return self._cell_scores(encoded, self._onehot(y, len(encoded)))

    # ---- persistence -----------------------------------------------------------------
    _anovae_model_kind = "anovae.ConditionalVAE"

    def _module_conditions(self):
        return len(self.classes_), self.condition_encoder

    def _extra_state(self):
        classes = self.classes_
        meta = {"classes_dtype": "object" if classes.dtype == object else None}
        if classes.dtype == object:
            classes = np.asarray(classes.tolist())
            if classes.dtype == object:
                raise ValueError("class labels of mixed types cannot be saved")
        return meta, {"classes": classes, "class_log_prior": self.class_log_prior_}

    def _restore_extra_state(self, meta, arrays):
        classes = arrays["classes"]
        if meta.get("classes_dtype") == "object":
            classes = classes.astype(object)
        self.classes_ = classes
        self.class_log_prior_ = arrays["class_log_prior"]

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw synthetic rows of class y (a label, or one label per row; default:
        labels drawn from the class prior). Returns (X, y)."""
        check_is_fitted(self)
        rng = check_random_state(random_state)
        if y is None:
            y = rng.choice(self.classes_, size=n_samples, p=np.exp(self.class_log_prior_))
        elif np.ndim(y) == 0:
            y = np.repeat(np.asarray([y], dtype=self.classes_.dtype), n_samples)
        onehot = torch.from_numpy(self._onehot(y, n_samples))
        generator = torch.Generator().manual_seed(int(rng.randint(0, 2**31 - 1)))
        z = torch.randn(n_samples, self.latent_dim, generator=generator).numpy()
        rows = self._decode_latent(z, condition=onehot, draw=generator)
        return self._output(rows), np.asarray(y)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


register_model_class(ConditionalVAE)
