"""Loaders of the benchmark datasets, read from a local data folder, and their fetchers.

Files are looked up as ``<data_home>/<folder>/<file>``, where ``data_home`` is the
loader's argument, else the ``ANOVAE_DATA`` environment variable, else
``~/anovae_data``. Loaders never download: a missing file raises
:class:`anovae.errors.DataError` saying where it was looked for and which
``anovae datasets fetch NAME`` downloads it. The ``fetch_*`` functions download a
dataset's files from their public sources (or a mirror: ``ANOVAE_DATA_URL``) into
that folder, each checked against its pinned SHA-256. :func:`load_dataset` loads any
dataset a plugin registered, by name.

The loaders are imported on first use (PEP 562), so that a plugin can name them
without loading NumPy and pandas.
"""

import importlib

__all__ = [
    "ODDS_NAMES",
    "fetch_dataset",
    "fetch_donors",
    "fetch_frey_face",
    "fetch_mnist",
    "fetch_nsl_kdd",
    "fetch_odds",
    "get_data_home",
    "load_dataset",
    "load_donors",
    "load_frey_face",
    "load_mnist",
    "load_nsl_kdd",
    "load_odds",
]

# public name -> module that defines it
_LAZY = {
    "get_data_home": "._home",
    "load_frey_face": "._images",
    "load_mnist": "._images",
    "load_nsl_kdd": "._nsl_kdd",
    "ODDS_NAMES": "._registry",
    "load_odds": "._odds",
    "load_donors": "._odds",
    "fetch_dataset": "._fetch",
    "fetch_donors": "._fetch",
    "fetch_frey_face": "._fetch",
    "fetch_mnist": "._fetch",
    "fetch_nsl_kdd": "._fetch",
    "fetch_odds": "._fetch",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load_dataset(name, *, data_home=None, **kwargs):
    """Load a dataset registered by a plugin (``anovae datasets`` lists them).

    Parameters
    ----------
    name : str
        Registered name, such as ``"nsl-kdd"`` or ``"odds:cardio"``.
    data_home : str or path-like, default=None
        Folder holding the files; see :func:`get_data_home`.
    **kwargs
        Passed to the dataset's loader.

    Returns
    -------
    sklearn.utils.Bunch
        What the loader returns.

    Raises
    ------
    anovae.errors.PluginError
        No plugin registers ``name`` (the message suggests the closest name).
    anovae.errors.DataError
        The dataset's files are missing from the data folder.
    """
    from .._plugins import lookup

    return lookup("datasets", name)(data_home=data_home, **kwargs)
