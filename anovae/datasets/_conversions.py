"""How a dataset's public source becomes the file the loaders read, and how to check it.

Compressors and zip writers do not give the same bytes across library versions, so a
file made here is checked by its content (:func:`content_sha256`) as well as by its
bytes.
"""

import gzip
import hashlib
import shutil
import zipfile
from pathlib import Path


def file_sha256(path, *, opener=open):
    """SHA-256 of the bytes ``opener(path, "rb")`` reads, a block at a time."""
    digest = hashlib.sha256()
    with opener(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(kind, path):
    """SHA-256 of what a converted file holds, whatever compressor wrote it.

    ``"gzip"``: of the uncompressed bytes; ``"frey-npz"``: of the uint8 array ``X``
    in C order. None for a file that cannot be read so, or another ``kind``.
    """
    try:
        if kind == "gzip":
            return file_sha256(path, opener=gzip.open)
        if kind == "frey-npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as archive:
                pixels = archive["X"]
            if pixels.dtype != np.uint8:
                return None
            return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return None


def _gzip(source, target):
    # No name and no time in the header (as gzip -n): the bytes depend on the text
    # (and zlib's version) only.
    with open(source, "rb") as stream, open(target, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as out:
            shutil.copyfileobj(stream, out, 1 << 20)


def _lf(source, target):
    text = Path(source).read_bytes()
    Path(target).write_bytes(text.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))


def _frey_npz(source, target):
    import numpy as np
    from scipy.io import loadmat

    pixels = np.ascontiguousarray(loadmat(source)["ff"].T)
    with open(target, "wb") as stream:
        np.savez_compressed(stream, X=pixels)


#: How a source becomes the file: ``convert(source path, target path)``.
CONVERSIONS = {"gzip": _gzip, "lf": _lf, "frey-npz": _frey_npz}
