"""Saving and loading models whose parts come from plugins."""

import sys

import numpy as np
import pytest

from anovae import VAE, hookimpl, load, save
from anovae.errors import ModelFileError, PluginError
from anovae.plugins import get_plugin_manager
from anovae.thresholds import ThresholdStrategy, get_threshold_strategy, strategy_name

FAKE_IQR = """
import numpy as np

class IQR:
    def eval(self, decision):
        decision = np.asarray(decision)
        return (decision > np.quantile(decision, 0.8)).astype(int)
"""


@pytest.fixture
def fake_pythresh(tmp_path, monkeypatch):
    """A stand-in PyThresh with only ``iqr``, importable for one test."""
    package = tmp_path / "pythresh" / "thresholds"
    package.mkdir(parents=True)
    (tmp_path / "pythresh" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "iqr.py").write_text(FAKE_IQR)
    monkeypatch.syspath_prepend(str(tmp_path))
    # The registries were collected without it: forget them for this test.
    monkeypatch.setattr("anovae._plugins._cache", {})
    yield
    for name in [name for name in sys.modules if name.split(".")[0] == "pythresh"]:
        del sys.modules[name]


def small_data():
    return np.random.RandomState(0).normal(size=(80, 3))


def test_a_partial_factory_strategy_is_named_saved_and_loaded(fake_pythresh, tmp_path):
    strategy = get_threshold_strategy("pythresh:iqr")
    assert strategy_name(strategy) == "pythresh:iqr"
    X = small_data()
    for threshold in ("pythresh:iqr", strategy):  # a name, and an instance (cloned by fit)
        model = VAE(threshold=threshold, max_epochs=2, random_state=0).fit(X)
        path = save(model, tmp_path / "model.anovae")
        loaded = load(path)
        assert type(loaded.threshold_strategy_).__name__ == "PyThreshThreshold"
        assert loaded.threshold_strategy_.method == "iqr"
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


class Half(ThresholdStrategy):
    description = "cut at half the top score"

    def _compute_threshold(self, scores, y):
        return scores.max() / 2


class HalfPlugin:
    @hookimpl
    def register_thresholds(self, register):
        register("test-half", Half)


def test_loading_a_model_whose_plugin_is_gone_names_what_is_missing(tmp_path):
    manager = get_plugin_manager()
    manager.register(HalfPlugin(), name="half")
    try:
        model = VAE(threshold="test-half", max_epochs=2, random_state=0).fit(small_data())
        path = save(model, tmp_path / "model.anovae")
    finally:
        manager.unregister(name="half")
    with pytest.raises(ModelFileError, match=r"needs a plugin that is not installed: unknown threshold strategy 'test-half'"):
        load(path)


def test_an_unregistered_strategy_cannot_be_saved():
    with pytest.raises(PluginError, match="Half is not registered by any plugin"):
        strategy_name(Half())


def test_an_unknown_model_kind_points_at_plugins(tmp_path):
    import json
    import zipfile

    path = tmp_path / "alien.anovae"
    header = {"format": "anovae-model", "format_version": 1, "kind": "someone.Else", "meta": {}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("anovae.json", json.dumps(header))
    with pytest.raises(ModelFileError, match=r"unknown model kind 'someone.Else'; is the plugin that provides it installed\?"):
        load(path)


def test_a_threshold_instance_with_invalid_parameters_is_refused():
    from sklearn.utils._param_validation import InvalidParameterError

    from anovae_thresholds import MADThreshold

    with pytest.raises(InvalidParameterError, match="'k' parameter of MADThreshold"):
        VAE(threshold=MADThreshold(k=-3), max_epochs=2).fit(small_data())
    with pytest.raises(InvalidParameterError, match="'k' parameter of MADThreshold"):
        get_threshold_strategy("mad", k=-3)


def test_vae_score_feature_names_and_fit_predict_with_labels():
    import pandas as pd
    from sklearn.model_selection import GridSearchCV

    X = pd.DataFrame(small_data(), columns=["a", "b", "c"])
    model = VAE(latent_dim=2, max_epochs=2, random_state=0).set_output(transform="pandas").fit(X)
    assert list(model.get_feature_names_out()) == ["vae0", "vae1"]
    assert list(model.transform(X).columns) == ["vae0", "vae1"]
    # score is the plain bound (KL once), whatever score_kl_weight adds to score_samples
    assert model.score(X) == pytest.approx(model.set_params(score_kl_weight=1.0).score_samples(X).mean())
    search = GridSearchCV(VAE(max_epochs=2, random_state=0), {"latent_dim": [1, 2]}, cv=2).fit(X)
    assert search.best_params_["latent_dim"] in (1, 2)
    y = np.zeros(len(X), dtype=int)
    y[:5] = 1
    labels = VAE(threshold="f1", max_epochs=2, random_state=0).fit_predict(X, y)
    assert set(labels) <= {-1, 1}
