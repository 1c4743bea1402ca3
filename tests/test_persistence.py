"""anovae.save / anovae.load: safe, versioned, faithful."""

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import anovae
from anovae import VAE, ConditionalVAE
from anovae.errors import ModelFileError
from model_files import rewrite

FAST = dict(max_epochs=5, hidden_layer_sizes=(16,), latent_dim=2, random_state=0)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    data = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "b": rng.normal(size=200),
            "kind": rng.choice(["x", "y", "z"], 200),
            "flag": rng.randint(0, 2, 200),
        }
    )
    data.loc[4, "a"] = np.nan
    return data


def test_vae_round_trip_gives_identical_results(tmp_path, frame):
    vae = VAE(**FAST, threshold="mad").fit(frame)
    path = anovae.save(vae, tmp_path / "model.anovae")
    loaded = anovae.load(path)
    assert type(loaded) is VAE
    assert loaded.get_params() == vae.get_params()
    np.testing.assert_array_equal(loaded.score_samples(frame), vae.score_samples(frame))
    np.testing.assert_array_equal(loaded.predict(frame), vae.predict(frame))
    np.testing.assert_array_equal(loaded.transform(frame), vae.transform(frame))
    assert loaded.offset_ == vae.offset_
    assert loaded.threshold_strategy_.threshold_ == vae.threshold_strategy_.threshold_
    assert list(loaded.feature_names_in_) == list(frame.columns)
    assert loaded.history_ == vae.history_


def test_threshold_instance_parameter_round_trips(tmp_path, frame):
    from anovae.thresholds import get_threshold_strategy

    vae = VAE(**FAST, threshold=get_threshold_strategy("zscore", k=2.5)).fit(frame)
    loaded = anovae.load(anovae.save(vae, tmp_path / "m.anovae"))
    assert loaded.threshold.k == 2.5
    np.testing.assert_array_equal(loaded.predict(frame), vae.predict(frame))


def test_cvae_round_trip(tmp_path, frame):
    X, y = frame[["a", "b", "flag"]], frame["kind"].to_numpy(dtype=object)
    cvae = ConditionalVAE(**FAST).fit(X, y)
    loaded = anovae.load(anovae.save(cvae, tmp_path / "c.anovae"))
    assert loaded.classes_.dtype == object
    np.testing.assert_array_equal(loaded.predict_proba(X), cvae.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), cvae.predict(X))


def test_model_saved_for_a_gpu_loads_on_a_cpu(tmp_path, frame):
    vae = VAE(**FAST).fit(frame)
    path = tmp_path / "m.anovae"
    anovae.save(vae, path)
    rewritten = tmp_path / "gpu.anovae"
    rewrite(path, rewritten, meta=lambda meta: meta["params"].update(device="cuda:0"))
    loaded = anovae.load(rewritten)
    import torch

    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert loaded.device == expected
    np.testing.assert_allclose(loaded.score_samples(frame), vae.score_samples(frame), rtol=1e-5)


class _Boom:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_never_runs(tmp_path, frame):
    marker = tmp_path / "pwned"
    vae = VAE(**FAST).fit(frame)
    good = tmp_path / "m.anovae"
    anovae.save(vae, good)
    evil = tmp_path / "evil.anovae"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        payload = io.BytesIO()
        np.save(payload, np.array([_Boom(str(marker))], dtype=object), allow_pickle=True)
        dst.writestr("arrays/module.encoder.0.weight.npy.npy", payload.getvalue())
        dst.writestr("arrays/evil.npy", payload.getvalue())
    with pytest.raises(ModelFileError, match="refused"):
        anovae.load(evil)
    assert not marker.exists()

    # A plain pickle (what joblib.dump writes) is not a model file either.
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ModelFileError, match="not an anovae model file"):
        anovae.load(pickled)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello", "not a ZIP archive"),
        ({"other.json": "{}"}, "no anovae.json"),
        ({"anovae.json": "{not json"}, "not JSON"),
        ({"anovae.json": json.dumps({"format": "something-else"})}, "not an anovae model file"),
        ({"anovae.json": json.dumps({"format": "anovae-model", "format_version": 99})}, "version 99 is not supported"),
        ({"anovae.json": json.dumps({"format": "anovae-model", "format_version": 1, "kind": "os.system"})}, "unknown model kind"),
    ],
)
def test_other_files_are_rejected_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.anovae"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in content.items():
                archive.writestr(name, text)
    with pytest.raises(ModelFileError, match=message):
        anovae.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        anovae.load(tmp_path / "absent.anovae")
    with pytest.raises(ModelFileError, match="directory"):
        anovae.load(tmp_path)


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        anovae.save(VAE(), tmp_path / "m.anovae")


def test_joblib_pickle_and_clone_work(tmp_path, frame):
    vae = VAE(**FAST).fit(frame)
    joblib.dump(vae, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(again.score_samples(frame), vae.score_samples(frame))
    copy = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(copy.score_samples(frame), vae.score_samples(frame))
    fresh = clone(vae)
    assert fresh.get_params() == vae.get_params() and not hasattr(fresh, "module_")


def test_save_replaces_atomically_and_leaves_no_temp_file(tmp_path, frame):
    vae = VAE(**FAST).fit(frame)
    path = tmp_path / "m.anovae"
    path.write_text("old")
    anovae.save(vae, path)
    assert zipfile.is_zipfile(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.anovae"]


def test_the_same_model_saved_twice_is_the_same_file(tmp_path, frame, monkeypatch):
    import time

    vae = VAE(**FAST).fit(frame)
    first = anovae.save(vae, tmp_path / "a.anovae")
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)  # an hour later, as far as zipfile can tell
    second = anovae.save(vae, tmp_path / "b.anovae")
    assert open(first, "rb").read() == open(second, "rb").read()


def test_a_two_valued_column_survives_saving_and_its_values_are_checked_on_loading(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"coded": rng.choice([1.0, 2.0], 300), "x": rng.normal(size=300)})
    vae = VAE(max_steps=20, random_state=0).fit(frame)
    assert vae._codec.columns[0]["kind"] == "bernoulli" and vae._codec.columns[0]["low"] == 1.0
    good, bad = tmp_path / "good.anovae", tmp_path / "bad.anovae"
    anovae.save(vae, good)
    np.testing.assert_array_equal(anovae.load(good).score_samples(frame), vae.score_samples(frame))
    rewrite(good, bad, meta=lambda meta: meta["codec"][0].update(low=3.0))
    with pytest.raises(ModelFileError, match="bad.anovae.*column 'coded' has the two values 3.0 and 2.0"):
        anovae.load(bad)


def test_a_corrupt_power_transform_is_a_model_file_error(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"bytes": rng.lognormal(0, 2, 300), "x": rng.normal(size=300)})
    vae = VAE(max_steps=20, random_state=0).fit(frame)
    assert "power" in vae._codec.columns[0]  # the heavy-tailed column was transformed
    good, bad = tmp_path / "good.anovae", tmp_path / "bad.anovae"
    anovae.save(vae, good)
    rewrite(good, bad, meta=lambda meta: meta["codec"][0].update(power=7.5))
    with pytest.raises(ModelFileError, match="bad.anovae.*invalid power transform"):
        anovae.load(bad)
