"""Downloading the datasets into the data folder, each file checked by its SHA-256.

Downloads go through pooch: into a temporary file beside the target, moved into
place only once its checksum matches, retried on a failed connection or a corrupt
transfer. A file already in the data folder is kept if it is the published one and
never overwritten if it is not; a failed download leaves nothing behind.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

from ..errors import DataError
from ._conversions import CONVERSIONS, content_sha256, file_sha256
from ._home import get_data_home
from ._registry import DATASETS, GROUPS, expand

URL_ENV_VAR = "ANOVAE_DATA_URL"
DEFAULT_RETRIES = 2
_SCHEMES = ("http", "https", "ftp")


def fetch_dataset(name, *, data_home=None, base_url=None, retries=DEFAULT_RETRIES, report=None):
    """Download a dataset's files into the data folder, unless they are there already.

    Parameters
    ----------
    name : str
        ``"nsl-kdd"``, ``"odds:<name>"``, ``"odds"`` (all fifteen), ``"donors"``,
        ``"mnist"``, ``"frey-face"`` or ``"all"``.
    data_home : str or path-like, default=None
        The data folder; see :func:`get_data_home`. Created if needed.
    base_url : str, default=None
        A mirror laid out like the data folder (``<base_url>/nsl-kdd/...``), used
        instead of each file's public source. When None, the ``ANOVAE_DATA_URL``
        environment variable, when set.
    retries : int, default=2
        How many more times a failed or corrupt download is tried.
    report : callable, default=None
        Called with a line of progress for each file.

    Returns
    -------
    list of pathlib.Path
        Every file of the dataset, in the data folder.

    Raises
    ------
    ValueError
        If ``name`` is unknown, ``base_url`` is not an http(s) or ftp URL, or
        ``retries`` is negative.
    anovae.errors.DataError
        If a download fails (the message names the dataset, the file and the URL),
        a downloaded file does not match its checksum (nothing is written), or a file
        already in the data folder is not the published one (it is left as it is).
    """
    names = expand(name)
    if names is None:
        known = ", ".join([*DATASETS, *GROUPS])
        raise ValueError(f"unknown dataset {name!r}; known: {known}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    mirror = _mirror(base_url)
    home = get_data_home(data_home)
    report = report or (lambda line: None)
    paths = []
    for one in names:
        paths += _fetch_files(one, DATASETS[one], home, mirror, retries, report)
    return paths


def fetch_nsl_kdd(*, data_home=None, base_url=None, retries=DEFAULT_RETRIES):
    """Download NSL-KDD (four data files, field names, attack types) for :func:`load_nsl_kdd`.

    The text files are kept gzip-compressed, as ``<data_home>/nsl-kdd/KDDTrain+.txt.gz``
    and so on. Parameters, return value and errors as in :func:`fetch_dataset`.
    """
    return fetch_dataset("nsl-kdd", data_home=data_home, base_url=base_url, retries=retries)


def fetch_odds(name=None, *, data_home=None, base_url=None, retries=DEFAULT_RETRIES):
    """Download one ODDS benchmark (``name`` in ``ODDS_NAMES``), or all fifteen (None).

    Into ``<data_home>/odds-dev/``, for :func:`load_odds`. Other parameters, return
    value and errors as in :func:`fetch_dataset`.
    """
    return fetch_dataset(
        "odds" if name is None else f"odds:{name}",
        data_home=data_home, base_url=base_url, retries=retries,
    )


def fetch_donors(*, data_home=None, base_url=None, retries=DEFAULT_RETRIES):
    """Download the 619k-row KDD Cup 2014 donors set (ADBench) for :func:`load_donors`.

    Into ``<data_home>/adbench-large/11_donors.npz`` (2.9 MB). Parameters, return
    value and errors as in :func:`fetch_dataset`.
    """
    return fetch_dataset("donors", data_home=data_home, base_url=base_url, retries=retries)


def fetch_mnist(*, data_home=None, base_url=None, retries=DEFAULT_RETRIES):
    """Download the four MNIST IDX files (11.6 MB) for :func:`load_mnist`.

    Parameters, return value and errors as in :func:`fetch_dataset`.
    """
    return fetch_dataset("mnist", data_home=data_home, base_url=base_url, retries=retries)


def fetch_frey_face(*, data_home=None, base_url=None, retries=DEFAULT_RETRIES):
    """Download Frey Face for :func:`load_frey_face`: the original ``.mat`` and its ``.npz``.

    From the public source the ``.npz`` is made from the ``.mat`` (this needs SciPy,
    which scikit-learn installs). Parameters, return value and errors as in
    :func:`fetch_dataset`.
    """
    return fetch_dataset("frey-face", data_home=data_home, base_url=base_url, retries=retries)


# ---- checks -------------------------------------------------------------------------


def _is_published(entry, path):
    """Whether the file at ``path`` is the published ``entry``."""
    if file_sha256(path) == entry.sha256:
        return True
    if entry.content_sha256 is None:
        return False
    return content_sha256(entry.convert, path) == entry.content_sha256


# ---- downloading --------------------------------------------------------------------


def is_mirror_url(url):
    """Whether ``url`` can be a mirror's base URL: http, https or ftp, with a host."""
    parts = urlsplit(url)
    return parts.scheme in _SCHEMES and bool(parts.netloc)


def _mirror(base_url):
    """The mirror's base URL ending in ``/``, or None for the public sources."""
    origin = "base_url"
    if base_url is None:
        base_url, origin = os.environ.get(URL_ENV_VAR) or None, URL_ENV_VAR
    if base_url is None:
        return None
    if not is_mirror_url(base_url):
        message = f"{origin} must be an http(s) or ftp URL of a mirror, got {base_url!r}"
        raise (DataError if origin == URL_ENV_VAR else ValueError)(message)
    return base_url.rstrip("/") + "/"


def _reason(exc):
    """Why a request failed, in a few words."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".strip()
    if isinstance(exc, requests.Timeout):
        return "timed out"
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    if found:
        return found.group(1).strip().rstrip(".").lower()
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    return type(exc).__name__


@contextlib.contextmanager
def _quiet_pooch():
    # pooch logs each download on stderr by itself; progress is the caller's to show.
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield pooch
    finally:
        logger.setLevel(level)


def _download(pooch, folder, key, url, sha256, *, dataset, path, retries):
    """Download ``url`` to ``folder / key``, checked against ``sha256`` (None: unchecked)."""
    import requests

    fetcher = pooch.create(
        path=folder,
        base_url="",
        registry={key: None if sha256 is None else f"sha256:{sha256}"},
        urls={key: url},
        retry_if_failed=retries,
        allow_updates=False,
    )
    try:
        return Path(fetcher.fetch(key))
    except requests.RequestException as exc:
        raise DataError(
            f"cannot download {dataset} ({path}) from {url}: {_reason(exc)}; check the "
            f"network connection, or set {URL_ENV_VAR} (--base-url) to a mirror"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot write {path} in {folder}: {exc.strerror or exc}") from None
    except ValueError as exc:
        got = re.search(r"got (?:sha256:)?([0-9a-f]{64})", str(exc))
        raise DataError(
            f"{path} downloaded from {url} does not match its pinned checksum (sha256 "
            f"{got.group(1) if got else 'different'}, expected {sha256}): refused, nothing "
            f"was written"
        ) from None


def _publish_mode(path):
    # pooch writes through a temporary file only its owner can read; a data folder is
    # usually shared, so the file gets the permissions of any new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _fetch_files(dataset, entries, home, mirror, retries, report):
    paths = [home / entry.path for entry in entries]
    missing = []
    for entry, path in zip(entries, paths):
        if not os.path.lexists(path):
            missing.append(entry)
        elif path.is_file() and _is_published(entry, path):
            report(f"{entry.path}: already there, checksum verified")
        else:
            raise DataError(
                f"{path} is already there but is not the published file (its SHA-256 "
                f"differs); left as it is: move it away, then fetch {dataset} again"
            )
    if not missing:
        return paths
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {home}: {exc.strerror or exc}") from None
    with _quiet_pooch() as pooch:
        for entry in missing:
            target = home / entry.path
            if mirror is not None or entry.convert is None:
                url = entry.url if mirror is None else mirror + quote(entry.path)
                report(f"{entry.path}: downloading {url}")
                _download(pooch, home, entry.path, url, entry.sha256,
                          dataset=dataset, path=entry.path, retries=retries)
                _publish_mode(target)
            else:
                _fetch_converted(pooch, dataset, entry, home, retries, report)
    return paths


def _fetch_converted(pooch, dataset, entry, home, retries, report):
    """Download ``entry``'s source (unless the data folder holds it), convert, check."""
    from ..tables import atomic_path

    target = home / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    local = home / entry.source_path if entry.source_path else None
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as scratch:
        if local is not None and local.is_file() and file_sha256(local) == entry.url_sha256:
            report(f"{entry.path}: made from {entry.source_path}, already there")
            source = local
        else:
            report(f"{entry.path}: downloading {entry.url}")
            source = _download(pooch, scratch, "source", entry.url, entry.url_sha256,
                               dataset=dataset, path=entry.path, retries=retries)
        with atomic_path(target, replace=False) as tmp:
            CONVERSIONS[entry.convert](source, tmp)
            made = file_sha256(tmp)
            if made != entry.sha256 and (
                entry.content_sha256 is None
                or content_sha256(entry.convert, tmp) != entry.content_sha256
            ):
                raise DataError(
                    f"{entry.path} made from {entry.url} does not match its pinned checksum "
                    f"(sha256 {made}, expected {entry.sha256}): refused, nothing was written"
                )
