"""``anovae images``: train image VAEs and draw what they learnt.

Errors need no handling here: the root group's error boundary turns any
:class:`anovae.errors.AnovaeError` into one line and exit code 1.
"""

import time

import click

from anovae.cli import device_option

# The commands import NumPy, torch and the estimator when they run: this module is
# imported whenever the plugin adds its commands, `anovae --help` included.

#: The network presets of ``_networks.PRESETS`` (a test keeps the two equal).
PRESET_NAMES = ("conv", "mlp2", "paper")


def _check_backend(ctx, param, value):
    from ._backends import available_backends

    names = available_backends()
    if value not in names:
        raise click.BadParameter(f"unknown image backend {value!r}; available: {', '.join(names)}")
    return value


def _load_image_model(path):
    from anovae import load
    from anovae.errors import DataError

    from ._estimator import ImageVAE

    model = load(path)
    if not isinstance(model, ImageVAE):
        raise DataError(
            f"{path}: holds a {type(model).__name__}; 'anovae images' commands need a "
            "model from 'anovae images fit'"
        )
    return model


def _load_test_images(model, data_home):
    from ._backends import get_backend

    return get_backend(model.backend).load("test", data_home=data_home)


def _picture_command(function):
    """Shared MODEL argument and output options of the commands that draw a PNG."""
    function = click.option("--force", is_flag=True, help="Replace the output file if it exists.")(
        function
    )
    function = click.option(
        "-o", "--output", required=True, metavar="PNG", help="Where to write the PNG picture."
    )(function)
    return click.argument("model", metavar="MODEL", type=click.Path(dir_okay=False))(function)


def _prepare_output(output, force, model):
    # Before any work: a missing matplotlib or an unusable path should not cost a
    # model load or a pass over the test set.
    from anovae.tables import check_output_path

    from ._plots import require_matplotlib

    require_matplotlib()
    check_output_path(output, force=force, inputs=[model], option="-o")


def _write(save_picture, output, *args, **kwargs):
    from anovae.tables import atomic_path

    with atomic_path(output) as tmp:
        save_picture(*args, tmp, **kwargs)
    click.echo(f"wrote {output}")


data_home_option = click.option(
    "--data-home",
    type=click.Path(file_okay=False),
    help="Folder holding mnist/ and frey-face/ (default: ANOVAE_DATA, else ~/anovae_data).",
)


@click.group()
def images():
    """Image VAEs on MNIST and Frey Face, after Kingma & Welling (2014).

    \b
    anovae images fit mnist --latent-dim 2 --epochs 10 --model-out mnist.anovae
    anovae images sample mnist.anovae -o samples.png
    anovae images manifold mnist.anovae -o manifold.png
    """


@images.command()
@click.argument("backend", metavar="BACKEND", callback=_check_backend)
@click.option("--model-out", required=True, metavar="PATH", help="Where to save the fitted model.")
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Latent dimension Nz (2 allows 'manifold').",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Passes over the training images.",
)
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default="mlp2",
    show_default=True,
    help="Network: the paper's one-layer MLP, a two-layer MLP or a small CNN.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Minibatch size M.",
)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Step size (default: the preset's).",
)
@click.option(
    "--n-images",
    type=click.IntRange(min=1),
    help="Train on this many images drawn at random (default: all).",
)
@data_home_option
@device_option()
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: same data and seed, same model.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Replace --model-out if it exists.")
def fit(
    backend,
    model_out,
    latent_dim,
    epochs,
    preset,
    batch_size,
    learning_rate,
    n_images,
    data_home,
    device,
    seed,
    quiet,
    force,
):
    """Train an image VAE on BACKEND's training images (mnist, frey-face) and save it.

    MNIST is dynamically binarized (new binary pixels every epoch); Frey Face has
    Gaussian pixels with means in (0, 1).
    """
    import numpy as np

    from anovae import save
    from anovae.tables import atomic_path, check_output_path

    from ._backends import get_backend
    from ._estimator import ImageVAE

    check_output_path(model_out, force=force, option="--model-out")
    images_ = get_backend(backend).load("train", data_home=data_home).images
    if n_images is not None and n_images < len(images_):
        rows = np.sort(np.random.RandomState(seed).choice(len(images_), n_images, replace=False))
        images_ = images_[rows]
    model = ImageVAE(
        backend=backend,
        preset=preset,
        latent_dim=latent_dim,
        max_epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        device=device,
        random_state=seed,
        verbose=0 if quiet else 1,
    )
    started = time.perf_counter()
    model.fit(images_)
    seconds = time.perf_counter() - started
    with atomic_path(model_out) as tmp:
        save(model, tmp)
    if quiet:
        return
    click.echo(
        f"trained {preset} (Nz={latent_dim}) on {len(images_)} {backend} images, "
        f"{model.n_epochs_} epochs in {seconds:.1f}s; last epoch's ELBO "
        f"{-model.history_[-1]['loss']:.2f} nats per image"
    )
    click.echo(f"wrote {model_out}")


@images.command()
@_picture_command
@click.option(
    "--n",
    "n_images",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Images in the grid.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent draws.")
def sample(model, output, force, n_images, seed):
    """Draw images from MODEL: z ~ N(0, I), decoded to pixel means."""
    from ._plots import save_image_grid

    _prepare_output(output, force, model)
    vae = _load_image_model(model)
    _write(save_image_grid, output, vae.sample(n_images, random_state=seed))


@images.command()
@_picture_command
@click.option(
    "--n",
    "n_images",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Test images shown.",
)
@data_home_option
def reconstruct(model, output, force, n_images, data_home):
    """Show test images (odd rows) above MODEL's reconstructions (even rows)."""
    from ._plots import save_reconstructions

    _prepare_output(output, force, model)
    vae = _load_image_model(model)
    originals = _load_test_images(vae, data_home).images[:n_images] / 255.0
    _write(save_reconstructions, output, originals, vae.reconstruct(originals))


@images.command()
@_picture_command
@click.option(
    "--n-per-axis",
    type=click.IntRange(min=2),
    default=20,
    show_default=True,
    help="Images per side of the grid.",
)
def manifold(model, output, force, n_per_axis):
    """Draw the learnt 2-D manifold (AEVB Figure 4); needs a 2-D latent space.

    Linearly spaced points of the unit square go through the inverse Gaussian CDF
    and are decoded.
    """
    from ._plots import save_manifold

    _prepare_output(output, force, model)
    vae = _load_image_model(model)
    if vae.latent_dim != 2:
        raise click.ClickException(
            f"manifold needs a 2-D latent space; {model} has latent_dim={vae.latent_dim} "
            "(fit one with --latent-dim 2)"
        )
    _write(save_manifold, output, vae.manifold(n_per_axis))


@images.command()
@_picture_command
@click.option(
    "--n-points",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Test images plotted.",
)
@data_home_option
def scatter(model, output, force, n_points, data_home):
    """Plot the latent means of test images, colored by digit when labelled.

    A latent space of more than two dimensions is shown by its first two principal
    components.
    """
    import numpy as np

    from ._plots import save_latent_scatter

    _prepare_output(output, force, model)
    vae = _load_image_model(model)
    test = _load_test_images(vae, data_home)
    Z = vae.transform(test.images[:n_points])
    labels = None if test.target is None else test.target[:n_points]
    axis_names = ("z1", "z2")
    if Z.shape[1] > 2:
        from sklearn.decomposition import PCA

        Z = PCA(n_components=2, random_state=0).fit_transform(Z)
        axis_names = ("latent PC1", "latent PC2")
    elif Z.shape[1] == 1:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
        axis_names = ("z1", "")
    title = f"{vae.backend}: latent means of {len(Z)} test images"
    _write(save_latent_scatter, output, Z, labels=labels, axis_names=axis_names, title=title)
