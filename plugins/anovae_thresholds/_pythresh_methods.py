"""Which PyThresh thresholders exist, found without importing this plugin's classes.

Kept apart from ``_pythresh.py`` so that registering (and ``anovae thresholds``)
needs neither scikit-learn nor NumPy.
"""

import importlib.util

# PyThresh modules whose class is the upper-cased module name and whose default
# constructor suffices. A list rather than a scan, so that registering stays cheap
# and never imports PyThresh's heavier modules.
METHODS = (
    "aucp", "boot", "chau", "clf", "dsn", "eb", "fgd", "fwfm", "gesd", "hist",
    "iqr", "karch", "mad", "mcst", "moll", "mtt", "ocsvm", "qmcd", "regr", "wind",
    "yj", "zscore",
)  # fmt: skip


def available_methods():
    """Return the names in ``METHODS`` that the installed PyThresh provides.

    An empty list when PyThresh is not installed.
    """
    try:
        import pythresh.thresholds  # noqa: F401
    except ImportError:
        return []
    return [
        name
        for name in METHODS
        if importlib.util.find_spec(f"pythresh.thresholds.{name}") is not None
    ]
