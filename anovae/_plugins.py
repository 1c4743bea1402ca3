"""The one plugin manager: built-in plugins, entry-point discovery, registries, lookups.

The built-in plugins are registered first, by import, whatever the environment says
(the core's defaults depend on them). Third-party plugins come from the entry-point
group ``anovae``; the ``ANOVAE_PLUGINS`` environment variable, when set, is a
comma-separated list of the third-party entry-point names allowed to load (empty:
none). Loading happens once per process, at the first lookup.

Hooks are called through ``manager.hook`` (so wrappers and tracing work). A plugin
that fails to import, implements a hook that does not exist, or whose hook raises is
reported through the ``anovae`` logger and left out; the rest keeps working. On a
name registered twice the plugin registered first keeps it, so no installed package
can replace a built-in strategy or dataset.

Listing must stay cheap (``anovae thresholds`` answers without importing
scikit-learn): a plugin may register a :class:`Lazy` reference, ``"module:attribute"``
plus the attributes listings show, which is imported only when it is used.
"""

import difflib
import importlib
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "anovae"
ENV_ALLOW = "ANOVAE_PLUGINS"

#: Plugin name -> module of the plugins that ship with anovae, in registration order.
BUILTIN_PLUGINS = {
    "core": "anovae._builtin",
    "thresholds": "anovae_thresholds",
    "datasets": "anovae_datasets",
    "imputation": "anovae_imputation",
    "images": "anovae_images",
}

# kind -> (hook name, singular noun used in messages)
KINDS = {
    "thresholds": ("register_thresholds", "threshold strategy"),
    "imputers": ("register_imputers", "imputer"),
    "datasets": ("register_datasets", "dataset"),
    "image_backends": ("register_image_backends", "image backend"),
    "model_classes": ("register_model_classes", "model class"),
}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")
# Model kinds name a class ("anovae.VAE"), as written into model files since version 1.
_NAME_RES = {"model_classes": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")}

logger = logging.getLogger("anovae")

_manager = None
_versions = {}  # plugin name -> distribution version
_cache = {}


class Lazy:
    """A registered object named by ``"module:attribute"``, imported on first use.

    Keyword arguments are attributes a listing may read without importing anything
    (``description``, and ``supervised`` for a threshold strategy). Calling a
    ``Lazy`` calls the object it names.
    """

    def __init__(self, reference, **attributes):
        module, sep, attribute = reference.partition(":")
        if not sep or not module or not attribute:
            raise PluginError(f"a lazy reference is 'module:attribute', got {reference!r}")
        self.reference = reference
        self.__dict__.update(attributes)
        self._target = None

    def resolve(self):
        """Import and return the object the reference names."""
        if self._target is None:
            module, _, attribute = self.reference.partition(":")
            try:
                target = importlib.import_module(module)
                for part in attribute.split("."):
                    target = getattr(target, part)
            except Exception as exc:
                raise PluginError(f"cannot import {self.reference!r}: {exc}") from None
            self._target = target
        return self._target

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self):
        return f"Lazy({self.reference!r})"


@dataclass
class Registration:
    """One name a plugin registered: what, by which plugin, with which metadata."""

    name: str
    target: object  # the object, or a Lazy naming it
    plugin: str
    meta: dict = field(default_factory=dict)

    @property
    def obj(self):
        """The registered object (a :class:`Lazy` one is imported now)."""
        return self.target.resolve() if isinstance(self.target, Lazy) else self.target

    def attribute(self, name, default=None):
        """An attribute for listings, read without importing a lazy object."""
        if name in self.meta:
            return self.meta[name]
        return getattr(self.target, name, default)

    @property
    def description(self):
        text = self.attribute("description") or ""
        if not text and not isinstance(self.target, Lazy):
            text = getattr(self.target, "__doc__", None) or ""
        text = text.strip()
        return text.splitlines()[0] if text else ""


def _allowed_names():
    raw = os.environ.get(ENV_ALLOW)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _third_party_entry_points():
    """Entry points of the group, less the built-ins (which older installs declared)."""
    builtin_modules = set(BUILTIN_PLUGINS.values())
    return [
        ep
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.name not in BUILTIN_PLUGINS and ep.value.split(":")[0] not in builtin_modules
    ]


def _load_entry_points(manager):
    entry_points = _third_party_entry_points()
    allowed = _allowed_names()
    if allowed:
        unknown = sorted(allowed - {ep.name for ep in entry_points} - set(BUILTIN_PLUGINS))
        if unknown:
            installed = ", ".join(sorted(ep.name for ep in entry_points)) or "none"
            logger.warning(
                f"{ENV_ALLOW} names {', '.join(map(repr, unknown))}, which no installed "
                f"plugin provides (installed: {installed})"
            )
    for ep in entry_points:
        if allowed is not None and ep.name not in allowed:
            continue
        if manager.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            manager.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the tool down
            logger.warning(f"plugin {ep.name!r} failed to load and was skipped: {exc}")
            continue
        if not _check_hook_names(manager, ep.name):
            continue
        dist = getattr(ep, "dist", None)
        _versions[ep.name] = dist.version if dist is not None else ""


def _check_hook_names(manager, name):
    """Leave out a plugin implementing a hook anovae does not define (a typo)."""
    plugin = manager.get_plugin(name)
    for caller in manager.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            close = difflib.get_close_matches(caller.name, _hook_names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            logger.warning(
                f"plugin {name!r} implements {caller.name!r}, which is not an anovae "
                f"hook{hint}; the plugin was skipped"
            )
            manager.unregister(name=name)
            return False
    return True


def _hook_names():
    return [name for name in vars(hookspecs) if name.startswith("register_")]


def get_plugin_manager():
    """Return the process-wide :class:`pluggy.PluginManager`, loading plugins once."""
    global _manager
    if _manager is None:
        from . import __version__

        manager = pluggy.PluginManager("anovae")
        manager.add_hookspecs(hookspecs)
        for name, module in BUILTIN_PLUGINS.items():
            manager.register(importlib.import_module(module), name=name)
            _versions[name] = __version__
        _load_entry_points(manager)
        _manager = manager
    return _manager


def plugin_version(name):
    return _versions.get(name, "")


def call_hook(hook_name, make_kwargs):
    """Call a hook through ``manager.hook``, leaving out plugins whose hook raises.

    ``make_kwargs()`` gives fresh keyword arguments for each attempt: when a plugin's
    implementation raises, it is reported and the hook is called again without it,
    so what the others registered is collected from one clean call. Returns the
    keyword arguments of the call that succeeded.
    """
    manager = get_plugin_manager()
    left_out = []
    while True:
        hook = getattr(manager.hook, hook_name)
        if left_out:
            hook = manager.subset_hook_caller(hook_name, remove_plugins=left_out)
        kwargs = make_kwargs()
        try:
            hook(**kwargs)
            return kwargs
        except Exception as exc:
            culprit = _plugin_in_traceback(hook_name, exc.__traceback__)
            if culprit is None:  # not raised by a plugin: a bug of ours, let it show
                raise
            logger.warning(f"plugin {culprit!r} failed in {hook_name} and was skipped: {exc}")
            left_out.append(manager.get_plugin(culprit))


def _implementations(hook_name):
    """``{code object: plugin name}`` of a hook's implementations."""
    hook = getattr(get_plugin_manager().hook, hook_name)
    codes = {}
    for impl in hook.get_hookimpls():
        code = getattr(impl.function, "__code__", None)
        if code is not None:
            codes[code] = impl.plugin_name
    return codes


def _plugin_in_traceback(hook_name, traceback):
    # The innermost implementation on the traceback is the one that raised (an outer
    # one may be a wrapper the exception went through).
    codes = _implementations(hook_name)
    culprit = None
    while traceback is not None:
        culprit = codes.get(traceback.tb_frame.f_code, culprit)
        traceback = traceback.tb_next
    return culprit


def calling_plugin(hook_name):
    """Name of the plugin whose ``hook_name`` implementation is running, or None.

    Pluggy does not tell a callback who called it; the call stack does.
    """
    codes = _implementations(hook_name)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code in codes:
            return codes[frame.f_code]
        frame = frame.f_back
    return None


def _collect(kind):
    hook_name, noun = KINDS[kind]
    order = [name for name, _ in get_plugin_manager().list_name_plugin()]

    def make_kwargs():
        offered = []

        def register(name, obj, *args, **meta):
            if args:
                meta = {"description": args[0], **meta}
            offered.append((calling_plugin(hook_name), name, obj, meta))

        register.offered = offered
        return {"register": register}

    offered = call_hook(hook_name, make_kwargs)["register"].offered
    # Pluggy calls the plugin registered last first; a name goes to the plugin
    # registered first, so the built-ins keep theirs.
    offered.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    found = {}
    for plugin, name, obj, meta in offered:
        if not isinstance(name, str) or not _NAME_RES.get(kind, _NAME_RE).match(name):
            logger.warning(f"plugin {plugin!r} registered an invalid {noun} name {name!r}; skipped")
            continue
        if name in found:
            logger.warning(
                f"plugin {plugin!r} registered {noun} {name!r}, already registered by "
                f"plugin {found[name].plugin!r}; skipped"
            )
            continue
        problem = _VALIDATORS.get(kind, _valid)(obj)
        if problem:
            logger.warning(f"plugin {plugin!r} registered {noun} {name!r}, which {problem}; skipped")
            continue
        found[name] = Registration(name, obj, plugin, meta)
    return found


def _valid(obj):
    return None if callable(obj) or isinstance(obj, Lazy) else "is not callable"


def _valid_strategy(obj):
    # A class can be checked now; another factory is checked when it is called
    # (get_threshold_strategy), still before any training.
    if isinstance(obj, type):
        from .thresholds import ThresholdStrategy

        if not issubclass(obj, ThresholdStrategy):
            return "is not a subclass of anovae.ThresholdStrategy"
    return _valid(obj)


def _valid_any(obj):
    return None


_VALIDATORS = {"thresholds": _valid_strategy, "image_backends": _valid_any}


def registrations(kind):
    """Return ``{name: Registration}`` for one kind, cached until plugins change."""
    plugins = [plugin for _, plugin in get_plugin_manager().list_name_plugin()]
    cached = _cache.get(kind)
    # Compared by identity, holding the plugins: an id() can be reused once a
    # plugin unregistered in a test is garbage-collected.
    if cached is None or len(cached[0]) != len(plugins) or any(
        a is not b for a, b in zip(cached[0], plugins)
    ):
        cached = _cache[kind] = (plugins, _collect(kind))
    return cached[1]


def registry(kind):
    """Return ``{name: object}`` for one kind (lazy objects are imported)."""
    return {name: reg.obj for name, reg in registrations(kind).items()}


def lookup(kind, name):
    """Return the object registered under ``name``, or raise a helpful PluginError."""
    found = registrations(kind)
    if name in found:
        return found[name].obj
    noun = KINDS[kind][1]
    close = difflib.get_close_matches(name, list(found), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(found)) or "none"
    raise PluginError(f"unknown {noun} {name!r}{hint} Available: {known}")


def add_commands(cli):
    """Let every plugin add its subcommands to the root click group."""
    call_hook("register_commands", lambda: {"cli": cli})


def plugins_info(registered=True):
    """Describe each loaded plugin: name, version, hooks and (``registered``) what it
    registered. Without ``registered`` no hook is called."""
    manager = get_plugin_manager()
    by_plugin = {}
    for kind in KINDS if registered else ():
        for reg in registrations(kind).values():
            by_plugin.setdefault(reg.plugin, {}).setdefault(kind, []).append(reg.name)
    info = []
    for name, plugin in manager.list_name_plugin():
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        info.append(
            {
                "name": name,
                "version": plugin_version(name),
                "builtin": name in BUILTIN_PLUGINS,
                "hooks": hooks,
                **({"registered": by_plugin.get(name, {})} if registered else {}),
            }
        )
    return info
