"""One-line errors for a compressed data file that cannot be decompressed.

pandas reads ``.gz``, ``.bz2``, ``.xz``, ``.zip`` and ``.zst`` files by their suffix.
When the bytes do not match (a truncated download, a plain CSV named ``.gz``), the
decoders raise errors that name neither the file nor the problem in the user's
terms: ``EOFError: Compressed file ended before the end-of-stream marker was
reached``, ``Not a gzipped file (b'a,')``, ``Invalid data stream``. They can arrive
at any chunk of a streamed file, so :func:`decompression_error` is asked wherever a
read can fail (``_io._reading``).
"""

import lzma
import os
import zipfile
import zlib

from ..errors import DataError, one_line_reason

__all__ = ["DECODER_ERRORS", "decompression_error"]

#: Suffix -> the format's usual name, as pandas infers compression from it.
FORMATS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}

#: What the decoders raise on bytes that are not their format (besides OSError and
#: EOFError, which other failures share).
DECODER_ERRORS = (zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def _is_decoder_error(exc):
    if isinstance(exc, DECODER_ERRORS):
        return True
    # gzip's BadGzipFile and bz2's "Invalid data stream" are OSErrors without an errno;
    # a real input/output failure (EIO, a vanished file) has one and stays an OSError.
    if isinstance(exc, OSError) and exc.errno is None:
        return True
    return type(exc).__module__.split(".")[0] == "zstandard"


def decompression_error(path, exc):
    """A :class:`DataError` saying why the compressed file ``path`` could not be read.

    ``exc`` is what reading it raised. Returns None when ``path`` is not a compressed
    file by its name, or ``exc`` is not a decompression failure.
    """
    if path is None or str(path) == "-":
        return None
    suffix = os.path.splitext(str(path).lower())[1]
    name = FORMATS.get(suffix)
    if name is None:
        return None
    if isinstance(exc, EOFError):
        return DataError(
            f"{path}: the {name} data end early; the file is truncated (an interrupted "
            "download or copy?)"
        )
    if name == "zip" and isinstance(exc, ValueError) and "ZIP file" in str(exc):
        # pandas reads a zip archive holding exactly one file.
        return DataError(f"{path}: {one_line_reason(exc)}; give one data file per archive")
    if name == "zstd" and isinstance(exc, ImportError):
        return DataError(f"{path}: reading zstd-compressed files needs the zstandard package (pip install zstandard)")
    if _is_decoder_error(exc):
        reason = one_line_reason(exc)
        return DataError(
            f"{path}: not valid {name} data ({reason}); a name ending in {suffix} is read as "
            f"{name}-compressed"
        )
    return None
