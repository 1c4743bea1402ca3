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
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np
import torch

from ._atomic import atomic_write
from ._device import resolve_device
from .errors import ModelFileError, PluginError

FORMAT = "anovae-model"
FORMAT_VERSION = 1
_META = "anovae.json"
_ARRAYS = "arrays/"

_kinds = {}


def register_model_class(cls):
    """Make ``cls`` loadable by :func:`load` in this process.

    For a class defined in a script or a notebook. A package registers its classes
    through the ``register_model_classes`` plugin hook instead, so that loading a file
    finds them without importing them first.

    ``cls`` needs a unique string attribute ``_anovae_model_kind``, a method
    ``_anovae_state() -> (meta: dict, arrays: dict[str, ndarray])`` and a classmethod
    ``_from_anovae_state(meta, arrays)``. Returns ``cls`` (usable as a decorator).
    """
    _kinds[cls._anovae_model_kind] = cls
    return cls


def save(estimator, path):
    """Write a fitted estimator to ``path`` (replaced atomically)."""
    kind = getattr(type(estimator), "_anovae_model_kind", None)
    if not isinstance(kind, str) or _model_class(kind) is None:
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
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry(_META), json.dumps(header, indent=1, default=_json_default))
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise ModelFileError(f"array {name!r} has dtype object and cannot be saved safely")
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(_entry(_ARRAYS + name + ".npy"), buffer.getvalue())
    return path


def _entry(name):
    # A fixed date instead of the clock's: the same model saved twice gives the same
    # bytes, so a file's digest names its model (anovae.dask ships models by digest).
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # what ZipFile.writestr gives a named entry
    return info


def load(path):
    """Read a model written by :func:`save`; raise ModelFileError for anything else.

    A model file may come from anyone, so it is opened as hostile: nothing is
    inflated before its declared size passed the limits of :func:`_check_entries`,
    every read stops at that size, each array's ``.npy`` header is checked before its
    data is read (against the network the metadata describes, for the weights), and
    the parameters are checked once read (finite numbers, positive scales, feature
    counts that agree).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file" + (" (it is a directory)" if os.path.isdir(path) else ""))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ModelFileError(f"{path}: not an anovae model file (not a ZIP archive)") from None
    with archive:
        entries = _check_entries(path, archive)
        if _META not in entries:
            raise ModelFileError(f"{path}: not an anovae model file (no {_META})")
        if entries[_META].file_size > MAX_META_BYTES:
            raise ModelFileError(
                f"{path}: {_META} declares {entries[_META].file_size} bytes, more than the "
                f"{MAX_META_BYTES} a model's metadata may have"
            )
        try:
            header = json.loads(_read_entry(path, archive, entries[_META]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
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
        cls = _model_class(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ModelFileError(
                f"{path}: unknown model kind {kind!r}; is the plugin that provides it "
                "installed? (see 'anovae plugins')"
            )
        meta = header.get("meta", {})
        if not isinstance(meta, dict):
            raise ModelFileError(f"{path}: corrupt anovae model file (meta is not an object)")
        arrays = _ArrayEntries(path, archive, entries)
        _check_meta(path, meta, arrays)
        try:
            estimator = cls._from_anovae_state(meta, arrays)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
            if isinstance(exc, PluginError):
                # The file is fine; what it names (a threshold strategy...) is missing.
                raise ModelFileError(f"{path}: needs a plugin that is not installed: {exc}") from None
            if isinstance(exc, ModelFileError):
                if str(exc).startswith(path):
                    raise
                raise ModelFileError(f"{path}: {exc}") from None
            raise ModelFileError(f"{path}: corrupt anovae model file ({type(exc).__name__}: {exc})") from None
    _check_fitted_values(path, estimator)
    return estimator


# ---- reading a hostile archive -----------------------------------------------------
#: An entry may inflate to at most this many times its compressed size (plus
#: _SMALL_ENTRY). Network weights are noise to DEFLATE (ratio about 1.1) and the JSON
#: metadata compresses about 5x; a zip bomb reaches 1000x.
MAX_RATIO = 50
_SMALL_ENTRY = 1 << 20
#: The JSON metadata is parsed in one piece, and parsing multiplies memory: cap it.
MAX_META_BYTES = 64 << 20
#: The longest ``.npy`` header numpy itself writes is far below this.
_MAX_NPY_HEADER = 1 << 16
_CHUNK = 1 << 20


def _check_entries(path, archive):
    """Return ``{name: ZipInfo}`` after checking every declared size, before inflating.

    Refused: duplicate names (which copy would be read?), an entry claiming to
    inflate beyond MAX_RATIO times its compressed size, and a total beyond
    MAX_RATIO times the file's size: so loading never needs much more memory than
    the file is large, whatever the file says.
    """
    entries = {}
    total = 0
    for info in archive.infolist():
        if info.filename in entries:
            raise ModelFileError(f"{path}: corrupt anovae model file (entry {info.filename!r} appears twice)")
        if info.file_size > MAX_RATIO * info.compress_size + _SMALL_ENTRY:
            raise ModelFileError(
                f"{path}: entry {info.filename!r} declares {info.file_size} bytes from "
                f"{info.compress_size} compressed, more than a model file holds (a zip bomb?); refused"
            )
        entries[info.filename] = info
        total += info.file_size
    limit = MAX_RATIO * os.path.getsize(path) + _SMALL_ENTRY
    if total > limit:
        raise ModelFileError(
            f"{path}: entries declare {total} bytes in all, more than a model file of this "
            "size holds (a zip bomb?); refused"
        )
    return entries


def _read_entry(path, archive, info, into=None, skip=0):
    """Inflate one entry, never past its declared size: bytes, or into a buffer.

    ``zipfile`` itself stops at the declared size; the checks here make a file
    whose data disagree with it an error rather than a silent truncation.
    """
    try:
        with archive.open(info) as stream:
            if skip:
                stream.read(skip)
            if into is None:
                data = stream.read(info.file_size - skip + 1)
                if len(data) != info.file_size - skip:
                    raise ModelFileError(f"{path}: corrupt anovae model file (entry {info.filename!r} has the wrong size)")
                return data
            view = memoryview(into.reshape(-1).view(np.uint8))
            done = 0
            while done < len(view):
                n = stream.readinto(view[done : done + _CHUNK])
                if not n:
                    break
                done += n
            if done != len(view) or stream.read(1):
                raise ModelFileError(f"{path}: corrupt anovae model file (entry {info.filename!r} has the wrong size)")
            return into
    # zipfile raises NotImplementedError for a compression method it does not know.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: corrupt anovae model file (entry {info.filename!r}: {exc})") from None


def _npy_header(path, archive, info):
    """``(shape, dtype, header_length)`` of a ``.npy`` entry, reading only its header."""
    name = info.filename
    try:
        with archive.open(info) as stream:
            head = io.BytesIO(stream.read(min(info.file_size, _MAX_NPY_HEADER)))
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise ModelFileError(f"{path}: array {name!r} refused ({exc})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufcU":
        raise ModelFileError(f"{path}: array {name!r} refused (dtype {dtype} is not plain numbers or text)")
    if fortran:
        raise ModelFileError(f"{path}: array {name!r} refused (Fortran order is never written by anovae)")
    length = head.tell()
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if length + size != info.file_size:
        raise ModelFileError(
            f"{path}: array {name!r} refused (its header says {size} bytes of data, the "
            f"entry holds {info.file_size - length})"
        )
    return tuple(shape), dtype, length


class _ArrayEntries(Mapping):
    """The ``arrays/*.npy`` entries of an open model file, inflated only when read.

    Headers are read up front (a few bytes each), so shapes can be checked before
    any data is inflated: :func:`load_module_arrays` compares each weight's shape
    with the network the metadata describes first.
    """

    def __init__(self, path, archive, entries):
        self.path, self.archive = path, archive
        self.entries = {}
        self.headers = {}
        for name, info in entries.items():
            if name.startswith(_ARRAYS) and name.endswith(".npy"):
                key = name[len(_ARRAYS) : -4]
                self.entries[key] = info
                self.headers[key] = _npy_header(path, archive, info)

    def shape(self, key):
        return self.headers[key][0]

    def __getitem__(self, key):
        info = self.entries[key]
        shape, dtype, length = self.headers[key]
        array = np.empty(shape, dtype=dtype)
        _read_entry(self.path, self.archive, info, into=array, skip=length)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            raise ModelFileError(f"{self.path}: array {info.filename!r} holds NaN or infinite values")
        return array

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)


def _positive_ints(value):
    values = value if isinstance(value, list) else [value]
    if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        return values
    return None


def _check_meta(path, meta, arrays):
    """Check the metadata of a tabular model before a network is built from it.

    Building the network allocates what the metadata claims; the file's own weights
    bound what an honest claim can be (every pair of consecutive layer widths is the
    shape of one stored weight matrix), so a file cannot make loading allocate more
    than it holds.
    """

    def bad(reason):
        return ModelFileError(f"{path}: corrupt anovae model file ({reason})")

    stored = sum(int(np.prod(arrays.shape(k), dtype=object)) for k in arrays if k.startswith("module."))
    params = meta.get("params") if isinstance(meta.get("params"), dict) else {}
    hidden = _positive_ints(params.get("hidden_layer_sizes", []))
    latent = _positive_ints(params.get("latent_dim", 1))
    codec = meta.get("codec")
    if codec is not None:
        if not isinstance(codec, list) or not all(isinstance(c, dict) for c in codec):
            raise bad("the column codec is not a list of columns")
        width = 0
        for column in codec:
            name, kind = column.get("name"), column.get("kind")
            if not isinstance(name, str):
                raise bad(f"a column has no name: {column!r:.80}")
            if kind == "categorical":
                categories = column.get("categories")
                if not isinstance(categories, list) or not categories:
                    raise bad(f"column {name!r} has no categories")
                width += len(categories)
            elif kind in ("gaussian", "bernoulli"):
                mean = column.get("mean")
                if not _finite_number(mean):
                    raise bad(f"column {name!r} has the mean {mean!r}, not a finite number")
                if kind == "bernoulli" and ("low" in column or "high" in column):
                    low, high = column.get("low"), column.get("high")
                    if not (_finite_number(low) and _finite_number(high) and low < high):
                        raise bad(f"column {name!r} has the two values {low!r} and {high!r}; "
                                  "they must be finite numbers, the first below the second")
                if kind == "gaussian":
                    scale = column.get("scale")
                    if not (_finite_number(scale) and scale > 0):
                        raise bad(f"column {name!r} has the scale {scale!r}; a scale must be a positive finite number")
                    if "power" in column:
                        power, origin, size = column.get("power"), column.get("origin"), column.get("prescale")
                        upper = column.get("upper", origin)
                        if not (_finite_number(power) and -1.0 <= power <= 1.0 and _finite_number(origin)
                                and _finite_number(size) and size > 0 and _finite_number(upper)):
                            raise bad(f"column {name!r} has an invalid power transform "
                                      f"(power {power!r}, origin {origin!r}, prescale {size!r})")
                width += 1
            else:
                raise bad(f"column {name!r} has the unknown kind {kind!r}")
        names = [c["name"] for c in codec]
        if len(set(names)) != len(names):
            raise bad("two columns have the same name")
        n_features = meta.get("n_features_in")
        if n_features != len(codec):
            raise bad(f"the metadata claims {n_features!r} features but describes {len(codec)} columns")
        feature_names = meta.get("feature_names_in")
        if feature_names is not None and feature_names != names:
            raise bad(
                f"the metadata names {len(feature_names) if isinstance(feature_names, list) else feature_names!r} "
                f"features but describes {len(codec)} columns ({', '.join(names[:5])}...)"
            )
        if hidden and width * hidden[0] > stored:
            raise bad(f"{len(codec)} columns into {hidden[0]} units need more weights than the file holds")
        # Absent from files written before blanks were calibrated: they score as then.
        offsets = meta.get("missing_offsets")
        if offsets is not None and not (
            isinstance(offsets, list) and len(offsets) == len(codec) and all(_finite_number(v) for v in offsets)
        ):
            raise bad(f"the missing-cell offsets {offsets!r:.80} are not one finite number per column")
    offset = (meta.get("extra") or {}).get("offset") if isinstance(meta.get("extra"), dict) else None
    if offset is not None and not _finite_number(offset):
        raise bad(f"the anomaly threshold is {offset!r}, not a finite number")
    if hidden is not None and latent is not None:
        widths = hidden + latent
        if max(widths) > stored or any(a * b > stored for a, b in zip(widths, widths[1:])):
            raise bad(f"layer sizes {widths} need more weights than the file holds ({stored})")


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _check_fitted_values(path, estimator):
    """Scalars a broken file could make NaN: one NaN makes every score NaN."""
    offset = getattr(estimator, "offset_", None)
    if offset is not None and not np.isfinite(offset):
        raise ModelFileError(f"{path}: corrupt anovae model file (the anomaly threshold is {offset})")


def _model_class(kind):
    """The class registered for ``kind``, or None.

    Only registered classes can be built: the file names a kind, never code. Kinds
    come from the ``register_model_classes`` hook (the core's own included), so this
    module imports no estimator and no estimator needs to be imported first.
    """
    if kind in _kinds:
        return _kinds[kind]
    from ._plugins import registrations

    found = registrations("model_classes").get(kind)
    return found.obj if found is not None else None


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
def loading_device(device):
    """The ``device`` parameter a model saved with ``device`` gets when loaded here.

    Unchanged when this machine has that device; ``"cpu"`` when it does not, so that
    a model trained on a GPU loads, and scores, where there is none.
    """
    try:
        resolve_device(device)
    except Exception:
        return "cpu"
    return device


def module_arrays(module, prefix="module."):
    return {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module, arrays, prefix="module."):
    """Load the ``prefix``-ed arrays into ``module``'s parameters (all of them, no others).

    From a model file being loaded, each array's shape is checked against the
    module, built from the metadata, before its data are inflated.
    """
    if isinstance(arrays, _ArrayEntries):
        expected = {prefix + k: tuple(v.shape) for k, v in module.state_dict().items()}
        stored = {k for k in arrays if k.startswith(prefix)}
        if stored != set(expected):
            odd = sorted(stored ^ set(expected))
            raise ModelFileError(f"{arrays.path}: corrupt anovae model file (weights {', '.join(odd[:3])} do not fit the network)")
        for key, shape in expected.items():
            if arrays.shape(key) != shape:
                raise ModelFileError(
                    f"{arrays.path}: corrupt anovae model file (array {key!r} has shape "
                    f"{arrays.shape(key)}, the network described by the metadata needs {shape})"
                )
        # Inflated into fresh arrays: no copy needed.
        state = {k[len(prefix) :]: torch.from_numpy(arrays[k]) for k in expected}
    else:
        state = {k[len(prefix) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    module.load_state_dict(state, strict=True)
    return module
