"""Tabular anomaly benchmarks in ADBench's ``.npz`` packaging: ODDS, and the donors set."""

import numpy as np
from sklearn.utils import Bunch

from ..errors import DataError
from ._home import locate
from ._registry import DONORS_FILE, ODDS_FILES, ODDS_NAMES

FOLDER = "odds-dev"
DONORS_FOLDER = "adbench-large"
SOURCE = (
    "ODDS library (S. Rayana, Stony Brook University, https://odds.cs.stonybrook.edu), "
    "as packaged by ADBench (https://github.com/Minqi824/ADBench, "
    "adbench/datasets/Classical)"
)
DONORS_SOURCE = (
    "KDD Cup 2014 \"DonorsChoose\", as packaged by ADBench "
    "(https://github.com/Minqi824/ADBench, adbench/datasets/Classical/11_donors.npz)"
)
_FILES = {name: file for name, (file, _) in ODDS_FILES.items()}

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
    (path,) = locate(
        FOLDER, [(_FILES[name],)], data_home=data_home, source=SOURCE, fetch=f"odds:{name}"
    )
    data, target = _read_benchmark(path)
    title = f"ODDS {name} anomaly-detection benchmark"
    descr = f"{title}\n{'=' * len(title)}\n\n" + _DESCR.format(
        file=path.name, rows=data.shape[0], cols=data.shape[1], anomalies=int(target.sum())
    )
    return Bunch(data=data, target=target, name=name, DESCR=descr)


def load_donors(data_home=None):
    """Load the KDD Cup 2014 donors set: 619,326 rows, 10 features, 5.9% anomalies.

    A real table of hundreds of thousands of rows (projects of DonorsChoose.org,
    anomalies being those flagged as exciting), for speed, memory and scale-out work,
    read from ``<data_home>/adbench-large/11_donors.npz`` (``anovae datasets fetch
    donors`` downloads it).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``adbench-large/``; see :func:`get_data_home`.

    Returns
    -------
    sklearn.utils.Bunch
        ``data`` (float64 array of shape (619326, 10)), ``target`` (int64 array, 1 for
        an anomaly), ``name`` ("donors") and ``DESCR``.

    Raises
    ------
    anovae.errors.DataError
        If the file is missing or is not a valid benchmark file.

    References
    ----------
    S. Han, X. Hu, H. Huang, M. Jiang, Y. Zhao, "ADBench: Anomaly Detection Benchmark",
    NeurIPS 2022 (Datasets and Benchmarks).
    """
    (path,) = locate(
        DONORS_FOLDER, [(DONORS_FILE[0],)], data_home=data_home, source=DONORS_SOURCE,
        fetch="donors",
    )
    data, target = _read_benchmark(path)
    descr = (
        f"KDD Cup 2014 donors set\n=======================\n\nFile: {path.name} "
        f"({data.shape[0]} rows, {data.shape[1]} features, {int(target.sum())} anomalies). "
        f"``target`` is 1 for an anomaly (a project flagged as exciting).\n\n"
        f"Source: {DONORS_SOURCE}. Cite ADBench (Han et al., NeurIPS 2022)."
    )
    return Bunch(data=data, target=target, name="donors", DESCR=descr)


def _read_benchmark(path):
    """``X`` as float64 and ``y`` as int64 from an ADBench ``.npz`` file, checked."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path} as an .npz archive: {exc}") from None
    missing = sorted({"X", "y"} - set(arrays))
    if missing:
        raise DataError(
            f"{path} lacks the array(s) {', '.join(missing)}; an ADBench file holds X and y"
        )
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise DataError(f"{path} holds X of shape {X.shape} and y of shape {y.shape}; "
                        f"expected (n, d) and (n,)")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path} has labels other than 0 and 1")
    return X.astype(np.float64), y.astype(np.int64)
