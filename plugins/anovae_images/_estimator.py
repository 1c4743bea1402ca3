"""ImageVAE: a variational autoencoder over grey-level images."""

from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import norm
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from anovae.modeling import (
    OPTIMIZERS,
    fixed_draws,
    load_module_arrays,
    loading_device,
    log_likelihood_bound,
    module_arrays,
    resolve_device,
    rows_per_chunk,
    train,
)
from anovae.modeling import param_to_json as _param_to_json
from anovae.errors import ModelFileError, PluginError

from ._backends import LIKELIHOODS, get_backend
from ._networks import PRESETS, build_module


class _Pixels:
    """Training images on the device, handed to the core training loop.

    ``index(rows)`` is the minibatch the loop asks for. With ``dynamic`` set it draws
    fresh binary pixels from the grey levels on every call, so each epoch sees a new
    binarization (the "dynamic binarization" of Burda et al. 2016, Sec. 5.1), drawn
    from its own seeded generator.
    """

    def __init__(self, grey, dynamic, generator):
        self.grey = grey
        self.dynamic = dynamic
        self.generator = generator

    def __len__(self):
        return self.grey.shape[0]

    def index(self, rows):
        batch = self.grey[rows]
        if self.dynamic:
            return torch.bernoulli(batch, generator=self.generator)
        return batch


def _as_pixels(X, shape):
    """Images as float32 (n, h*w) in [0, 1]; uint8 grey levels are divided by 255."""
    array = np.asarray(X)
    height, width = shape
    if array.ndim == 3 and array.shape[1:] == (height, width):
        array = array.reshape(len(array), -1)
    if array.ndim != 2 or array.shape[1] != height * width:
        raise ValueError(
            f"expected images of shape (n, {height}, {width}) or (n, {height * width}), "
            f"got an array of shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"pixels must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError("pixel values must lie in [0, 1] (or be uint8 grey levels 0-255)")
    return array


def _has_2d_latent(estimator):
    if estimator.latent_dim != 2:
        raise AttributeError(
            f"manifold needs a 2-D latent space; this model has latent_dim="
            f"{estimator.latent_dim} (fit it with latent_dim=2)"
        )
    return True


class ImageVAE(TransformerMixin, BaseEstimator):
    """Variational autoencoder for grey-level images (MNIST, Frey Face, ...).

    Trained by minibatch AEVB (Kingma & Welling 2014, Algorithm 1) with the core
    objectives and training loop. Images are scored by their evidence lower bound, or
    by the importance-weighted bound with ``n_importance_samples > 1``: an estimate of
    log p(x) in nats, lower for images unlike the training set.

    Parameters
    ----------
    backend : str, default="mnist"
        A registered image backend (``"mnist"``, ``"frey-face"`` or a plugin's): image
        shape, pixel likelihood and the paper's hidden width.
    preset : {"paper", "mlp2", "conv"}, default="mlp2"
        Network family. ``"paper"``: one tanh hidden layer (500 units MNIST, 200 Frey
        Face) and Adagrad, as in AEVB Sec. 5; ``"mlp2"``: two ReLU layers of that width;
        ``"conv"``: two stride-2 convolutions in the encoder and two transposed ones in
        the decoder.
    latent_dim : int, default=20
        Dimension Nz of the latent space.
    beta : float, default=1.0
        Weight of the KL term; 1 is the true ELBO.
    max_epochs : int, default=50
        Passes over the training images.
    batch_size : int, default=100
        Minibatch size M (the paper's M=100).
    learning_rate : float or None, default=None
        Optimizer step size; None takes the preset's (0.02 for ``paper``, 1e-3 else).
    optimizer : {"adam", "adagrad"} or None, default=None
        None takes the preset's (Adagrad for ``paper``, Adam else).
    binarize : {"auto", "dynamic", "static"} or None, default="auto"
        For Bernoulli backends: ``"dynamic"`` draws new binary pixels from the grey
        levels at every epoch; ``"static"`` draws them once before training; None uses
        grey levels as Bernoulli targets. ``"auto"`` is ``"dynamic"`` for Bernoulli
        backends and None for Gaussian ones, which accept only None. A binarized model
        scores grey images through one fixed binarization (the same for every call);
        images already binary score as they are.
    noise_std : float or None, default=None
        For Gaussian backends: fixed standard deviation of every pixel (on the [0, 1]
        scale); None lets the decoder output a variance per pixel.
    n_importance_samples : int, default=1
        K of the importance-weighted bound (Burda et al. 2016) in ``score_samples``;
        1 scores with the ELBO.
    n_mc_samples : int, default=1
        Monte Carlo draws averaged in each score. Draws are fixed per model, so scores
        are deterministic and do not depend on the other images scored with them.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available. Results come back as NumPy.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, shuffling, binarization and the scoring draws; no global
        seed is touched.
    verbose : int, default=0
        1 shows a progress bar on stderr, 2 one line per epoch.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    history_ : list of dict
        One record per epoch (``epoch``, ``loss`` = mean negative ELBO per image,
        ``reconstruction``, ``kl``, ``val_loss`` (always None), ``seconds``).
    n_epochs_ : int
        Epochs run.
    image_shape_ : tuple of int
        (height, width) of the images.
    binarize_ : {"dynamic", "static"} or None
        The binarization used (``"auto"`` resolved).
    n_features_in_ : int
        Pixels per image.

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    .. [2] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
       Autoencoders", ICLR 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae_images import ImageVAE
    >>> images = np.random.RandomState(0).randint(0, 256, size=(50, 28, 28), dtype=np.uint8)
    >>> vae = ImageVAE(preset="paper", latent_dim=2, max_epochs=1, random_state=0).fit(images)
    >>> vae.transform(images).shape
    (50, 2)
    >>> vae.sample(3, random_state=0).shape
    (3, 28, 28)
    """

    _parameter_constraints: dict = {
        "backend": [str],
        "preset": [StrOptions(set(PRESETS))],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [None, Interval(Real, 0, None, closed="neither")],
        "optimizer": [None, StrOptions(set(OPTIMIZERS))],
        "binarize": [None, StrOptions({"auto", "dynamic", "static"})],
        "noise_std": [None, Interval(Real, 0, None, closed="neither")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_mc_samples": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        backend="mnist",
        preset="mlp2",
        latent_dim=20,
        beta=1.0,
        max_epochs=50,
        batch_size=100,
        learning_rate=None,
        optimizer=None,
        binarize="auto",
        noise_std=None,
        n_importance_samples=1,
        n_mc_samples=1,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.backend = backend
        self.preset = preset
        self.latent_dim = latent_dim
        self.beta = beta
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.binarize = binarize
        self.noise_std = noise_std
        self.n_importance_samples = n_importance_samples
        self.n_mc_samples = n_mc_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ---- fitting ---------------------------------------------------------------------
    def _resolve_backend(self):
        backend = get_backend(self.backend)
        declared = getattr(backend, "likelihood", None)
        if declared not in LIKELIHOODS:
            raise PluginError(
                f"image backend {self.backend!r} declares likelihood {declared!r}; "
                f"expected one of {', '.join(LIKELIHOODS)}"
            )
        binarize = self.binarize
        if backend.likelihood == "gaussian":
            if binarize not in ("auto", None):
                raise ValueError(
                    f"binarize={binarize!r} needs a Bernoulli backend; backend "
                    f"{self.backend!r} has a Gaussian likelihood, use binarize=None"
                )
            binarize = None
        else:
            if self.noise_std is not None:
                raise ValueError(
                    f"noise_std applies to Gaussian backends; backend {self.backend!r} "
                    "has a Bernoulli likelihood, use noise_std=None"
                )
            if binarize == "auto":
                binarize = "dynamic"
        return backend, binarize

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit on images: uint8 grey levels or floats in [0, 1], shape (n, h, w) or
        (n, h*w). ``y`` is ignored.

        Returns
        -------
        self : ImageVAE
        """
        backend, binarize = self._resolve_backend()
        pixels = _as_pixels(X, backend.shape)
        rng = check_random_state(self.random_state)
        init_seed, train_seed, binarize_seed, eps_seed = (
            int(s) for s in rng.randint(0, 2**31 - 1, size=4)
        )
        device = resolve_device(self.device)
        module = build_module(backend, self.preset, self.latent_dim, self.noise_std)
        module.reset_parameters(torch.Generator().manual_seed(init_seed))
        module.to(device)

        grey = torch.from_numpy(pixels).to(device)
        draws = torch.Generator(device=device).manual_seed(binarize_seed)
        if binarize == "static":
            grey = torch.bernoulli(grey, generator=draws)
        data = _Pixels(grey, binarize == "dynamic", draws)

        preset = PRESETS[self.preset]
        self.history_ = train(
            module,
            data,
            beta=self.beta,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer or preset.optimizer,
            learning_rate=self.learning_rate or preset.learning_rate,
            weight_decay=0.0,
            n_iter_no_change=1,
            tol=0.0,
            generator=torch.Generator(device=device).manual_seed(train_seed),
            verbose=self.verbose,
        )
        self.module_ = module
        self.n_epochs_ = len(self.history_)
        self.image_shape_ = tuple(int(s) for s in backend.shape)
        self.binarize_ = binarize
        self.n_features_in_ = backend.n_pixels
        self._eps_seed = eps_seed
        return self

    # ---- helpers ---------------------------------------------------------------------
    def _model_input(self, X):
        """Validated images as the model sees them (binarized when trained so)."""
        check_is_fitted(self)
        pixels = _as_pixels(X, self.image_shape_)
        if self.binarize_ is not None:
            # One fixed threshold per pixel: a valid Bernoulli draw for each image,
            # the identity on images that are already binary. Its own seed, so that
            # it never repeats the scoring draws.
            seed = (self._eps_seed + 1) % 2**31
            threshold = torch.rand(pixels.shape[1], generator=torch.Generator().manual_seed(seed))
            pixels = (threshold.numpy() < pixels).astype(np.float32)
        return pixels

    def _map_chunks(self, pixels, fn, samples=1):
        device = resolve_device(self.device)
        self.module_.to(device).eval()
        width = max(pixels.shape[1] * self.module_.likelihood.outputs_per_pixel, 1)
        step = rows_per_chunk(samples, width, device)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(pixels), step):
                x = torch.from_numpy(pixels[start : start + step]).to(device)
                outputs.append(fn(x).double().cpu())
        return torch.cat(outputs).numpy()

    def _images(self, flat):
        return flat.reshape(len(flat), *self.image_shape_)

    # ---- scoring and representation --------------------------------------------------
    def score_samples(self, X):
        """Per-image ELBO, or IWAE bound when ``n_importance_samples > 1``, in nats.

        An estimate of log p(x) from below; lower means more unlike the training
        images. Gaussian backends give densities of pixels on the [0, 1] scale.
        """
        pixels = self._model_input(X)
        module = self.module_
        k, s = self.n_importance_samples, self.n_mc_samples
        # Drawn once per model (common random numbers), as the core's VAE scores.
        eps = fixed_draws(self._eps_seed, (s, k, 1, self.latent_dim), resolve_device(self.device))
        return self._map_chunks(pixels, lambda x: log_likelihood_bound(module, x, eps), samples=s * k)

    def transform(self, X):
        """Latent means E_q[z | x], shape (n_images, latent_dim)."""
        pixels = self._model_input(X)
        return self._map_chunks(pixels, lambda x: self.module_.encode(x)[0])

    def reconstruct(self, X):
        """Decode each image's latent mean: expected pixels, shape (n, h, w), in [0, 1]."""
        pixels = self._model_input(X)
        module = self.module_

        def fn(x):
            return module.likelihood.mean(module.decode(module.encode(x)[0]))

        return self._images(self._map_chunks(pixels, fn))

    def inverse_transform(self, Z):
        """Expected images E[x | z] of latent rows Z, shape (n, h, w), in [0, 1]."""
        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latent rows of shape (n, {self.latent_dim}), got {Z.shape}")
        module = self.module_
        flat = self._map_chunks(Z, lambda z: module.likelihood.mean(module.decode(z)))
        return self._images(flat)

    def sample(self, n_samples=1, random_state=None):
        """Expected images of z ~ N(0, I): shape (n_samples, h, w), in [0, 1].

        Pixel means rather than pixel draws, as in the paper's figures.
        """
        check_is_fitted(self)
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
        z = torch.randn(n_samples, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self.inverse_transform(z.numpy())

    @available_if(_has_2d_latent)
    def manifold(self, n_per_axis=20):
        """The learned 2-D data manifold (AEVB Figure 4).

        Linearly spaced points of the unit square, mapped through the inverse Gaussian
        CDF to latent values, then decoded. Returns expected images of shape
        (n_per_axis, n_per_axis, h, w); row i has the i-th value of z_2 from the top
        (largest first), column j the j-th value of z_1.
        """
        check_is_fitted(self)
        # Cell centres of the unit square: the CDF's 0 and 1 would map to infinity.
        values = norm.ppf((np.arange(n_per_axis) + 0.5) / n_per_axis)
        z1, z2 = np.meshgrid(values, values[::-1])
        images = self.inverse_transform(np.column_stack([z1.ravel(), z2.ravel()]))
        return images.reshape(n_per_axis, n_per_axis, *self.image_shape_)

    # ---- persistence (anovae.save / anovae.load) -------------------------------------
    _anovae_model_kind = "anovae_images.ImageVAE"

    def _anovae_state(self):
        check_is_fitted(self)
        meta = {
            "params": {k: _param_to_json(k, v) for k, v in self.get_params(deep=False).items()},
            "eps_seed": self._eps_seed,
            "history": self.history_,
            "image_shape": list(self.image_shape_),
            "binarize": self.binarize_,
        }
        return meta, module_arrays(self.module_)

    @classmethod
    def _from_anovae_state(cls, meta, arrays):
        params = dict(meta["params"])
        if "device" in params:
            params["device"] = loading_device(params["device"])
        estimator = cls(**params)
        try:
            backend, _ = estimator._resolve_backend()
        except PluginError as exc:
            raise ModelFileError(f"the model needs image backend {estimator.backend!r}: {exc}") from None
        if list(backend.shape) != list(meta["image_shape"]):
            raise ModelFileError(
                f"image backend {estimator.backend!r} now has images of shape "
                f"{tuple(backend.shape)}; the model was trained on {tuple(meta['image_shape'])}"
            )
        module = build_module(backend, estimator.preset, estimator.latent_dim, estimator.noise_std)
        estimator.module_ = load_module_arrays(module, arrays).eval()
        estimator.history_ = list(meta["history"])
        estimator.n_epochs_ = len(estimator.history_)
        estimator.image_shape_ = tuple(meta["image_shape"])
        estimator.binarize_ = meta["binarize"]
        estimator.n_features_in_ = backend.n_pixels
        estimator._eps_seed = int(meta["eps_seed"])
        return estimator

