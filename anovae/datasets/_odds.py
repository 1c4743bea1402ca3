"""Tabular anomaly benchmarks of the ODDS library, in ADBench's ``.npz`` packaging."""

import numpy as np
from sklearn.utils import Bunch

from ..errors import DataError
from ._home import locate

FOLDER = "odds-dev"
SOURCE = (
    "ODDS library (S. Rayana, Stony Brook University, https://odds.cs.stonybrook.edu), "
    "as packaged by ADBench (https://github.com/Minqi824/ADBench, "
    "adbench/datasets/Classical)"
)
_FILES = {
    "cardio": "6_cardio.npz",
    "pageblocks": "27_PageBlocks.npz",
    "pendigits": "28_pendigits.npz",
    "satellite": "30_satellite.npz",
    "thyroid": "38_thyroid.npz",
    "fault": "12_fault.npz",
    "hepatitis": "15_Hepatitis.npz",
    "internetads": "17_InternetAds.npz",
    "magic.gamma": "22_magic.gamma.npz",
    "spambase": "35_SpamBase.npz",
    "stamps": "37_Stamps.npz",
    "waveform": "41_Waveform.npz",
    "wdbc": "43_WDBC.npz",
    "wpbc": "46_WPBC.npz",
    "yeast": "47_yeast.npz",
}
ODDS_NAMES = tuple(_FILES)

_DESCR = """\
File: {file} ({rows} rows, {cols} features, {anomalies} anomalies). ``target`` is 1 for an
anomaly and 0 for an inlier; the features are raw and unscaled.

References
----------
S. Rayana, "ODDS Library", Stony Brook University, 2016. https://odds.cs.stonybrook.edu
S. Han, X. Hu, H. Huang, M. Jiang, Y. Zhao, "ADBench: Anomaly Detection Benchmark",
NeurIPS 2022 (Datasets and Benchmarks).
"""


def load_odds(name, data_home=None):
    """Load one ODDS tabular anomaly benchmark.

    Parameters
    ----------
    name : str
        The benchmark, one of ``ODDS_NAMES``: the original five development sets
        ("cardio", "pageblocks", "pendigits", "satellite", "thyroid") and ten more
        ("fault", "hepatitis", "internetads", "magic.gamma", "spambase", "stamps",
        "waveform", "wdbc", "wpbc", "yeast").
    data_home : str or path-like, default=None
        Folder holding ``odds-dev/``; see :func:`get_data_home`.

    Returns
    -------
    sklearn.utils.Bunch
        ``data`` (float64 array of shape (n_samples, n_features)), ``target`` (int64
        array, 1 for an anomaly), ``name`` and ``DESCR``.

    Raises
    ------
    ValueError
        If ``name`` is not a known benchmark.
    anovae.errors.DataError
        If the file is missing or is not a valid benchmark file.
    """
    if name not in _FILES:
        raise ValueError(
            f"The 'name' parameter of load_odds must be a str among "
            f"{{{', '.join(map(repr, ODDS_NAMES))}}}. Got {name!r} instead."
        )
    (path,) = locate(FOLDER, [(_FILES[name],)], data_home=data_home, source=SOURCE)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path} as an .npz archive: {exc}") from None
    missing = sorted({"X", "y"} - set(arrays))
    if missing:
        raise DataError(
            f"{path} lacks the array(s) {', '.join(missing)}; an ODDS file holds X and y"
        )
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise DataError(f"{path} holds X of shape {X.shape} and y of shape {y.shape}; "
                        f"expected (n, d) and (n,)")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path} has labels other than 0 and 1")
    data = X.astype(np.float64)
    target = y.astype(np.int64)
    title = f"ODDS {name} anomaly-detection benchmark"
    descr = f"{title}\n{'=' * len(title)}\n\n" + _DESCR.format(
        file=path.name, rows=data.shape[0], cols=data.shape[1], anomalies=int(target.sum())
    )
    return Bunch(data=data, target=target, name=name, DESCR=descr)
