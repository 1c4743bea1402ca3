"""Saving and loading fitted models without pickle.

File format (version 1): a ZIP archive holding

- ``anovae.json``: ``{"format": "anovae-model", "format_version": 1, "kind": ...,
  "anovae_version": ..., "meta": {...}}`` -- parameters and fitted scalars, as JSON;
- ``arrays/<name>.npy``: every array (network weights included), read back with
  ``numpy.load(allow_pickle=False)``.

Nothing in the file is ever unpickled or imported, so loading a hostile file cannot
run code: the model class comes from a fixed table of registered kinds, and an
object array (the only way to smuggle a pickle into ``.npy``) is refused.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np
import torch

from .errors import ModelFileError

FORMAT = "anovae-model"
FORMAT_VERSION = 1
_META = "anovae.json"
_ARRAYS = "arrays/"

_kinds = {}


def register_model_class(cls):
    """Make ``cls`` loadable by :func:`load`.

    ``cls`` needs a unique string attribute ``_anovae_model_kind``, a method
    ``_anovae_state() -> (meta: dict, arrays: dict[str, ndarray])`` and a classmethod
    ``_from_anovae_state(meta, arrays)``. Returns ``cls`` (usable as a decorator).
    """
    _kinds[cls._anovae_model_kind] = cls
    return cls


def save(estimator, path):
    """Write a fitted estimator to ``path`` (replaced atomically)."""
    kind = getattr(type(estimator), "_anovae_model_kind", None)
    if kind not in _known_kinds(kind):
        raise ModelFileError(f"{type(estimator).__name__} cannot be saved by anovae.save")
    meta, arrays = estimator._anovae_state()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "anovae_version": _version(),
        "meta": meta,
    }
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".anovae-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_META, json.dumps(header, indent=1, default=_json_default))
            for name, array in arrays.items():
                array = np.asarray(array)
                if array.dtype == object:
                    raise ModelFileError(f"array {name!r} has dtype object and cannot be saved safely")
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(_ARRAYS + name + ".npy", buffer.getvalue())
        # mkstemp creates the file readable by its owner only; give it the mode an
        # ordinary new file would get under the user's umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path):
    """Read a model written by :func:`save`; raise ModelFileError for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file" + (" (it is a directory)" if os.path.isdir(path) else ""))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ModelFileError(f"{path}: not an anovae model file (not a ZIP archive)") from None
    with archive:
        try:
            header = json.loads(archive.read(_META).decode("utf-8"))
        except KeyError:
            raise ModelFileError(f"{path}: not an anovae model file (no {_META})") from None
        except (ValueError, UnicodeDecodeError):
            raise ModelFileError(f"{path}: corrupt anovae model file ({_META} is not JSON)") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelFileError(f"{path}: not an anovae model file")
        version = header.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: model file format version {version!r} is not supported "
                f"(this anovae reads version {FORMAT_VERSION})"
            )
        kind = header.get("kind")
        if not isinstance(kind, str) or kind not in _known_kinds(kind):
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
        arrays = {}
        for name in archive.namelist():
            if not (name.startswith(_ARRAYS) and name.endswith(".npy")):
                continue
            try:
                arrays[name[len(_ARRAYS) : -4]] = np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
            except ValueError as exc:
                raise ModelFileError(f"{path}: array {name!r} refused ({exc})") from None
    try:
        return _known_kinds()[kind]._from_anovae_state(header.get("meta", {}), arrays)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path}: corrupt anovae model file ({type(exc).__name__}: {exc})") from None


def _known_kinds(kind=None):
    """Registered model kinds; plugins are loaded when ``kind`` is not among them.

    Only the registered classes can be built: the file names a kind, never code.
    """
    if not _kinds:
        from . import _cvae, _vae  # noqa: F401 - registers the core kinds
    if kind is not None and kind not in _kinds:
        from ._plugins import get_plugin_manager

        get_plugin_manager()  # importing installed plugins registers their kinds
    return _kinds


def _version():
    from . import __version__

    return __version__


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.device):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


# ---- helpers the estimators use ----------------------------------------------------
def module_arrays(module, prefix="module."):
    return {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module, arrays, prefix="module."):
    state = {k[len(prefix) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    module.load_state_dict(state, strict=True)
    return module
