"""Loaders of the benchmark datasets, read from a local data folder.

Files are looked up as ``<data_home>/<folder>/<file>``, where ``data_home`` is the
loader's argument, else the ``ANOVAE_DATA`` environment variable, else
``~/anovae_data``. Nothing is downloaded: a missing file raises
:class:`anovae.errors.DataError` saying where it was looked for and where the data
comes from.
"""

from ._home import get_data_home
from ._images import load_frey_face, load_mnist
from ._nsl_kdd import load_nsl_kdd
from ._odds import ODDS_NAMES, load_odds

__all__ = [
    "ODDS_NAMES",
    "get_data_home",
    "load_frey_face",
    "load_mnist",
    "load_nsl_kdd",
    "load_odds",
]
