"""Dataset loaders (anovae.datasets) and the built-in plugin that registers them."""

import csv
import gzip
import importlib
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from anovae._plugins import get_plugin_manager, lookup, registrations
from anovae.datasets import (
    ODDS_NAMES,
    get_data_home,
    load_frey_face,
    load_mnist,
    load_nsl_kdd,
    load_odds,
)
from anovae.errors import DataError
from conftest import requires_data

ROOT = Path(__file__).resolve().parents[1]
SYMBOLIC = ["protocol_type", "service", "flag"]


def nsl_row(attack="normal", duration="0"):
    return ",".join([duration, "tcp", "http", "SF", *["0"] * 37, attack, "21"])


def write_nsl(folder, text, name="KDDTest+.txt"):
    (folder / "nsl-kdd").mkdir(parents=True, exist_ok=True)
    path = folder / "nsl-kdd" / name
    path.write_text(text)
    return path


# --- data home -------------------------------------------------------------------------


def test_data_home_argument_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANOVAE_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == (tmp_path / "arg").resolve()


def test_data_home_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANOVAE_DATA", str(tmp_path))
    assert get_data_home() == tmp_path.resolve()
    with pytest.raises(DataError, match="38_thyroid.npz") as info:
        load_odds("thyroid")
    assert str(tmp_path.resolve() / "odds-dev") in str(info.value)


def test_data_home_default_is_in_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ANOVAE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path.resolve() / "anovae_data"


# --- NSL-KDD -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nsl_train():
    return load_nsl_kdd("train")


@pytest.fixture(scope="module")
def nsl_test():
    return load_nsl_kdd("test")


@requires_data("nsl-kdd/KDDTest+.txt.gz")
def test_nsl_kdd_test_category_counts(nsl_test):
    counts = nsl_test.target.value_counts().to_dict()
    assert counts == {"normal": 9711, "DoS": 7458, "Probe": 2421, "R2L": 2754, "U2R": 200}
    assert list(nsl_test.target.cat.categories) == nsl_test.target_names
    assert nsl_test.attack.nunique() == 38  # normal and 37 attacks


@requires_data("nsl-kdd/KDDTrain+.txt.gz")
def test_nsl_kdd_train_shape_and_dtypes(nsl_train):
    data = nsl_train.data
    assert data.shape == (125973, 41)
    assert list(data.columns) == nsl_train.feature_names
    for column in SYMBOLIC:
        assert isinstance(data[column].dtype, pd.CategoricalDtype)
    assert all(pd.api.types.is_numeric_dtype(data[c]) for c in data.columns.drop(SYMBOLIC))
    assert sorted(data["protocol_type"].cat.categories) == ["icmp", "tcp", "udp"]
    assert data["service"].nunique() == 70 and data["flag"].nunique() == 11
    assert (nsl_train.target != "normal").mean() == pytest.approx(0.4654, abs=1e-4)
    assert nsl_train.difficulty.between(0, 21).all()
    assert nsl_train.frame.shape == (125973, 44)


@requires_data("nsl-kdd/field_names.csv", "nsl-kdd/KDDTest+.txt.gz")
def test_nsl_kdd_builtin_names_match_field_names_csv(nsl_test):
    with open(get_data_home() / "nsl-kdd" / "field_names.csv", newline="") as stream:
        rows = list(csv.reader(stream))
    assert nsl_test.feature_names == [name for name, _ in rows]
    assert SYMBOLIC == [name for name, kind in rows if kind == "symbolic"]


@pytest.mark.parametrize(
    "subset, rows",
    [
        pytest.param("train-20", 25192, marks=requires_data("nsl-kdd/KDDTrain+_20Percent.txt.gz")),
        pytest.param("test-21", 11850, marks=requires_data("nsl-kdd/KDDTest-21.txt.gz")),
    ],
)
def test_nsl_kdd_other_subsets_load(subset, rows):
    bunch = load_nsl_kdd(subset)
    assert bunch.data.shape == (rows, 41)
    assert bunch.target.notna().all()


@requires_data("nsl-kdd/KDDTest+.txt.gz")
def test_nsl_kdd_as_arrays():
    bunch = load_nsl_kdd("test", as_frame=False)
    assert isinstance(bunch.data, np.ndarray) and bunch.data.shape == (22544, 41)
    assert bunch.data[0, 1] == "tcp"
    assert isinstance(bunch.target, np.ndarray) and (bunch.target == "U2R").sum() == 200
    assert isinstance(bunch.attack, np.ndarray) and bunch.difficulty.dtype == np.int64
    assert bunch.frame is None


def test_nsl_kdd_unknown_subset():
    with pytest.raises(ValueError, match="'subset' parameter of load_nsl_kdd.*'train-20'"):
        load_nsl_kdd("validation")


def test_nsl_kdd_missing_file_message(tmp_path):
    with pytest.raises(DataError) as info:
        load_nsl_kdd("train", data_home=tmp_path)
    message = str(info.value)
    assert "KDDTrain+.txt.gz" in message
    assert str(tmp_path.resolve() / "nsl-kdd") in message
    assert "ANOVAE_DATA" in message and "data_home" in message and "UNB" in message
    assert "\n" not in message


def test_nsl_kdd_reads_plain_text(tmp_path):
    write_nsl(tmp_path, f"{nsl_row()}\n{nsl_row('snmpgetattack')}\n")
    bunch = load_nsl_kdd("test", data_home=tmp_path)
    assert bunch.data.shape == (2, 41)
    assert list(bunch.target) == ["normal", "R2L"]


@pytest.mark.parametrize(
    "text, match",
    [
        (f"{nsl_row()}\n{nsl_row('zzz_attack')}\n", "unknown category: zzz_attack"),
        (f"{nsl_row(duration='long')}\n", "'duration' holds non-numeric"),
        (f"{nsl_row()},extra\n", "has 44 columns"),
        (f"{nsl_row()}\n{nsl_row()},extra\n", "cannot read"),
        ("", "cannot read"),
    ],
    ids=["unknown-attack", "non-numeric", "extra-column", "ragged-rows", "empty"],
)
def test_nsl_kdd_bad_file(tmp_path, text, match):
    write_nsl(tmp_path, text)
    with pytest.raises(DataError, match=match):
        load_nsl_kdd("test", data_home=tmp_path)


def test_nsl_kdd_corrupt_gzip(tmp_path):
    (tmp_path / "nsl-kdd").mkdir()
    (tmp_path / "nsl-kdd" / "KDDTest+.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        load_nsl_kdd("test", data_home=tmp_path)


# --- ODDS ----------------------------------------------------------------------------

ODDS_SIZES = {  # file, rows, features, anomalies (odds-dev/README.md)
    "cardio": ("6_cardio.npz", 1831, 21, 176),
    "pageblocks": ("27_PageBlocks.npz", 5393, 10, 510),
    "pendigits": ("28_pendigits.npz", 6870, 16, 156),
    "satellite": ("30_satellite.npz", 6435, 36, 2036),
    "thyroid": ("38_thyroid.npz", 3772, 6, 93),
    "fault": ("12_fault.npz", 1941, 27, 673),
    "hepatitis": ("15_Hepatitis.npz", 80, 19, 13),
    "internetads": ("17_InternetAds.npz", 1966, 1555, 368),
    "magic.gamma": ("22_magic.gamma.npz", 19020, 10, 6688),
    "spambase": ("35_SpamBase.npz", 4207, 57, 1679),
    "stamps": ("37_Stamps.npz", 340, 9, 31),
    "waveform": ("41_Waveform.npz", 3443, 21, 100),
    "wdbc": ("43_WDBC.npz", 367, 30, 10),
    "wpbc": ("46_WPBC.npz", 198, 33, 47),
    "yeast": ("47_yeast.npz", 1484, 8, 507),
}


def test_odds_names():
    assert ODDS_NAMES == tuple(ODDS_SIZES)


@pytest.mark.parametrize(
    "name, rows, cols, anomalies",
    [
        pytest.param(name, *sizes, marks=requires_data(f"odds-dev/{file}"), id=name)
        for name, (file, *sizes) in ODDS_SIZES.items()
    ],
)
def test_odds_shapes_and_anomaly_counts(name, rows, cols, anomalies):
    bunch = load_odds(name)
    assert bunch.data.shape == (rows, cols) and bunch.data.dtype == np.float64
    assert bunch.target.dtype == np.int64 and set(np.unique(bunch.target)) == {0, 1}
    assert bunch.target.sum() == anomalies
    assert bunch.name == name


def test_odds_unknown_name():
    with pytest.raises(ValueError, match="'name' parameter of load_odds.*'thyroid'"):
        load_odds("kddcup")


def test_odds_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"6_cardio\.npz.*ADBench"):
        load_odds("cardio", data_home=tmp_path)


@pytest.mark.parametrize(
    "arrays, match",
    [
        (None, "cannot read"),
        ({"X": np.zeros((3, 2))}, r"lacks the array\(s\) y"),
        ({"X": np.zeros((3, 2)), "y": np.array([0, 1, 2])}, "labels other than 0 and 1"),
        ({"X": np.zeros(3), "y": np.array([0, 1, 0])}, "shape"),
    ],
    ids=["not-npz", "no-y", "bad-labels", "1d-X"],
)
def test_odds_bad_file(tmp_path, arrays, match):
    path = tmp_path / "odds-dev" / "38_thyroid.npz"
    path.parent.mkdir()
    if arrays is None:
        path.write_bytes(b"garbage")
    else:
        with open(path, "wb") as stream:
            np.savez(stream, **arrays)
    with pytest.raises(DataError, match=match):
        load_odds("thyroid", data_home=tmp_path)


# --- MNIST ---------------------------------------------------------------------------


@requires_data("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz")
def test_mnist_train():
    bunch = load_mnist("train")
    assert bunch.images.shape == (60000, 28, 28) and bunch.images.dtype == np.uint8
    assert bunch.data.shape == (60000, 784)
    expected = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(bunch.target).tolist() == expected


@requires_data("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz")
def test_mnist_test():
    bunch = load_mnist("test")
    assert bunch.images.shape == (10000, 28, 28)
    assert bunch.target.min() == 0 and bunch.target.max() == 9
    bunch.images[0, 0, 0] = 1  # a writable array, not a view of the file buffer


def idx_bytes(magic, shape, payload=None):
    body = bytes(int(np.prod(shape))) if payload is None else payload
    return struct.pack(f">{len(shape) + 1}I", magic, *shape) + body


def write_mnist(folder, images, labels, compress=True):
    (folder / "mnist").mkdir(exist_ok=True)
    for stem, content in [("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)]:
        if compress:
            (folder / "mnist" / f"{stem}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / "mnist" / stem).write_bytes(content)


def test_mnist_reads_uncompressed_idx(tmp_path):
    write_mnist(tmp_path, idx_bytes(2051, (2, 28, 28)), idx_bytes(2049, (2,), b"\x03\x07"), False)
    bunch = load_mnist("test", data_home=tmp_path)
    assert bunch.images.shape == (2, 28, 28) and bunch.target.tolist() == [3, 7]


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (None, idx_bytes(2049, (2,)), "cannot read"),  # not gzip data
        (idx_bytes(2049, (2,)), idx_bytes(2049, (2,)), "magic number 2049, expected 2051"),
        (idx_bytes(2051, (2, 28, 28))[:-5], idx_bytes(2049, (2,)), "header announces"),
        (b"\x00\x00", idx_bytes(2049, (2,)), "too short"),
        (idx_bytes(2051, (2, 28, 28)), idx_bytes(2049, (3,)), "3 labels"),
    ],
    ids=["not-gzip", "labels-as-images", "truncated", "no-header", "count-mismatch"],
)
def test_mnist_corrupt_file(tmp_path, images, labels, match):
    write_mnist(tmp_path, b"", labels)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b garbage" if images is None else gzip.compress(images))
    with pytest.raises(DataError, match=match):
        load_mnist("test", data_home=tmp_path)


def test_mnist_missing_files_named(tmp_path):
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*t10k-labels.*yann.lecun"):
        load_mnist("test", data_home=tmp_path)


def test_mnist_unknown_subset():
    with pytest.raises(ValueError, match="'subset' parameter of load_mnist"):
        load_mnist("validation")


# --- Frey Face -----------------------------------------------------------------------


@requires_data("frey-face/frey_rawface.npz")
def test_frey_face():
    bunch = load_frey_face()
    assert bunch.images.shape == (1965, 28, 20) and bunch.images.dtype == np.uint8
    assert bunch.images.min() == 8 and bunch.images.max() == 238
    assert bunch.data.shape == (1965, 560)


@requires_data("frey-face/frey_rawface.npz", "frey-face/frey_rawface.mat")
def test_frey_face_mat_fallback_matches_npz(tmp_path):
    (tmp_path / "frey-face").mkdir()
    (tmp_path / "frey-face" / "frey_rawface.mat").symlink_to(
        get_data_home() / "frey-face" / "frey_rawface.mat"
    )
    from_mat = load_frey_face(data_home=tmp_path).images
    np.testing.assert_array_equal(from_mat, load_frey_face().images)


@pytest.mark.parametrize(
    "file, content, match",
    [
        ("frey_rawface.npz", b"garbage", "cannot read"),
        ("frey_rawface.mat", b"garbage", "cannot read"),
        ("frey_rawface.npz", {"X": np.zeros((3, 560))}, "float64 pixels"),
        ("frey_rawface.npz", {"Y": np.zeros((3, 560), np.uint8)}, "lacks the array 'X'"),
        ("frey_rawface.mat", {"gg": np.zeros((560, 3), np.uint8)}, "lacks the variable 'ff'"),
    ],
    ids=["not-npz", "not-mat", "float-pixels", "no-X", "no-ff"],
)
def test_frey_face_bad_file(tmp_path, file, content, match):
    path = tmp_path / "frey-face" / file
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".mat":
        savemat(path, content)
    else:
        with open(path, "wb") as stream:
            np.savez(stream, **content)
    with pytest.raises(DataError, match=match):
        load_frey_face(data_home=tmp_path)


def test_frey_face_missing(tmp_path):
    with pytest.raises(DataError, match=r"frey_rawface\.npz \(or frey_rawface\.mat\).*roweis"):
        load_frey_face(data_home=tmp_path)


# --- plugin --------------------------------------------------------------------------


@pytest.fixture
def datasets_plugin(monkeypatch):
    """The built-in plugin, registered as its entry point would register it."""
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    plugin = importlib.import_module("anovae_datasets")
    manager = get_plugin_manager()
    registered_here = manager.get_plugin("datasets") is None
    if registered_here:
        manager.register(plugin, name="datasets")
    yield plugin
    if registered_here:
        manager.unregister(name="datasets")


def test_plugin_registers_tabular_datasets(datasets_plugin):
    found = registrations("datasets")
    expected = {"nsl-kdd", *(f"odds:{name}" for name in ODDS_NAMES)}
    assert expected <= set(found)
    assert all(found[name].plugin == "datasets" for name in expected)
    assert "Tavallaee" in found["nsl-kdd"].meta["description"]
    assert found["nsl-kdd"].obj is load_nsl_kdd


def test_plugin_loader_binds_odds_name(datasets_plugin, tmp_path):
    with pytest.raises(DataError, match="30_satellite.npz"):
        lookup("datasets", "odds:satellite")(data_home=tmp_path)
