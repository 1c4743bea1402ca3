"""The plugin manager: registration, isolation of broken plugins, documentation."""

import doctest
import functools
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


def test_a_duplicate_name_is_reported_with_both_plugins_and_skipped(register_plugin, caplog):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("iqr", MaxThreshold)
            register("test-max", MaxThreshold)

    register_plugin(Plugin(), "copycat")
    found = _plugins.registrations("thresholds")
    # The built-in keeps its name although pluggy calls the later plugin first.
    assert found["iqr"].plugin == "thresholds" and found["test-max"].plugin == "copycat"
    assert "plugin 'copycat' registered threshold strategy 'iqr', already registered by plugin 'thresholds'; skipped" in caplog.text


def test_a_plugin_whose_hook_raises_is_skipped_and_the_rest_works(register_plugin, caplog):
    class Broken:
        @hookimpl
        def register_thresholds(self, register):
            raise RuntimeError("kaput")

    register_plugin(Broken(), "broken")
    assert "iqr" in available_thresholds()
    assert "plugin 'broken' failed in register_thresholds and was skipped: kaput" in caplog.text


def test_an_invalid_name_is_rejected(register_plugin, caplog):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("Bad Name", MaxThreshold)

    register_plugin(Plugin(), "badname")
    assert "Bad Name" not in available_thresholds()
    assert "invalid threshold strategy name 'Bad Name'" in caplog.text


def test_unknown_name_suggests_the_closest():
    with pytest.raises(PluginError, match=r"unknown threshold strategy 'madd'; did you mean 'mad'\?"):
        get_threshold_strategy("madd")


class FakeEntryPoint:
    def __init__(self, name, plugin=None, error=None, value=None):
        self.name, self.plugin, self.error = name, plugin, error
        self.value = value or f"{name}_module"
        self.dist = None

    def load(self):
        if self.error:
            raise self.error
        return self.plugin


def fresh_manager():
    import pluggy

    manager = pluggy.PluginManager("anovae")
    manager.add_hookspecs(hookspecs)
    return manager


def test_env_variable_selects_third_party_plugins_only(monkeypatch):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            pass

    points = [FakeEntryPoint("one", Plugin()), FakeEntryPoint("two", Plugin()),
              FakeEntryPoint("thresholds", value="anovae_thresholds")]  # an older install's built-in
    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: points)
    monkeypatch.setenv(_plugins.ENV_ALLOW, "one")
    manager = fresh_manager()
    _plugins._load_entry_points(manager)
    assert [name for name, _ in manager.list_name_plugin()] == ["one"]
    monkeypatch.setenv(_plugins.ENV_ALLOW, "")
    manager = fresh_manager()
    _plugins._load_entry_points(manager)
    assert manager.list_name_plugin() == []


def test_an_unknown_name_in_the_env_variable_is_reported(monkeypatch, caplog):
    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: [FakeEntryPoint("one", object())])
    monkeypatch.setenv(_plugins.ENV_ALLOW, "one,oen")
    _plugins._load_entry_points(fresh_manager())
    assert "ANOVAE_PLUGINS names 'oen', which no installed plugin provides (installed: one)" in caplog.text


def test_an_entry_point_that_fails_to_import_is_reported(monkeypatch, caplog):
    bad = FakeEntryPoint("ghost", error=ImportError("No module named 'ghost_plugin'"))
    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: [bad])
    monkeypatch.delenv(_plugins.ENV_ALLOW, raising=False)
    _plugins._load_entry_points(fresh_manager())
    assert "plugin 'ghost' failed to load and was skipped: No module named 'ghost_plugin'" in caplog.text


def test_a_misspelled_hook_is_reported_and_the_plugin_skipped(monkeypatch, caplog):
    class Typo:
        @hookimpl
        def register_threshold(self, register):
            register("typo", MaxThreshold)

    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: [FakeEntryPoint("typo", Typo())])
    monkeypatch.delenv(_plugins.ENV_ALLOW, raising=False)
    manager = fresh_manager()
    _plugins._load_entry_points(manager)
    assert manager.get_plugin("typo") is None
    assert ("plugin 'typo' implements 'register_threshold', which is not an anovae hook "
            "(did you mean 'register_thresholds'?)") in caplog.text


@pytest.fixture
def restricted_manager(monkeypatch):
    """A plugin manager built anew with ANOVAE_PLUGINS empty, the usual one restored after."""
    monkeypatch.setenv(_plugins.ENV_ALLOW, "")
    monkeypatch.setattr(_plugins, "_manager", None)
    monkeypatch.setattr(_plugins, "_cache", {})
    yield _plugins.get_plugin_manager()


def test_built_ins_load_first_whatever_the_env_variable_says(restricted_manager):
    names = [name for name, _ in restricted_manager.list_name_plugin()]
    assert names == list(_plugins.BUILTIN_PLUGINS)
    assert type(get_threshold_strategy("iqr")).__name__ == "IQRThreshold"  # the default's strategy


def test_the_default_threshold_works_without_third_party_plugins(restricted_manager):
    import numpy as np

    from anovae import VAE

    X = np.random.RandomState(0).normal(size=(60, 3))
    model = VAE(max_epochs=1, random_state=0).fit(X)
    assert model.threshold_strategy_ is not None


def test_hooks_go_through_pluggy_so_wrappers_run(register_plugin):
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_thresholds(self, register):
            seen.append("before")
            result = yield
            seen.append("after")
            return result

    register_plugin(Wrapper(), "wrapper")
    assert "iqr" in _plugins.registrations("thresholds")
    assert seen == ["before", "after"]


def test_a_class_that_is_no_strategy_is_refused_at_registration(register_plugin, caplog):
    class NotAStrategy:
        pass

    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("test-bogus", NotAStrategy)

    register_plugin(Plugin(), "bogus")
    assert "test-bogus" not in available_thresholds()
    assert "registered threshold strategy 'test-bogus', which is not a subclass of anovae.ThresholdStrategy" in caplog.text


def test_a_factory_making_no_strategy_fails_at_lookup(register_plugin):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("test-bogus", lambda: object())

    register_plugin(Plugin(), "bogus")
    with pytest.raises(PluginError, match="'test-bogus' of plugin 'bogus' made a object, not an anovae.ThresholdStrategy"):
        get_threshold_strategy("test-bogus")


def test_a_lazy_registration_is_imported_only_when_used(register_plugin):
    class Plugin:
        @hookimpl
        def register_thresholds(self, register):
            register("test-lazy", _plugins.Lazy("test_plugins:MaxThreshold", description="lazy max"))
            register("test-broken", _plugins.Lazy("no_such_module_here:Thing", description="x"))

    register_plugin(Plugin(), "lazy")
    found = _plugins.registrations("thresholds")
    assert found["test-lazy"].description == "lazy max"
    assert found["test-broken"].description == "x"  # listed without importing
    assert isinstance(get_threshold_strategy("test-lazy"), MaxThreshold)
    with pytest.raises(PluginError, match="cannot import 'no_such_module_here:Thing'"):
        get_threshold_strategy("test-broken")


def test_built_in_lazy_registrations_describe_their_classes():
    for kind in ("thresholds", "imputers", "datasets", "image_backends", "model_classes"):
        for name, reg in _plugins.registrations(kind).items():
            if reg.plugin not in _plugins.BUILTIN_PLUGINS:
                continue
            obj = reg.obj  # every reference imports
            if kind == "thresholds" and isinstance(obj, type):
                assert reg.description == obj.description, name
                assert reg.attribute("supervised") == obj.supervised, name


def test_a_registered_dataset_loads_by_name(register_plugin):
    from anovae.datasets import load_dataset

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register("test-set", lambda data_home=None, size=3: {"home": data_home, "size": size}, "a test set")

    register_plugin(Plugin(), "sets")
    assert load_dataset("test-set", data_home="/x", size=5) == {"home": "/x", "size": 5}
    with pytest.raises(PluginError, match="unknown dataset 'test-sett'; did you mean 'test-set'"):
        load_dataset("test-sett")


def test_model_classes_come_from_the_hook_and_persistence_is_a_leaf():
    import subprocess
    import sys

    code = (
        "import sys, anovae._persistence as p\n"
        "assert not any(m in sys.modules for m in ('anovae._vae', 'anovae._cvae', 'anovae._base'))\n"
        "assert p._model_class('anovae.VAE').__name__ == 'VAE'\n"
        "assert p._model_class('anovae_images.ImageVAE').__name__ == 'ImageVAE'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert set(_plugins.registrations("model_classes")) >= {
        "anovae.VAE", "anovae.ConditionalVAE", "anovae_images.ImageVAE"}


def test_plugin_problems_are_logged_not_printed(register_plugin, caplog, capsys):
    class Broken:
        @hookimpl
        def register_thresholds(self, register):
            raise RuntimeError("kaput")

    register_plugin(Broken(), "broken")
    available_thresholds()
    assert capsys.readouterr().err == ""
    assert [r.name for r in caplog.records] == ["anovae"]


def test_built_in_plugins_are_registered_by_import():
    info = {item["name"]: item for item in _plugins.plugins_info()}
    assert list(info)[: len(_plugins.BUILTIN_PLUGINS)] == list(_plugins.BUILTIN_PLUGINS)
    assert "register_thresholds" in info["thresholds"]["hooks"]
    assert "iqr" in info["thresholds"]["registered"]["thresholds"]
    assert info["thresholds"]["builtin"]


def _private_core_names(node):
    """Names of anovae's private modules that an AST node imports or refers to."""
    import ast

    names = []
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [node.module]
        if node.module == "anovae":  # from anovae import _base
            names += [f"anovae.{alias.name}" for alias in node.names]
    elif isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        # Lazy("anovae._vae:VAE"), importlib.import_module("anovae._base")
        names = [node.value.split(":")[0]] if node.value.startswith("anovae.") else []
    private = []
    for name in names:
        parts = name.split(".")
        if parts[0] == "anovae" and any(part.startswith("_") for part in parts[1:]):
            private.append(name)
    return private


#: Private names a plugin's own class may define because anovae asks for them: the
#: model file protocol (see ``register_model_class``).
_PLUGIN_PROTOCOL = {"_anovae_state", "_from_anovae_state", "_anovae_model_kind"}


@functools.cache  # parses every core module; a dozen cases ask for the same set
def _core_private_attributes():
    """Private attribute names of anovae's objects: every ``_name`` the estimator
    classes define (methods, class attributes) and every ``obj._name`` the core
    assigns (``self._codec``, ``estimator._eps_seed``, ...)."""
    import ast

    import anovae

    names = set()
    for cls in (anovae.VAE, anovae.ConditionalVAE):
        for klass in cls.__mro__:
            if klass.__module__.startswith("anovae"):
                names |= {name for name in vars(klass) if name.startswith("_")}
    for path in Path(anovae.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names |= {t.attr for t in targets if isinstance(t, ast.Attribute) and t.attr.startswith("_")}
    return frozenset(name for name in names if not name.startswith("__")) - _PLUGIN_PROTOCOL


def _private_core_attributes(tree, private):
    """``obj._name`` accesses in a module's AST, for ``_name`` in ``private``, where
    ``obj`` is not the plugin's own object.

    The plugin's own objects are ``self`` and ``cls`` in a class that does not derive
    from an anovae class, and names bound to ``cls(...)`` there; everything else (a
    fitted ``VAE``, ``self.estimator_``, ``self`` in a subclass of ``VAE``) is
    anovae's, and its private attributes are not the plugin's to use.
    """
    import ast

    from_anovae = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "anovae"
        for alias in node.names
    }

    def derives_from_anovae(cls):
        for base in cls.bases:
            root = base
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and (root.id in from_anovae or root.id == "anovae"):
                return True
        return False

    own_by_node = {}
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if derives_from_anovae(cls):
            continue
        for method in (n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            own = {"self", "cls"}
            own |= {
                target.id
                for node in ast.walk(method)
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "cls"
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(method):
                own_by_node[id(node)] = own
    return [
        (node.lineno, f"{ast.unparse(node.value)}.{node.attr}")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in private
        and not (isinstance(node.value, ast.Name) and node.value.id in own_by_node.get(id(node), ()))
    ]


@pytest.mark.parametrize("folder", ["plugins", "examples"])
def test_built_in_plugins_use_only_the_public_api(folder):
    import ast

    private = _core_private_attributes()
    offenders = []
    for path in sorted((Path(__file__).resolve().parents[1] / folder).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            offenders += [f"{path.name}:{node.lineno} {name}" for name in _private_core_names(node)]
        offenders += [f"{path.name}:{line} {access}" for line, access in _private_core_attributes(tree, private)]
    assert offenders == []


def test_the_core_privates_the_check_knows_include_the_scoring_internals():
    assert {"_draws", "_map_chunks", "_codec", "_eps_seed", "_encode", "_log_likelihood_bound"} <= (
        _core_private_attributes()
    )


@pytest.mark.parametrize(
    "source",
    [
        "def f(model):\n    return model._codec",
        "def f(model):\n    return model._draws((1, 1, 2), 'cpu')",
        "class Imputer:\n    def f(self):\n        return self.estimator_._map_chunks",
        "class Imputer:\n    def f(self, model):\n        return model._eps_seed",
        "from anovae import VAE\nclass Mine(VAE):\n    def f(self):\n        return self._encode",
        "import anovae\nclass Mine(anovae.VAE):\n    def f(self):\n        return self._codec",
    ],
)
def test_the_public_api_check_sees_private_attributes_of_anovae_objects(source):
    import ast

    assert _private_core_attributes(ast.parse(source), _core_private_attributes())


@pytest.mark.parametrize(
    "source",
    [
        "class Own:\n    def f(self):\n        return self._codec, self._map_chunks",
        "class Own:\n    @classmethod\n    def load(cls):\n        own = cls()\n        own._eps_seed = 1",
        "def f(model):\n    return model._names",  # not a name of anovae's
    ],
)
def test_the_public_api_check_leaves_a_plugins_own_privates_alone(source):
    import ast

    assert _private_core_attributes(ast.parse(source), _core_private_attributes()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from anovae._base import BaseVAE",
        "import anovae._vae",
        "from anovae import _plugins",
        "Lazy('anovae._vae:VAE')",
    ],
)
def test_the_public_api_check_sees_each_kind_of_private_import(source):
    import ast

    assert [name for node in ast.walk(ast.parse(source)) for name in _private_core_names(node)]


LIGHT = ["torch", "sklearn", "pandas", "scipy", "pooch", "requests"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"], ["--version"], ["detect", "--help"], ["plugins"], ["thresholds"],
        ["datasets"], ["datasets", "fetch", "--help"],
    ],
)
def test_listing_and_help_import_nothing_heavy(argv):
    # The timing is benchmarks/cli_startup.py's job; this keeps its cause in check.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from anovae.cli import cli\n"
        f"cli.main({argv!r}, prog_name='anovae', standalone_mode=False)\n"
        f"heavy = [m for m in {LIGHT!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_import_anovae_is_light_and_public_names_still_work():
    import subprocess
    import sys

    code = (
        "import sys, anovae\n"
        f"assert not [m for m in {LIGHT!r} if m in sys.modules]\n"
        "from anovae import VAE, hookimpl, ThresholdStrategy, load, save\n"
        "assert set(anovae.__all__) <= set(dir(anovae))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


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


def test_the_guides_pyproject_is_complete():
    import tomllib

    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    block = guide[guide.index("```toml\n[build-system]") + len("```toml\n"):]
    project = tomllib.loads(block[: block.index("```")])
    assert project["build-system"]["build-backend"]
    assert project["project"]["name"] and project["project"]["version"]
    assert project["project"]["entry-points"]["anovae"] == {"example": "anovae_example_plugin"}


def test_messages_name_a_strategy_like_the_model_file_and_an_unregistered_one_by_class():
    from anovae.thresholds import strategy_name

    assert strategy_name(get_threshold_strategy("zscore")) == "zscore"
    assert strategy_name(get_threshold_strategy("zscore"), for_display=True) == "zscore"
    assert strategy_name(MaxThreshold(), for_display=True) == "MaxThreshold"
    with pytest.raises(PluginError, match="MaxThreshold is not registered by any plugin"):
        strategy_name(MaxThreshold())


def test_the_detect_summary_names_an_unregistered_strategy_by_its_class():
    import numpy as np

    from anovae import VAE
    from anovae.cli._detection import threshold_line

    model = VAE(max_steps=5, threshold=MaxThreshold(), random_state=0).fit(np.random.RandomState(0).normal(size=(60, 2)))
    assert threshold_line(model, 0, 60).startswith("threshold MaxThreshold: anomaly_score > ")
