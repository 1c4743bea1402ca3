"""The built-in image plugin (plugins/anovae_images): backends, ImageVAE, pictures, CLI."""

import copy
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.utils._param_validation import InvalidParameterError

import anovae
from anovae._plugins import get_plugin_manager, registrations
from anovae.errors import DataError, ModelFileError, PluginError
from conftest import requires_data
from model_files import rewrite

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = ("mnist/train-images-idx3-ubyte.gz", "mnist/t10k-images-idx3-ubyte.gz")
FREY_FILE = "frey-face/frey_rawface.npz"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_mnist = requires_data(*MNIST_FILES)
needs_frey = requires_data(FREY_FILE)


@pytest.fixture(scope="module")
def images_module():
    # Importable once `pip install -e .` has run after the plugin was added; until
    # then, straight from the source tree.
    if str(ROOT / "plugins") not in sys.path:
        sys.path.insert(0, str(ROOT / "plugins"))
    return importlib.import_module("anovae_images")


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    # CI machines share few cores; torch's thread pool spins and crawls when another
    # process holds one, so these small models train on one thread.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def plugin(images_module):
    """The plugin, registered as its entry point would register it."""
    manager = get_plugin_manager()
    registered_here = manager.get_plugin("images") is None
    if registered_here:
        manager.register(images_module, name="images")
    yield images_module
    if registered_here:
        manager.unregister(name="images")


@pytest.fixture(scope="module")
def mnist_train(plugin):
    return plugin.get_backend("mnist").load("train")


@pytest.fixture(scope="module")
def mnist_test(plugin):
    return plugin.get_backend("mnist").load("test")


@pytest.fixture(scope="module")
def frey(plugin):
    backend = plugin.get_backend("frey-face")
    return backend.load("train"), backend.load("test")


@pytest.fixture(scope="module")
def digits(mnist_train):
    return mnist_train.images[:1000]


@pytest.fixture(scope="module")
def mnist_model(plugin, digits):
    return plugin.ImageVAE(latent_dim=4, max_epochs=3, random_state=0).fit(digits)


def fake_digits(n=60, seed=0):
    return np.random.RandomState(seed).randint(0, 256, size=(n, 28, 28)).astype(np.uint8)


# ---- registration and loaders ------------------------------------------------------
def test_plugin_registers_backends_and_datasets(plugin):
    backends = registrations("image_backends")
    assert {"mnist", "frey-face"} <= set(backends)
    assert backends["mnist"].plugin == "images"
    assert backends["mnist"].obj.likelihood == "bernoulli"
    assert backends["frey-face"].obj.likelihood == "gaussian"
    assert backends["frey-face"].obj.shape == (28, 20)
    datasets = registrations("datasets")
    assert datasets["mnist"].plugin == datasets["frey-face"].plugin == "images"
    assert "Frey" in datasets["frey-face"].meta["description"]


@needs_mnist
def test_mnist_backend_loads_train_and_test(mnist_train, mnist_test):
    assert mnist_train.images.shape == (60000, 28, 28) and mnist_train.images.dtype == np.uint8
    assert mnist_test.images.shape == (10000, 28, 28)
    assert mnist_test.target.shape == (10000,) and set(np.unique(mnist_test.target)) == set(
        range(10)
    )


@needs_frey
def test_frey_backend_holds_out_a_fixed_disjoint_split(plugin, frey):
    train, test = frey
    assert train.images.shape == (1965 - plugin.FREY_HELD_OUT, 28, 20)
    assert test.images.shape == (plugin.FREY_HELD_OUT, 28, 20)
    assert train.target is None
    flat_train = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in flat_train for image in test.images)
    again = plugin.get_backend("frey-face").load("test")
    np.testing.assert_array_equal(again.images, test.images)


def test_missing_files_name_the_files(plugin, tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        plugin.get_backend("mnist").load("train", data_home=tmp_path)
    with pytest.raises(DataError, match="frey_rawface"):
        plugin.get_backend("frey-face").load("test", data_home=tmp_path)


def test_unknown_backend_is_a_plugin_error(plugin):
    with pytest.raises(PluginError, match="unknown image backend 'mnsit'; did you mean 'mnist'"):
        plugin.ImageVAE(backend="mnsit").fit(fake_digits())


# ---- estimator ---------------------------------------------------------------------
@needs_mnist
def test_shapes_of_every_output(mnist_model, digits):
    few = digits[:7]
    assert mnist_model.score_samples(few).shape == (7,)
    assert mnist_model.transform(few).shape == (7, 4)
    reconstructions = mnist_model.reconstruct(few)
    assert reconstructions.shape == (7, 28, 28)
    assert reconstructions.min() >= 0 and reconstructions.max() <= 1
    assert mnist_model.sample(5, random_state=0).shape == (5, 28, 28)
    assert mnist_model.inverse_transform(np.zeros((2, 4))).shape == (2, 28, 28)
    # Flat rows and floats in [0, 1] are the same images as uint8 (n, h, w).
    np.testing.assert_allclose(
        mnist_model.score_samples(few.reshape(7, -1) / 255.0),
        mnist_model.score_samples(few),
        rtol=1e-5,
    )


@needs_mnist
def test_elbo_improves_over_a_few_epochs(plugin, digits, mnist_test, mnist_model):
    losses = [record["loss"] for record in mnist_model.history_]
    assert losses[0] > losses[1] > losses[2]
    assert all(record["kl"] > 0 for record in mnist_model.history_)  # a real VAE
    one_epoch = plugin.ImageVAE(latent_dim=4, max_epochs=1, random_state=0).fit(digits)
    held_out = mnist_test.images[:300]
    assert mnist_model.score_samples(held_out).mean() > one_epoch.score_samples(held_out).mean() + 5


def test_dynamic_binarization_differs_between_epochs_and_follows_the_seed(plugin):
    from anovae_images._estimator import _Pixels

    grey = torch.full((50, 784), 0.5)
    rows = torch.arange(50)

    def epochs(seed):
        pixels = _Pixels(grey, dynamic=True, generator=torch.Generator().manual_seed(seed))
        return pixels.index(rows), pixels.index(rows)

    first, second = epochs(0)
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    again = epochs(0)
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])
    assert not torch.equal(first, epochs(1)[0])
    static = _Pixels(grey, dynamic=False, generator=None)
    assert torch.equal(static.index(rows), static.index(rows))


def test_fit_is_deterministic_given_random_state(plugin):
    images = fake_digits()
    make = lambda seed: plugin.ImageVAE(
        latent_dim=2, max_epochs=2, batch_size=20, random_state=seed
    )  # noqa: E731
    state = torch.get_rng_state()
    a, b, c = make(0).fit(images), make(0).fit(images), make(1).fit(images)
    assert torch.equal(state, torch.get_rng_state())  # no global seeding
    np.testing.assert_array_equal(a.score_samples(images), b.score_samples(images))
    assert a.history_[-1]["loss"] == b.history_[-1]["loss"]
    assert a.history_[-1]["loss"] != c.history_[-1]["loss"]


def test_binarize_modes_train_differently(plugin):
    images = fake_digits()
    losses = {
        mode: plugin.ImageVAE(latent_dim=2, max_epochs=2, binarize=mode, random_state=0)
        .fit(images)
        .history_[-1]["loss"]
        for mode in ("dynamic", "static", None)
    }
    assert len(set(losses.values())) == 3


def test_scores_are_deterministic_and_row_independent(plugin):
    images = fake_digits()
    model = plugin.ImageVAE(latent_dim=2, max_epochs=1, n_mc_samples=3, random_state=0).fit(images)
    scores = model.score_samples(images)
    np.testing.assert_array_equal(scores, model.score_samples(images))
    np.testing.assert_allclose(model.score_samples(images[10:13]), scores[10:13], rtol=1e-6)
    # A binarized model scores an already binary image as it is.
    binary = (images > 127).astype(np.float32)
    assert np.array_equal(model._model_input(binary), binary.reshape(len(binary), -1))


@needs_mnist
def test_importance_weighted_bound_is_tighter_than_the_elbo(mnist_model, mnist_test):
    held_out = mnist_test.images[:100]
    elbo = mnist_model.score_samples(held_out)
    # K is a scoring parameter: the fitted network is reused as is.
    iwae = copy.deepcopy(mnist_model).set_params(n_importance_samples=50)
    assert iwae.score_samples(held_out).mean() > elbo.mean() + 1


@needs_frey
def test_frey_means_lie_in_the_unit_interval(plugin, frey):
    train, test = frey
    model = plugin.ImageVAE(
        backend="frey-face", preset="paper", latent_dim=2, max_epochs=2, random_state=0
    )
    model.fit(train.images[:500])
    for images in (
        model.reconstruct(test.images[:20]),
        model.sample(20, random_state=0),
        model.manifold(4),
    ):
        assert images.min() > 0 and images.max() < 1
    assert model.binarize_ is None
    fixed = plugin.ImageVAE(
        backend="frey-face", latent_dim=2, max_epochs=1, noise_std=0.1, random_state=0
    )
    assert np.isfinite(fixed.fit(train.images[:200]).score_samples(test.images[:5])).all()


@pytest.mark.parametrize("preset", ["paper", "conv"])
def test_other_presets_train(plugin, preset):
    images = fake_digits(40)
    model = plugin.ImageVAE(preset=preset, latent_dim=3, max_epochs=1, random_state=0).fit(images)
    assert model.score_samples(images[:3]).shape == (3,)
    assert model.reconstruct(images[:3]).shape == (3, 28, 28)


def test_manifold_needs_a_two_dimensional_latent_space(plugin):
    model = plugin.ImageVAE(latent_dim=3, max_epochs=1, random_state=0).fit(fake_digits(20))
    assert not hasattr(model, "manifold")
    with pytest.raises(AttributeError) as info:
        model.manifold()
    # scikit-learn's available_if chains the reason, which names the parameter.
    assert (
        str(info.value.__cause__)
        == "manifold needs a 2-D latent space; this model has latent_dim=3 (fit it with latent_dim=2)"
    )
    flat = plugin.ImageVAE(latent_dim=2, max_epochs=1, random_state=0).fit(fake_digits(20))
    grid = flat.manifold(5)
    assert grid.shape == (5, 5, 28, 28)


@pytest.mark.parametrize(
    "params, images, error, match",
    [
        (
            {"backend": "frey-face", "binarize": "dynamic"},
            np.zeros((5, 28, 20)),
            ValueError,
            "binarize='dynamic' needs a Bernoulli backend",
        ),
        ({"noise_std": 0.1}, fake_digits(5), ValueError, "noise_std applies to Gaussian backends"),
        (
            {},
            np.zeros((5, 28, 20)),
            ValueError,
            r"expected images of shape \(n, 28, 28\) or \(n, 784\)",
        ),
        ({}, np.full((5, 784), 2.0), ValueError, r"pixel values must lie in \[0, 1\]"),
        ({}, np.zeros((0, 784)), ValueError, "0 sample"),
        ({"preset": "mlp3"}, fake_digits(5), InvalidParameterError, "preset"),
        ({"binarize": "always"}, fake_digits(5), InvalidParameterError, "binarize"),
    ],
    ids=[
        "binarize-gaussian",
        "noise-bernoulli",
        "shape",
        "range",
        "empty",
        "preset",
        "binarize-value",
    ],
)
def test_invalid_input_is_refused(plugin, params, images, error, match):
    with pytest.raises(error, match=match):
        plugin.ImageVAE(max_epochs=1, **params).fit(images)


@pytest.fixture
def third_party_backends(plugin):
    """Two backends from another plugin: 6x6 Gaussian images, and one with a bad likelihood."""
    odd = plugin.ImageBackend(
        shape=(6, 6), likelihood="gaussian", paper_hidden=8, load=None, description="test"
    )
    poisson = plugin.ImageBackend(
        shape=(4, 4), likelihood="poisson", paper_hidden=8, load=None, description="test"
    )

    class OtherPlugin:
        @anovae.hookimpl
        def register_image_backends(register):
            register("odd", odd)
            register("poisson", poisson)

    manager = get_plugin_manager()
    manager.register(OtherPlugin, name="other-backends")
    yield manager
    if manager.get_plugin("other-backends") is not None:
        manager.unregister(name="other-backends")


def test_third_party_backends_work_like_builtin_ones(plugin, third_party_backends):
    data = np.random.RandomState(0).rand(30, 6, 6)
    model = plugin.ImageVAE(
        backend="odd", preset="mlp2", latent_dim=2, max_epochs=1, random_state=0
    )
    assert model.fit(data).sample(2).shape == (2, 6, 6)
    # The convolutional preset says why it cannot take this shape.
    with pytest.raises(ValueError, match="sides divisible by 4; backend images are 6x6"):
        plugin.ImageVAE(backend="odd", preset="conv", max_epochs=1).fit(data)
    with pytest.raises(PluginError, match="backend 'poisson' declares likelihood 'poisson'"):
        plugin.ImageVAE(backend="poisson", max_epochs=1).fit(np.zeros((5, 16)))


def test_loading_a_model_whose_backend_is_gone_says_so(plugin, third_party_backends, tmp_path):
    data = np.random.RandomState(0).rand(30, 6, 6)
    model = plugin.ImageVAE(backend="odd", latent_dim=2, max_epochs=1, random_state=0).fit(data)
    path = anovae.save(model, tmp_path / "odd.anovae")
    third_party_backends.unregister(name="other-backends")
    with pytest.raises(ModelFileError, match="the model needs image backend 'odd': unknown image"):
        anovae.load(path)


def test_save_load_round_trip(plugin, tmp_path):
    images = fake_digits()
    model = plugin.ImageVAE(latent_dim=2, max_epochs=2, n_mc_samples=2, random_state=0).fit(images)
    path = anovae.save(model, tmp_path / "model.anovae")
    loaded = anovae.load(path)
    assert type(loaded) is plugin.ImageVAE
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_ and loaded.binarize_ == "dynamic"
    np.testing.assert_array_equal(loaded.score_samples(images), model.score_samples(images))
    np.testing.assert_array_equal(loaded.transform(images), model.transform(images))
    np.testing.assert_array_equal(loaded.sample(3, random_state=1), model.sample(3, random_state=1))


def test_model_saved_for_a_gpu_loads_on_a_cpu(plugin, tmp_path):
    images = fake_digits()
    model = plugin.ImageVAE(preset="paper", latent_dim=2, max_epochs=1, random_state=0, device="cpu").fit(images)
    path = anovae.save(model, tmp_path / "model.anovae")
    rewritten = tmp_path / "gpu.anovae"
    rewrite(path, rewritten, meta=lambda meta: meta["params"].update(device="cuda:0"))
    loaded = anovae.load(rewritten)
    assert loaded.device == ("cuda:0" if torch.cuda.is_available() else "cpu")
    np.testing.assert_allclose(loaded.score_samples(images), model.score_samples(images), rtol=1e-5)


# ---- command line ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli(plugin):
    from anovae.cli import AnovaeGroup

    group = AnovaeGroup(name="anovae")
    assert "images" in group.list_commands(None)
    return group


def invoke(cli, *args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def cli_model(cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "mnist.anovae"
    result = invoke(
        cli,
        "images",
        "fit",
        "mnist",
        "--latent-dim",
        2,
        "--epochs",
        1,
        "--n-images",
        300,
        "--model-out",
        path,
    )
    assert result.exit_code == 0, result.output
    return path, result


@needs_mnist
def test_cli_fit_shows_progress_and_saves(cli_model, plugin):
    path, result = cli_model
    assert "training [" in result.output and "step 3/3 (epoch 1)" in result.output
    assert "on 300 mnist images" in result.output and f"wrote {path}" in result.output
    assert isinstance(anovae.load(path), plugin.ImageVAE)


@needs_mnist
@pytest.mark.parametrize("command", ["sample", "reconstruct", "manifold", "scatter"])
def test_cli_pictures_are_png_files(cli, cli_model, tmp_path, command):
    pytest.importorskip("matplotlib")
    output = tmp_path / f"{command}.png"
    extra = ["--n-points", 200] if command == "scatter" else []
    result = invoke(cli, "images", command, cli_model[0], "-o", output, *extra)
    assert result.exit_code == 0, result.output
    assert output.read_bytes()[:8] == PNG_SIGNATURE


def test_cli_manifold_refuses_other_latent_dims(cli, plugin, tmp_path):
    path = anovae.save(
        plugin.ImageVAE(latent_dim=3, max_epochs=1, random_state=0).fit(fake_digits(20)),
        tmp_path / "m3.anovae",
    )
    result = invoke(cli, "images", "manifold", path, "-o", tmp_path / "out.png")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: manifold needs a 2-D latent space; {path} has latent_dim=3 (fit one with --latent-dim 2)"
    ]
    assert not (tmp_path / "out.png").exists()


def test_cli_says_when_matplotlib_is_missing(cli, plugin, tmp_path, monkeypatch):
    path = anovae.save(
        plugin.ImageVAE(latent_dim=2, max_epochs=1, random_state=0).fit(fake_digits(20)),
        tmp_path / "m.anovae",
    )
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    result = invoke(cli, "images", "sample", path, "-o", tmp_path / "s.png")
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "Error: PNG output needs matplotlib, an optional extra: pip install 'anovae[plot]'"
    )


def test_cli_errors_are_one_line(cli, tmp_path):
    unknown = invoke(cli, "images", "fit", "mnsit", "--model-out", tmp_path / "m.anovae")
    assert (
        unknown.exit_code == 2
        and "unknown image backend 'mnsit'; available: frey-face, mnist" in unknown.output
    )
    missing = invoke(cli, "images", "sample", tmp_path / "none.anovae", "-o", tmp_path / "s.png")
    assert missing.exit_code == 1 and missing.output.strip().endswith(
        "none.anovae: no such model file"
    )
    tabular = anovae.save(
        anovae.VAE(max_epochs=1, contamination=0.1, random_state=0).fit(
            np.random.RandomState(0).rand(30, 3)
        ),
        tmp_path / "t.anovae",
    )
    wrong = invoke(cli, "images", "sample", tabular, "-o", tmp_path / "s.png")
    assert wrong.exit_code == 1
    assert (
        wrong.output.strip()
        == f"Error: {tabular}: holds a VAE; 'anovae images' commands need a model from 'anovae images fit'"
    )
    absent_data = invoke(
        cli,
        "images",
        "fit",
        "frey-face",
        "--data-home",
        tmp_path,
        "--model-out",
        tmp_path / "f.anovae",
    )
    assert absent_data.exit_code == 1 and len(absent_data.output.strip().splitlines()) == 1
    assert "frey_rawface.npz" in absent_data.output
