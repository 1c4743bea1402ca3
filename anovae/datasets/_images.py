"""Image datasets: MNIST (IDX files) and Frey Face."""

import gzip
import struct
import zlib

import numpy as np
from sklearn.utils import Bunch

from ..errors import DataError
from ._home import locate

MNIST_SOURCE = (
    "MNIST by Y. LeCun, C. Cortes and C. J. C. Burges (http://yann.lecun.com/exdb/mnist/)"
)
FREY_SOURCE = (
    "Frey Face by B. J. Frey, from Sam Roweis's data page (https://cs.nyu.edu/~roweis/data.html)"
)

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # magic numbers: unsigned bytes, 3 or 1 dimensions
_FREY_SHAPE = (28, 20)


def _read_idx(path, magic):
    """Read an IDX file holding unsigned bytes (gzip-compressed when named ``*.gz``)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(raw) < 4:
        raise DataError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise DataError(
            f"{path} has magic number {found}, expected {magic}; not the right IDX file"
        )
    ndim = magic & 0xFF
    header = 4 * (ndim + 1)
    if len(raw) < header:
        raise DataError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path} holds {len(raw)} bytes, its header announces {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def load_mnist(subset="train", data_home=None):
    """Load MNIST handwritten digits from the original IDX files.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        ``train`` is the 60000 training images, ``test`` the 10000 ``t10k`` ones, read
        from ``<data_home>/mnist/`` (``.gz`` files, or their uncompressed form).
    data_home : str or path-like, default=None
        Folder holding ``mnist/``; see :func:`get_data_home`.

    Returns
    -------
    sklearn.utils.Bunch
        ``images`` (uint8 array of shape (n, 28, 28), 0 is background), ``data`` (the
        same pixels as (n, 784)), ``target`` (int64 digit labels 0-9) and ``DESCR``.

    Raises
    ------
    ValueError
        If ``subset`` is unknown.
    anovae.errors.DataError
        If a file is missing, corrupt, or not the expected IDX file.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to
    document recognition", Proceedings of the IEEE, 1998.
    """
    if subset not in _MNIST_FILES:
        raise ValueError(
            f"The 'subset' parameter of load_mnist must be a str among "
            f"{{{', '.join(map(repr, _MNIST_FILES))}}}. Got {subset!r} instead."
        )
    wanted = [(f"{stem}.gz", stem) for stem in _MNIST_FILES[subset]]
    image_path, label_path = locate(
        "mnist", wanted, data_home=data_home, source=MNIST_SOURCE, fetch="mnist"
    )
    images = _read_idx(image_path, _IDX_IMAGES)
    labels = _read_idx(label_path, _IDX_LABELS)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataError(
            f"{image_path} holds images of shape {images.shape} but {label_path} holds "
            f"{len(labels)} labels; expected n images of 28x28 and n labels"
        )
    descr = (
        f"MNIST handwritten digits, {subset} subset: {len(images)} grayscale images of "
        f"28x28 pixels with their digit (0-9). No anomaly labels; the usual protocol "
        f"trains on one digit and treats the others as anomalies.\n\n"
        f"Source: {MNIST_SOURCE}. Cite: Y. LeCun et al., Proc. IEEE 1998."
    )
    return Bunch(
        images=images,
        data=images.reshape(len(images), -1),
        target=labels.astype(np.int64),
        DESCR=descr,
    )


def _read_frey(path):
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read {path} as an .npz archive: {exc}") from None
        if "X" not in arrays:
            raise DataError(f"{path} lacks the array 'X'")
        return arrays["X"]
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        contents = loadmat(path)
    except (MatReadError, OSError, ValueError, TypeError, EOFError) as exc:
        raise DataError(f"cannot read {path} as a MAT-file: {exc}") from None
    if "ff" not in contents:
        raise DataError(f"{path} lacks the variable 'ff'")
    return contents["ff"].T


def load_frey_face(data_home=None):
    """Load the Frey Face images (1965 grayscale faces of 28x20 pixels, no labels).

    Reads ``<data_home>/frey-face/frey_rawface.npz`` (array ``X`` of shape (1965, 560))
    when present, else the original ``frey_rawface.mat`` (variable ``ff`` of shape
    (560, 1965)), which needs SciPy.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``frey-face/``; see :func:`get_data_home`.

    Returns
    -------
    sklearn.utils.Bunch
        ``images`` (uint8 array of shape (1965, 28, 20)), ``data`` (the same pixels as
        (1965, 560)) and ``DESCR``.

    Raises
    ------
    anovae.errors.DataError
        If neither file is present, or the one read is not a Frey Face file.

    References
    ----------
    D. P. Kingma, M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """
    (path,) = locate(
        "frey-face",
        [("frey_rawface.npz", "frey_rawface.mat")],
        data_home=data_home,
        source=FREY_SOURCE,
        fetch="frey-face",
    )
    pixels = np.asarray(_read_frey(path))
    width = _FREY_SHAPE[0] * _FREY_SHAPE[1]
    if pixels.ndim != 2 or pixels.shape[1] != width or pixels.dtype != np.uint8:
        raise DataError(
            f"{path} holds {pixels.dtype} pixels of shape {pixels.shape}; "
            f"expected uint8 images of {width} pixels"
        )
    images = np.ascontiguousarray(pixels).reshape(-1, *_FREY_SHAPE)
    descr = (
        f"Frey Face: {len(images)} grayscale images of Brendan Frey's face, 28 rows by "
        f"20 columns, no labels.\n\nSource: {FREY_SOURCE}. Used in D. P. Kingma, "
        f"M. Welling, \"Auto-Encoding Variational Bayes\", ICLR 2014."
    )
    return Bunch(images=images, data=images.reshape(len(images), -1), DESCR=descr)
