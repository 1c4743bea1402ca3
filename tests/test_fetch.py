"""Downloading datasets (anovae.datasets.fetch_*, anovae datasets fetch) from a local server.

Every test serves files from 127.0.0.1, never the internet: the shared data folder as
a mirror, or a folder laid out like a dataset's public source.
"""

import dataclasses
import gzip
import hashlib
import json
import shutil
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner

from anovae.cli import cli
from anovae.datasets import (
    fetch_dataset,
    fetch_donors,
    fetch_frey_face,
    fetch_mnist,
    fetch_nsl_kdd,
    fetch_odds,
    get_data_home,
    load_donors,
    load_frey_face,
    load_mnist,
    load_nsl_kdd,
    load_odds,
)
from anovae.datasets import _registry
from anovae.errors import DataError
from conftest import SHARED_DATA, requires_data

HEPATITIS = "odds-dev/15_Hepatitis.npz"  # 1.6 kB: the smallest set
needs_hepatitis = requires_data(HEPATITIS)


class _Handler(SimpleHTTPRequestHandler):
    def do_GET(self):
        self.server.requested.append(self.path)
        if self.server.failures:
            self.server.failures -= 1
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder, failures=0) -> (base URL, list of requested paths)``."""
    servers = []

    def start(folder, failures=0):
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
        server.requested, server.failures = [], failures
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", server.requested

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror(serve):
    """The shared data folder, served as a mirror."""
    return serve(get_data_home())


@pytest.fixture
def no_retry_wait(monkeypatch):
    import pooch.core

    monkeypatch.setattr(pooch.core.time, "sleep", lambda seconds: None)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the registry ----------------------------------------------------------------------


def test_every_published_file_is_registered_with_its_checksum():
    home = get_data_home()
    entries = [entry for files in _registry.DATASETS.values() for entry in files]
    assert len({entry.path for entry in entries}) == len(entries)
    present = [entry for entry in entries if (home / entry.path).is_file()]
    if not present:
        pytest.skip(f"no dataset file in {home}")
    for entry in present:
        assert sha256(home / entry.path) == entry.sha256, entry.path


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no shared data folder at {SHARED_DATA}")
def test_the_registry_has_the_shared_folders_layout():
    entries = {entry.path for files in _registry.DATASETS.values() for entry in files}
    shared = {f for f in files_under(SHARED_DATA) if not f.endswith("README.md")}
    assert shared == entries


def test_group_names_expand_to_datasets():
    assert _registry.expand("odds") == tuple(f"odds:{n}" for n in _registry.ODDS_FILES)
    assert set(_registry.expand("all")) == set(_registry.DATASETS)
    assert _registry.expand("mnist") == ("mnist",) and _registry.expand("nope") is None


# --- from a mirror -----------------------------------------------------------------------


@needs_hepatitis
def test_fetch_then_load(tmp_path, mirror):
    url, requested = mirror
    [path] = fetch_odds("hepatitis", data_home=tmp_path, base_url=url)
    assert path == tmp_path / HEPATITIS
    assert path.read_bytes() == (get_data_home() / HEPATITIS).read_bytes()
    assert load_odds("hepatitis", data_home=tmp_path).data.shape == (80, 19)
    assert requested == ["/odds-dev/15_Hepatitis.npz"]
    assert path.stat().st_mode & 0o044 == 0o044  # readable by others, like any new file


@needs_hepatitis
def test_a_second_fetch_downloads_nothing(tmp_path, mirror):
    url, requested = mirror
    fetch_odds("hepatitis", data_home=tmp_path, base_url=url)
    assert fetch_odds("hepatitis", data_home=tmp_path, base_url=url) == [tmp_path / HEPATITIS]
    assert len(requested) == 1


@needs_hepatitis
def test_the_mirror_comes_from_the_environment(tmp_path, mirror, monkeypatch):
    url, requested = mirror
    monkeypatch.setenv("ANOVAE_DATA_URL", url + "/")
    monkeypatch.setenv("ANOVAE_DATA", str(tmp_path))
    fetch_odds("hepatitis")
    assert requested == ["/odds-dev/15_Hepatitis.npz"] and load_odds("hepatitis").target.sum() == 13


@needs_hepatitis
def test_a_corrupt_download_is_refused_and_leaves_nothing(tmp_path, serve):
    served = tmp_path / "served"
    (served / "odds-dev").mkdir(parents=True)
    content = bytearray((get_data_home() / HEPATITIS).read_bytes())
    content[100] ^= 0xFF
    (served / HEPATITIS).write_bytes(bytes(content))
    url, _ = serve(served)
    home = tmp_path / "home"
    with pytest.raises(DataError, match=r"^odds-dev/15_Hepatitis\.npz downloaded from .* does not "
                                        r"match its pinned checksum .*expected 4a87a2f7") as info:
        fetch_odds("hepatitis", data_home=home, base_url=url, retries=0)
    assert "\n" not in str(info.value)
    assert files_under(home) == []


def test_a_server_that_is_down_gives_one_line_naming_dataset_and_url(tmp_path):
    url = closed_port_url()
    with pytest.raises(DataError) as info:
        fetch_odds("hepatitis", data_home=tmp_path, base_url=url, retries=0)
    message = str(info.value)
    assert message.startswith(f"cannot download odds:hepatitis (odds-dev/15_Hepatitis.npz) from {url}/")
    assert "connection refused" in message and "ANOVAE_DATA_URL" in message
    assert "\n" not in message
    assert files_under(tmp_path) == []


@needs_hepatitis
def test_a_failed_transfer_is_retried(tmp_path, serve, no_retry_wait):
    url, requested = serve(get_data_home(), failures=1)
    fetch_odds("hepatitis", data_home=tmp_path, base_url=url, retries=1)
    assert len(requested) == 2 and sha256(tmp_path / HEPATITIS) == sha256(get_data_home() / HEPATITIS)


def test_without_retries_a_failed_transfer_is_an_error(tmp_path, serve):
    url, requested = serve(tmp_path, failures=1)
    with pytest.raises(DataError, match="HTTP 503"):
        fetch_odds("hepatitis", data_home=tmp_path / "home", base_url=url, retries=0)
    assert len(requested) == 1


@pytest.mark.parametrize(
    "name, path, content",
    [
        ("odds:hepatitis", HEPATITIS, b"my own file"),
        ("nsl-kdd", "nsl-kdd/KDDTest-21.txt.gz", gzip.compress(b"0,tcp,http")),
        ("frey-face", "frey-face/frey_rawface.npz", b"PK\x03\x04 not a zip archive"),
    ],
    ids=["verbatim", "gzip", "npz"],
)
def test_a_different_file_already_there_is_left_alone(tmp_path, serve, name, path, content):
    url, requested = serve(tmp_path)
    (tmp_path / path).parent.mkdir()
    (tmp_path / path).write_bytes(content)
    with pytest.raises(DataError, match=f"{path} is already there but is not the published file.*move it away"):
        fetch_dataset(name, data_home=tmp_path, base_url=url)
    assert (tmp_path / path).read_bytes() == content and requested == []


@requires_data("nsl-kdd/KDDTest-21.txt.gz")
def test_a_gzip_file_written_by_another_compressor_counts_as_there(tmp_path):
    # The same text compressed differently is the same data: no download.
    text = gzip.decompress((get_data_home() / "nsl-kdd/KDDTest-21.txt.gz").read_bytes())
    (tmp_path / "nsl-kdd").mkdir()
    (tmp_path / "nsl-kdd/KDDTest-21.txt.gz").write_bytes(gzip.compress(text, compresslevel=1))
    entry = next(e for e in _registry.DATASETS["nsl-kdd"] if e.path.endswith("KDDTest-21.txt.gz"))
    from anovae.datasets._fetch import _is_published

    assert _is_published(entry, tmp_path / entry.path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "odds:nope"}, "unknown dataset 'odds:nope'"),
        ({"base_url": "file:///tmp/data"}, "base_url must be an http"),
        ({"retries": -1}, "retries must be a non-negative integer"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    kwargs = {"name": "odds:hepatitis", **kwargs}
    with pytest.raises(ValueError, match=match):
        fetch_dataset(data_home=tmp_path, **kwargs)


def test_a_bad_mirror_in_the_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("ANOVAE_DATA_URL", "data.example.org/anovae")
    with pytest.raises(DataError, match="ANOVAE_DATA_URL must be an http"):
        fetch_odds("hepatitis", data_home=tmp_path)


@requires_data(*(entry.path for files in _registry.DATASETS.values() for entry in files))
def test_every_fetcher_fills_a_folder_like_the_shared_one(tmp_path, mirror):
    url, _ = mirror
    for fetch in (fetch_nsl_kdd, fetch_odds, fetch_donors, fetch_mnist, fetch_frey_face):
        fetch(data_home=tmp_path, base_url=url)
    home = get_data_home()
    registered = sorted(entry.path for files in _registry.DATASETS.values() for entry in files)
    assert files_under(tmp_path) == registered
    assert all(sha256(tmp_path / f) == sha256(home / f) for f in registered)
    assert load_nsl_kdd("test-21", data_home=tmp_path).data.shape == (11850, 41)
    assert load_mnist("test", data_home=tmp_path).images.shape == (10000, 28, 28)
    assert load_frey_face(data_home=tmp_path).images.shape == (1965, 28, 20)
    assert load_donors(data_home=tmp_path).data.shape == (619326, 10)


# --- from a public source that publishes another form -------------------------------------


def from_upstream(monkeypatch, dataset, url, keep):
    """Point ``dataset``'s files whose path ends with one of ``keep`` at ``url``."""
    entries = tuple(
        dataclasses.replace(entry, url=f"{url}/{entry.url.rsplit('/', 1)[1]}")
        for entry in _registry.DATASETS[dataset]
        if entry.path.endswith(keep)
    )
    monkeypatch.setitem(_registry.DATASETS, dataset, entries)


@requires_data("nsl-kdd/KDDTest-21.txt.gz", "nsl-kdd/attack_types.csv", "nsl-kdd/field_names.csv")
def test_nsl_kdd_from_its_text_files(tmp_path, serve, monkeypatch):
    shared = get_data_home() / "nsl-kdd"
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    text = gzip.decompress((shared / "KDDTest-21.txt.gz").read_bytes())
    (upstream / "KDDTest-21.txt").write_bytes(text)
    shutil.copy(shared / "field_names.csv", upstream / "Field Names.csv")
    # As published: CR line endings.
    (upstream / "Attack Types.csv").write_bytes((shared / "attack_types.csv").read_bytes().replace(b"\n", b"\r"))
    url, requested = serve(upstream)
    from_upstream(monkeypatch, "nsl-kdd", url, ("KDDTest-21.txt.gz", ".csv"))

    home = tmp_path / "home"
    fetch_nsl_kdd(data_home=home)
    assert files_under(home) == ["nsl-kdd/KDDTest-21.txt.gz", "nsl-kdd/attack_types.csv", "nsl-kdd/field_names.csv"]
    assert gzip.decompress((home / "nsl-kdd/KDDTest-21.txt.gz").read_bytes()) == text
    for name in ("attack_types.csv", "field_names.csv"):
        assert (home / "nsl-kdd" / name).read_bytes() == (shared / name).read_bytes()
    assert load_nsl_kdd("test-21", data_home=home).data.shape == (11850, 41)
    fetch_nsl_kdd(data_home=home)
    assert len(requested) == 3


@requires_data("nsl-kdd/KDDTest-21.txt.gz")
def test_a_plain_text_file_already_there_is_compressed_not_downloaded(tmp_path, monkeypatch):
    text = gzip.decompress((get_data_home() / "nsl-kdd/KDDTest-21.txt.gz").read_bytes())
    (tmp_path / "nsl-kdd").mkdir()
    (tmp_path / "nsl-kdd/KDDTest-21.txt").write_bytes(text)
    from_upstream(monkeypatch, "nsl-kdd", closed_port_url(), ("KDDTest-21.txt.gz",))
    fetch_nsl_kdd(data_home=tmp_path)
    assert files_under(tmp_path) == ["nsl-kdd/KDDTest-21.txt", "nsl-kdd/KDDTest-21.txt.gz"]


@requires_data("nsl-kdd/attack_types.csv")
def test_a_converted_file_that_comes_out_wrong_is_refused(tmp_path, serve, monkeypatch):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "Attack Types.csv").write_bytes(b"back,dos\rneptune,probe")
    url, _ = serve(upstream)
    from_upstream(monkeypatch, "nsl-kdd", url, ("attack_types.csv",))
    home = tmp_path / "home"
    with pytest.raises(DataError, match="attack_types.csv made from .* does not match its pinned checksum"):
        fetch_nsl_kdd(data_home=home, retries=0)
    assert files_under(home) == []


@requires_data("frey-face/frey_rawface.mat", "frey-face/frey_rawface.npz")
def test_frey_face_npz_is_made_from_the_mat_file(tmp_path, serve, monkeypatch):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    shutil.copy(get_data_home() / "frey-face/frey_rawface.mat", upstream)
    url, requested = serve(upstream)
    from_upstream(monkeypatch, "frey-face", url, (".mat", ".npz"))
    home = tmp_path / "home"
    fetch_frey_face(data_home=home)
    assert files_under(home) == ["frey-face/frey_rawface.mat", "frey-face/frey_rawface.npz"]
    assert requested == ["/frey_rawface.mat"]  # once, for both files
    np.testing.assert_array_equal(load_frey_face(data_home=home).images, load_frey_face().images)
    fetch_frey_face(data_home=home)
    assert len(requested) == 1


# --- loaders and the command line ----------------------------------------------------------


@pytest.mark.parametrize(
    "load, name",
    [
        (lambda home: load_nsl_kdd("test", data_home=home), "nsl-kdd"),
        (lambda home: load_odds("wdbc", data_home=home), "odds:wdbc"),
        (lambda home: load_donors(data_home=home), "donors"),
        (lambda home: load_mnist("train", data_home=home), "mnist"),
        (lambda home: load_frey_face(data_home=home), "frey-face"),
    ],
    ids=["nsl-kdd", "odds", "donors", "mnist", "frey-face"],
)
def test_a_missing_file_says_which_fetch_downloads_it(tmp_path, load, name):
    with pytest.raises(DataError, match=f"run `anovae datasets fetch {name}` to download them"):
        load(tmp_path)


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@needs_hepatitis
def test_cli_fetch(tmp_path, mirror):
    url, _ = mirror
    result = invoke("datasets", "fetch", "odds:hepatitis", "--data-home", str(tmp_path), "--base-url", url)
    assert result.exit_code == 0, result.output
    assert f"odds-dev/15_Hepatitis.npz: downloading {url}/odds-dev/15_Hepatitis.npz" in result.stderr
    assert "odds:hepatitis: 1 file(s) in" in result.stderr
    result = invoke("datasets", "fetch", "odds:hepatitis", "--data-home", str(tmp_path), "--base-url", url)
    assert "already there, checksum verified" in result.stderr


def test_cli_fetch_offline_is_one_line_and_exit_1(tmp_path):
    url = closed_port_url()
    result = invoke("datasets", "fetch", "mnist", "--data-home", str(tmp_path), "--base-url", url, "--retries", "0")
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot download mnist (mnist/train-images-idx3-ubyte.gz) from {url}/")
    assert "Traceback" not in result.stderr
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "args, match",
    [
        (["odds:cardo"], "unknown dataset 'odds:cardo'; did you mean 'odds:cardio'?"),
        (["mnist", "--base-url", "ftp:/nowhere"], "not an http(s) or ftp URL"),
        (["mnist", "--retries", "-1"], "-1 is not in the range"),
        ([], "Missing argument 'NAME...'"),
    ],
    ids=["unknown-name", "bad-url", "bad-retries", "no-name"],
)
def test_cli_fetch_usage_errors(args, match):
    result = invoke("datasets", "fetch", *args)
    assert result.exit_code == 2
    assert match in result.stderr


def test_cli_datasets_still_lists_and_says_how_to_fetch():
    result = invoke("datasets")
    assert result.exit_code == 0 and "nsl-kdd" in result.stdout
    assert "anovae datasets fetch NAME" in result.stdout
    assert any(row["name"] == "donors" for row in json.loads(invoke("datasets", "--json").stdout))

