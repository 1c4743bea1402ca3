"""The plugin manager: registration, isolation of broken plugins, documentation."""

import doctest
import importlib
import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from anovae import _plugins, hookimpl, hookspecs
from anovae.errors import PluginError
from anovae.thresholds import ThresholdStrategy, available_thresholds, get_threshold_strategy


class MaxThreshold(ThresholdStrategy):
    description = "flags nothing above the training maximum"

    def _compute_threshold(self, scores, y):
        return scores.max()


@pytest.fixture
def register_plugin():
    """Register plugin objects for one test and unregister them afterwards."""
    manager = _plugins.get_plugin_manager()
    names = []

    def register(plugin, name):
        manager.register(plugin, name=name)
        names.append(name)

    yield register
    for name in names:
        manager.unregister(name=name)


def test_a_registered_strategy_is_found_and_removed_again(register_plugin):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("test-max", MaxThreshold)

    register_plugin(Plugin(), "test-plugin")
    assert available_thresholds()["test-max"] is MaxThreshold
    assert get_threshold_strategy("test-max").fit([1.0, 3.0, 2.0]).threshold_ == 3.0
    assert _plugins.registrations("thresholds")["test-max"].plugin == "test-plugin"


def test_registry_forgets_an_unregistered_plugin():
    assert "test-max" not in available_thresholds()


def test_a_duplicate_name_is_reported_with_both_plugins_and_skipped(register_plugin, capsys):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("iqr", MaxThreshold)
            register("test-max", MaxThreshold)

    register_plugin(Plugin(), "copycat")
    found = _plugins.registrations("thresholds")
    assert found["iqr"].plugin == "thresholds" and found["test-max"].plugin == "copycat"
    err = capsys.readouterr().err
    assert "plugin 'copycat' registered threshold strategy 'iqr', already registered by plugin 'thresholds'; skipped" in err


def test_a_plugin_whose_hook_raises_is_skipped_and_the_rest_works(register_plugin, capsys):
    class Broken:
        @hookimpl
        def register_thresholds(self, register):
            raise RuntimeError("kaput")

    register_plugin(Broken(), "broken")
    assert "iqr" in available_thresholds()
    assert "plugin 'broken' failed in register_thresholds and was skipped: kaput" in capsys.readouterr().err


def test_an_invalid_name_is_rejected(register_plugin, capsys):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("Bad Name", MaxThreshold)

    register_plugin(Plugin(), "badname")
    assert "Bad Name" not in available_thresholds()
    assert "invalid threshold strategy name 'Bad Name'" in capsys.readouterr().err


def test_unknown_name_suggests_the_closest():
    with pytest.raises(PluginError, match=r"unknown threshold strategy 'madd'; did you mean 'mad'\?"):
        get_threshold_strategy("madd")


def test_env_variable_restricts_entry_points(monkeypatch):
    monkeypatch.setenv(_plugins.ENV_ALLOW, "thresholds")
    loaded = []
    fake_manager = SimpleNamespace(
        get_plugin=lambda name: None, register=lambda plugin, name: loaded.append(name)
    )
    _plugins._load_entry_points(fake_manager)
    assert loaded == ["thresholds"]
    monkeypatch.setenv(_plugins.ENV_ALLOW, "")
    loaded.clear()
    _plugins._load_entry_points(fake_manager)
    assert loaded == []


def test_an_entry_point_that_fails_to_import_is_reported(monkeypatch, capsys):
    class BadEntryPoint:
        name = "ghost"
        dist = None

        def load(self):
            raise ImportError("No module named 'ghost_plugin'")

    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: [BadEntryPoint()])
    monkeypatch.delenv(_plugins.ENV_ALLOW, raising=False)
    _plugins._load_entry_points(SimpleNamespace(get_plugin=lambda name: None, register=None))
    assert "plugin 'ghost' failed to load and was skipped: No module named 'ghost_plugin'" in capsys.readouterr().err


def test_built_in_plugins_come_through_the_entry_point_group():
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="anovae")}
    assert {"thresholds", "datasets", "imputation", "images"} <= names
    info = {item["name"]: item for item in _plugins.plugins_info()}
    assert "register_thresholds" in info["thresholds"]["hooks"]
    assert "iqr" in info["thresholds"]["registered"]["thresholds"]


HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    assert inspect.getdoc(getattr(hookspecs, hook)), f"hook {hook} has no docstring"
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    assert hook in guide, f"hook {hook} is missing from docs/plugins.md"


DOCUMENTED_MODULES = [
    "anovae._vae",
    "anovae._cvae",
    "anovae_thresholds._statistical",
    "anovae_thresholds._conformal",
    "anovae_thresholds._supervised",
    "anovae_thresholds._pot",
    "anovae_thresholds._mixture",
]


@pytest.mark.parametrize("module", DOCUMENTED_MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
