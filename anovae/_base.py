"""What VAE and ConditionalVAE share: parameter validation, data checks, fit orchestration.

Scoring (``_scoring.py``), decoding (``_decoding.py``) and the model file's state
(``_state.py``) are plain functions over the estimator's parts; the methods here
only hand them the network, codec, draws and device.
"""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _decoding, _scoring, _state
from ._budget import EVAL_INTERVAL, MAX_VALIDATION_ROWS, batch_size_for, max_steps_for
from ._device import cpu_threads, resolve_device, training_threads
from ._likelihoods import TabularLikelihood
from ._missing_cells import fit_missing_offsets
from ._networks import ACTIVATIONS, VAEModule
from ._objectives import elbo_terms, kept_rows
from ._persistence import load_module_arrays, module_arrays
from ._scoring import fixed_draws, to_batch
from ._tabular import BERNOULLI, GAUSSIAN, TabularCodec
from ._training import OPTIMIZERS, PRECISIONS, train
from .errors import DataError, FewRowsWarning


def transactional(fit):
    """Make ``fit`` all or nothing: if it raises, the estimator is left as it was.

    A refit that fails (a diverged training, bad data found late) keeps the previous
    model whole instead of pairing its network with the new data's codec, and a
    first fit that fails leaves the estimator unfitted (NotFittedError).
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def _is_frame(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _at_most(rows, limit=MAX_VALIDATION_ROWS):
    """Every k-th of ``rows``, k the smallest step that leaves at most ``limit``: a
    validation check or calibration costs that many rows whatever the table's size."""
    return rows[:: max(1, -(-len(rows) // limit))]


#: Fewer training rows than this is an error: one row has no spread to learn from.
MIN_TRAINING_ROWS = 2
#: Fewer training rows than this draws a :class:`~anovae.errors.FewRowsWarning`. On
#: the ten ODDS sets the defaults were chosen on (``benchmarks/training_rows.py``, 3
#: seeds), the default threshold flagged 7.4% of new normal rows after training on 50
#: rows, as after training on the whole training parts (7.3%), but 10.5% after 30 rows,
#: 14.8% after 20, 23% after 10 and 61% after 5; mean AUROC fell from 0.818 (50
#: rows; 0.823 on all) to 0.795 (10 rows), with three times the seed-to-seed spread.
FEW_TRAINING_ROWS = 50


def _check_training_rows(estimator, shape):
    """Refuse fewer than MIN_TRAINING_ROWS rows; warn below FEW_TRAINING_ROWS."""
    n = shape[0]
    if n < MIN_TRAINING_ROWS:
        # scikit-learn's wording (check_array's ensure_min_samples).
        raise DataError(
            f"Found array with {n} sample(s) (shape={shape}) while a minimum of "
            f"{MIN_TRAINING_ROWS} is required by {estimator}."
        )
    if n < FEW_TRAINING_ROWS:
        warnings.warn(
            f"{estimator} trained on {n} rows, fewer than {FEW_TRAINING_ROWS}: its scores "
            "and above all its threshold cannot be trusted; train on more rows",
            FewRowsWarning,
            stacklevel=_user_stacklevel(),
        )


def _user_stacklevel():
    """The ``stacklevel`` that points a warning at the first line outside anovae and
    scikit-learn's wrappers, however deep inside ``fit`` it is raised (the depth
    differs between estimators). Call it from the function that warns."""
    import os
    import sys

    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith(package) or frame.f_globals.get("__name__", "").startswith("sklearn.")
    ):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1


class BaseVAE(BaseEstimator):
    """Shared machinery; not for direct use."""

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions({"auto", "gaussian", "bernoulli"})],
        "numeric_transform": [StrOptions({"yeo-johnson", "standardize"})],
        "noise_std": [StrOptions({"column", "cell"}), Interval(Real, 0, None, closed="neither")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "trim_fraction": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [None, Interval(Integral, 1, None, closed="left")],
        "max_steps": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_mc_samples": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "compile": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # DataFrames with text or categorical columns get a categorical likelihood.
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    # ---- data ----------------------------------------------------------------------
    def _frame(self, X, reset):
        """Validate X (array or DataFrame) and return it as a DataFrame."""
        if _is_frame(X):
            # Names and column count only: the codec reads mixed-type columns itself.
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            names = [str(c) for c in X.columns]
            if len(set(names)) != len(names):
                dup = next(n for n in names if names.count(n) > 1)
                raise DataError(f"column {dup!r} appears more than once")
            frame = X.set_axis(names, axis=1)
        else:
            array = validate_data(
                self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64
            )
            names = [f"x{i}" for i in range(array.shape[1])]
            frame = pd.DataFrame(array, columns=names, copy=False)
        if reset:
            _check_training_rows(type(self).__name__, frame.shape)
        else:
            frame = frame.set_axis(self._codec.names(), axis=1)
        return frame

    def _encode(self, X):
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        return self._codec.encode(frame), frame

    # ---- fitting -------------------------------------------------------------------
    def _build_module(self, codec, n_conditions=0, condition_encoder=False):
        hidden = [int(h) for h in np.atleast_1d(self.hidden_layer_sizes)]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        bernoulli_means = [c["mean"] for c in codec.columns if c["kind"] == BERNOULLI]
        likelihood = TabularLikelihood(
            len(codec.names(GAUSSIAN)),
            len(codec.names(BERNOULLI)),
            codec.n_categories,
            bernoulli_means,
            noise_std=self.noise_std,
            category_frequencies=codec.category_frequencies(),
            novelty_log_probs=codec.novelty_log_probs(),
        )
        # torch initializes layers from its global generator on construction; fork it
        # so that building a model leaves the user's random stream untouched (the real
        # initialization comes from our own generator in reset_parameters).
        with torch.random.fork_rng(devices=[]):
            return VAEModule(
                likelihood,
                self.latent_dim,
                hidden,
                self.activation,
                n_conditions=n_conditions,
                condition_encoder=condition_encoder,
            )

    def _fit_network(self, frame, conditions=None, n_conditions=0, condition_encoder=False, hold_out=False):
        """Fit codec and network on ``frame`` (from ``_frame(X, reset=True)``).

        ``conditions``: (n, n_conditions) one-hot labels or None. ``hold_out`` keeps
        ``validation_fraction`` of the rows out of training even without early
        stopping. Returns the encoded table and the indices of the held-out rows.
        """
        self._codec = TabularCodec.fit(frame, self.likelihood, self.numeric_transform)
        self.feature_kinds_ = self._codec.kinds()
        # Training and the fit's own scores need each row's log-Jacobian sum only.
        encoded = self._codec.encode(frame, cell_jacobian=False)
        init_seed, train_seed, split_seed = self._training_seeds()
        device = resolve_device(self.device)
        module = self._new_module(init_seed, device, n_conditions, condition_encoder)

        n = len(encoded)
        n_val = int(round(self.validation_fraction * n)) if self.early_stopping or hold_out else 0
        if n - n_val < 1:
            n_val = 0
        order = np.random.RandomState(split_seed).permutation(n)
        train_rows, val_rows = np.sort(order[n_val:]), np.sort(order[:n_val])

        def condition_rows(rows):
            if conditions is None:
                return None
            return torch.as_tensor(conditions[rows], dtype=torch.float32, device=device)

        data = to_batch(encoded if n_val == 0 else encoded.take(train_rows), device)
        batch_size = batch_size_for(self.batch_size, len(train_rows))
        max_steps = max_steps_for(self.max_steps, len(train_rows), batch_size, self.max_epochs)
        validation_loss = None
        if n_val and self.early_stopping:
            checked = _at_most(val_rows)
            validation_loss = self._validation_loss(module, encoded.take(checked), condition_rows(checked), device)

        with cpu_threads(device, training_threads(module, batch_size)):
            history = self._train(
                module, data, condition_rows(train_rows), validation_loss, device, train_seed,
                batch_size=batch_size, max_steps=max_steps,
            )
        self._set_trained(module, history, batch_size, max_steps)
        # Rows the network never trained on; without any (no early stopping and no
        # threshold that needs them) the training rows, on which the correction
        # comes out smaller than on new rows.
        calibration = _at_most(val_rows if n_val else train_rows)
        self._calibrate_missing_cells(
            encoded.take(calibration), None if conditions is None else conditions[calibration]
        )
        return encoded, val_rows

    def _training_seeds(self):
        """(init, train, split) seeds from ``random_state``; sets the scoring draws' seed.

        One place for the order in which the seeds are drawn, so that every way of
        fitting (in memory, streamed, distributed) gets the same ones.
        """
        rng = check_random_state(self.random_state)
        init_seed, train_seed, split_seed, eps_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=4))
        self._eps_seed = eps_seed
        return init_seed, train_seed, split_seed

    def _new_module(self, init_seed, device, n_conditions=0, condition_encoder=False):
        """The network for ``self._codec``, initialized from ``init_seed``, on ``device``."""
        module = self._build_module(self._codec, n_conditions, condition_encoder)
        module.reset_parameters(torch.Generator().manual_seed(init_seed))
        return module.to(device)

    def _validation_loss(self, module, encoded, conditions, device, average=None):
        """The early-stopping check on held-out rows ``encoded`` (at most
        MAX_VALIDATION_ROWS of them); ``average(float) -> float`` makes every process
        of a distributed fit see the same value."""
        val_data = to_batch(encoded, device)
        val_eps = self._draws((1, 1, self.latent_dim), device)

        def validation_loss():
            # The objective being trained, trimmed alike, so that early stopping
            # does not wait for the rows training deliberately ignores.
            with torch.inference_mode():
                cell, kl = elbo_terms(module, val_data, val_eps, conditions)
                per_row = self.beta * kl - cell.sum(-1)
                # Summed in sorted order, so that a table without categories (whose
                # kept rows are the lowest losses) stops at the step it always did.
                kept = per_row[kept_rows(per_row, val_data.cat, self.trim_fraction)]
                value = float(kept.sort().values.mean())
            return value if average is None else average(value)

        return validation_loss

    def _calibrate_missing_cells(self, encoded, conditions=None):
        """Set what a missing cell costs at scoring from the rows ``encoded`` (held
        out of training where there are any), with the scoring draws; see
        ``_missing_cells``. ``conditions``: the rows' one-hot labels or None."""
        device = self._scoring_device()
        eps = self._draws((self.n_mc_samples, self.n_importance_samples, 1, self.latent_dim), device)
        offsets = fit_missing_offsets(
            self.module_, encoded, eps[:, 0], device,
            beta=self.beta, conditions=conditions, score_eps=eps, kl_weight=self._score_kl_weight(),
        )
        self.module_.likelihood.set_missing_offsets(offsets)

    def _set_trained(self, module, history, batch_size, max_steps):
        self.history_ = history
        self.module_ = module
        self.training_budget_ = {"batch_size": batch_size, "max_steps": max_steps}
        self.n_epochs_, self.n_steps_ = _state.training_counts(history)

    def _train(self, module, data, conditions, validation_loss, device, seed, *, batch_size, max_steps, **hooks):
        """Run ``train`` with the estimator's parameters; ``hooks``: ``batches``,
        ``loss_fn``, ``all_reduce`` (see ``_training.train``)."""
        return train(
            module,
            data,
            conditions=conditions,
            validation_loss=validation_loss,
            beta=self.beta,
            max_steps=max_steps,
            batch_size=batch_size,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            generator=torch.Generator(device=device).manual_seed(seed),
            verbose=self.verbose,
            compile_step=self.compile,
            precision=self.precision,
            trim_fraction=self.trim_fraction,
            # Only VAE has it; ConditionalVAE and plugin subclasses train on whole rows.
            input_masking=getattr(self, "input_masking", 0.0),
            ema_horizon=getattr(self, "ema_horizon", 0.0),
            eval_interval=EVAL_INTERVAL,
            **hooks,
        )

    # ---- scoring (see _scoring.py) ------------------------------------------------
    def _scoring_device(self):
        return resolve_device(self.device)

    def _draws(self, shape, device):
        """Standard normal draws shared by every row (common random numbers).

        The same draws for every call and every row make scores deterministic and
        independent of which other rows are scored alongside.
        """
        return fixed_draws(self._eps_seed, shape, device)

    def _chunk_rows(self, samples):
        return _scoring.chunk_rows(self.module_, samples, self._scoring_device())

    def _map_chunks(self, encoded, fn, samples=1, conditions=None, parallel=False):
        """Apply ``fn(batch, condition) -> tensor`` chunk by chunk; concatenate as NumPy.
        ``parallel``: ``fn`` is pure, chunks may run side by side (``_scoring.map_chunks``)."""
        return _scoring.map_chunks(self.module_, encoded, fn, self._scoring_device(), samples, conditions, parallel)

    def _log_jacobian(self, encoded):
        return _scoring.log_jacobian(self._codec, encoded)

    def _log_likelihood_bound(self, encoded, conditions=None, kl_weight=None):
        """ELBO (n_importance_samples=1) or IWAE bound per row, in nats, with the KL
        term counted ``kl_weight`` times (None: the estimator's :meth:`_score_kl_weight`)."""
        device = self._scoring_device()
        eps = self._draws((self.n_mc_samples, self.n_importance_samples, 1, self.latent_dim), device)
        if kl_weight is None:
            kl_weight = self._score_kl_weight()
        return _scoring.log_likelihood_bounds(self.module_, self._codec, encoded, eps, device, conditions, kl_weight)

    def _bounds_of(self, X, kl_weight=None):
        """:meth:`_log_likelihood_bound` of the rows of ``X`` (checked as by
        ``score_samples``), encoded a block of whole scoring chunks at a time
        (``_scoring.row_blocks``) and with each row's log-Jacobian as one sum."""
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        chunk = self._chunk_rows(self.n_mc_samples * self.n_importance_samples)
        blocks = _scoring.row_blocks(len(frame), frame.shape[1], chunk)
        return np.concatenate([
            self._log_likelihood_bound(self._codec.encode(frame.iloc[rows], cell_jacobian=False), kl_weight=kl_weight)
            for rows in blocks
        ])

    def _score_kl_weight(self):
        """How many times the KL term counts in the estimator's scores: 1, the bound
        itself, unless a subclass says otherwise."""
        return 1.0

    def _cell_scores(self, encoded, conditions=None):
        """Negative expected log-likelihood per cell (NaN where missing), table order."""
        device = self._scoring_device()
        eps = self._draws((self.n_mc_samples, 1, self.latent_dim), device)
        return _scoring.cell_scores(self.module_, self._codec, encoded, eps, device, conditions)

    def _latent_means(self, encoded, conditions=None):
        return _scoring.latent_means(self.module_, encoded, self._scoring_device(), conditions)

    def _kl(self, encoded, conditions=None):
        return _scoring.kl_terms(self.module_, encoded, self._scoring_device(), conditions)

    # ---- decoding (see _decoding.py) -----------------------------------------------
    def _decode_latent(self, Z, condition=None, draw=None):
        """Decode latent rows; ``draw`` (a torch.Generator) samples x ~ p(x|z)."""
        return _decoding.decode_latent(self.module_, self._codec, Z, self._scoring_device(), condition, draw)

    def _output(self, frame):
        """A DataFrame if the model was fitted on one, else a float array."""
        if hasattr(self, "feature_names_in_"):
            return frame
        return frame.to_numpy(dtype=np.float64)

    # ---- persistence (see _persistence.py for the file, _state.py for its content) ---
    def _module_conditions(self):
        """(n_conditions, condition_encoder) of the network; overridden by the CVAE."""
        return 0, False

    def _extra_state(self):
        """Subclass state beyond the shared one: (json dict, arrays dict)."""
        return {}, {}

    def _restore_extra_state(self, meta, arrays):
        """Inverse of :meth:`_extra_state`."""

    def _anovae_state(self):
        check_is_fitted(self)
        extra_meta, extra_arrays = self._extra_state()
        meta = _state.fitted_meta(self, self._json_params(), extra_meta)
        arrays = module_arrays(self.module_)
        arrays.update(extra_arrays)
        return meta, arrays

    def _json_params(self):
        return _state.params_to_json(self.get_params(deep=False))

    @classmethod
    def _params_from_json(cls, params):
        return dict(params)

    @classmethod
    def _from_anovae_state(cls, meta, arrays):
        estimator = cls(**_state.loadable_params(cls._params_from_json(meta["params"])))
        _state.restore_fitted(estimator, meta)
        estimator._restore_extra_state(meta.get("extra", {}), arrays)
        module = estimator._build_module(estimator._codec, *estimator._module_conditions())
        estimator.module_ = load_module_arrays(module, arrays).eval()
        _state.restore_missing_offsets(estimator, meta)
        return estimator
