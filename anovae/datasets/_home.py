"""Where the dataset files live, and the error raised when they are not there."""

import os
from pathlib import Path

from ..errors import DataError

ENV_VAR = "ANOVAE_DATA"
DEFAULT_DATA_HOME = "~/anovae_data"


def get_data_home(data_home=None):
    """Return the folder the loaders read from, as an absolute path.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder holding one sub-folder per dataset (``nsl-kdd/``, ``odds-dev/``,
        ``adbench-large/``, ``mnist/``, ``frey-face/``). When None, the ``ANOVAE_DATA`` environment
        variable is used, and when that is unset or empty, ``~/anovae_data``.

    Returns
    -------
    pathlib.Path
        The folder; it need not exist.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_VAR) or DEFAULT_DATA_HOME
    return Path(data_home).expanduser().resolve()


def locate(folder, wanted, *, data_home, source, fetch):
    """Return the path of each wanted file in ``<data_home>/<folder>``.

    ``wanted`` is a sequence of alternatives, each a tuple of file names tried in
    order (for example ``("KDDTest+.txt.gz", "KDDTest+.txt")``). When any is absent,
    a :class:`DataError` names every missing file, the folder looked in, the command
    that downloads them (``anovae datasets fetch <fetch>``), how to point the loaders
    elsewhere and where the data originally comes from.
    """
    directory = get_data_home(data_home) / folder
    found, missing = [], []
    for names in wanted:
        path = next((directory / name for name in names if (directory / name).is_file()), None)
        if path is None:
            first, *others = names
            missing.append(first + "".join(f" (or {other})" for other in others))
        found.append(path)
    if missing:
        raise DataError(
            f"missing data file(s) {', '.join(missing)} in {directory}; run `anovae "
            f"datasets fetch {fetch}` to download them there, or set the {ENV_VAR} "
            f"environment variable (or pass data_home=) to a folder holding {folder}/; "
            f"original source: {source}"
        )
    return found
