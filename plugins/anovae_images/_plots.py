"""PNG pictures of image models: grids of images and latent scatter plots.

matplotlib is an optional extra (``pip install 'anovae[plot]'``); it is imported
only when a picture is drawn. Figures use matplotlib's object API, not pyplot, so
drawing one changes no global state of the caller's process.
"""

import math

import numpy as np

from anovae.errors import AnovaeError

MISSING_MATPLOTLIB = "PNG output needs matplotlib, an optional extra: pip install 'anovae[plot]'"


def require_matplotlib():
    """Raise a one-line AnovaeError when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise AnovaeError(MISSING_MATPLOTLIB) from None
    return Figure


def tile(images, n_cols, gap=1):
    """Lay (n, h, w) images out row by row on one canvas, ``gap`` white pixels apart."""
    n, height, width = images.shape
    n_rows = math.ceil(n / n_cols)
    canvas = np.ones((n_rows * (height + gap) - gap, n_cols * (width + gap) - gap))
    for i, image in enumerate(images):
        row, col = divmod(i, n_cols)
        top, left = row * (height + gap), col * (width + gap)
        canvas[top : top + height, left : left + width] = image
    return canvas


def _save_canvas(canvas, path, scale):
    Figure = require_matplotlib()
    # One figure pixel per `scale`-th of an image pixel: crisp, and the file stays small.
    dpi = 100
    figure = Figure(figsize=(canvas.shape[1] * scale / dpi, canvas.shape[0] * scale / dpi), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes.set_axis_off()
    figure.savefig(path, format="png", dpi=dpi)


def save_image_grid(images, path, n_cols=None, gap=1, scale=2):
    """Write (n, h, w) images with values in [0, 1] as one PNG grid."""
    images = np.asarray(images, dtype=np.float64)
    n_cols = n_cols or math.ceil(math.sqrt(len(images)))
    _save_canvas(tile(images, n_cols, gap), path, scale)


def save_reconstructions(originals, reconstructions, path, n_cols=10, scale=2):
    """Write pairs of rows: ``n_cols`` originals, then their reconstructions below."""
    originals = np.asarray(originals, dtype=np.float64)
    reconstructions = np.asarray(reconstructions, dtype=np.float64)
    rows = []
    for start in range(0, len(originals), n_cols):
        rows.append(originals[start : start + n_cols])
        rows.append(reconstructions[start : start + n_cols])
    padded = [np.concatenate([r, np.ones((n_cols - len(r), *r.shape[1:]))]) for r in rows]
    _save_canvas(tile(np.concatenate(padded), n_cols), path, scale)


def save_manifold(grid, path, scale=2):
    """Write a (rows, cols, h, w) manifold as one seamless image, as AEVB Figure 4."""
    grid = np.asarray(grid, dtype=np.float64)
    rows, cols, height, width = grid.shape
    canvas = grid.transpose(0, 2, 1, 3).reshape(rows * height, cols * width)
    _save_canvas(canvas, path, scale)


def save_latent_scatter(Z, path, labels=None, axis_names=("z1", "z2"), title=None):
    """Scatter 2-D latent codes, colored by ``labels`` (digits) when given."""
    Figure = require_matplotlib()
    figure = Figure(figsize=(6, 5), dpi=100)
    axes = figure.add_subplot()
    if labels is None:
        axes.scatter(Z[:, 0], Z[:, 1], s=3, alpha=0.6)
    else:
        points = axes.scatter(
            Z[:, 0], Z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7, vmin=-0.5, vmax=9.5
        )
        colorbar = figure.colorbar(points, ax=axes, ticks=range(10))
        colorbar.set_label("digit")
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
    if title:
        axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, format="png")
