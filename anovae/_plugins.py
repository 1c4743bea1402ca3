"""The one plugin manager: entry-point discovery, registries and lookups.

Plugins load lazily, once per process, from the entry-point group ``anovae``. The
``ANOVAE_PLUGINS`` environment variable, when set, is a comma-separated list of the
entry-point names allowed to load (empty: none). A plugin that fails to import, whose
hook raises, or that registers a name already taken is reported on stderr and skipped;
the rest keeps working.
"""

import difflib
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

# kind -> (hook name, singular noun used in messages)
KINDS = {
    "thresholds": ("register_thresholds", "threshold strategy"),
    "imputers": ("register_imputers", "imputer"),
    "datasets": ("register_datasets", "dataset"),
    "image_backends": ("register_image_backends", "image backend"),
}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")

_manager = None
_versions = {}  # plugin name -> distribution version
_cache = {}


@dataclass
class Registration:
    name: str
    obj: object
    plugin: str
    meta: dict = field(default_factory=dict)


def _warn(message):
    print(f"anovae: {message}", file=sys.stderr)


def _allowed_names():
    raw = os.environ.get(ENV_ALLOW)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_entry_points(manager):
    allowed = _allowed_names()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if manager.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            manager.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the tool down
            _warn(f"plugin {ep.name!r} failed to load and was skipped: {exc}")
            continue
        dist = getattr(ep, "dist", None)
        _versions[ep.name] = dist.version if dist is not None else ""


def get_plugin_manager():
    """Return the process-wide :class:`pluggy.PluginManager`, loading plugins once."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager("anovae")
        manager.add_hookspecs(hookspecs)
        _load_entry_points(manager)
        _manager = manager
    return _manager


def plugin_version(name):
    return _versions.get(name, "")


def _call_each(hook_name, **kwargs):
    """Call every implementation of a hook separately, isolating failures.

    Yields the plugin name before each call so callers can attribute what it does.
    Plugins are called in registration order, so on a name clash the one loaded
    first (the built-ins come first) keeps the name.
    """
    manager = get_plugin_manager()
    hook = getattr(manager.hook, hook_name)
    for impl in hook.get_hookimpls():
        yield impl.plugin_name
        try:
            impl.function(**kwargs)
        except Exception as exc:
            _warn(f"plugin {impl.plugin_name!r} failed in {hook_name} and was skipped: {exc}")


def _collect(kind):
    hook_name, noun = KINDS[kind]
    found = {}
    current = {"plugin": None}

    def register(name, obj, *args, **meta):
        plugin = current["plugin"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            _warn(f"plugin {plugin!r} registered an invalid {noun} name {name!r}; skipped")
            return
        if name in found:
            _warn(
                f"plugin {plugin!r} registered {noun} {name!r}, already registered by "
                f"plugin {found[name].plugin!r}; skipped"
            )
            return
        if args:
            meta = {"description": args[0], **meta}
        found[name] = Registration(name, obj, plugin, meta)

    for plugin_name in _call_each(hook_name, register=register):
        current["plugin"] = plugin_name
    return found


def registrations(kind):
    """Return ``{name: Registration}`` for one kind, cached until plugins change."""
    manager = get_plugin_manager()
    key = (kind, tuple(id(p) for p in manager.get_plugins()))
    if key not in _cache:
        _cache[key] = _collect(kind)
    return _cache[key]


def registry(kind):
    """Return ``{name: object}`` for one kind."""
    return {name: reg.obj for name, reg in registrations(kind).items()}


def lookup(kind, name):
    """Return the object registered under ``name``, or raise a helpful PluginError."""
    found = registrations(kind)
    if name in found:
        return found[name].obj
    noun = KINDS[kind][1]
    close = difflib.get_close_matches(name, list(found), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(found)) or (
        "none (no plugin registers any"
        + (f"; {ENV_ALLOW}={os.environ[ENV_ALLOW]!r} may exclude the built-in ones)" if ENV_ALLOW in os.environ else ")")
    )
    raise PluginError(f"unknown {noun} {name!r}{hint} Available: {known}")


def add_commands(cli):
    """Let every plugin add its subcommands to the root click group."""
    for _ in _call_each("register_commands", cli=cli):
        pass


def plugins_info():
    """Describe each loaded plugin: name, version, hooks and what it registered."""
    manager = get_plugin_manager()
    by_plugin = {}
    for kind in KINDS:
        for reg in registrations(kind).values():
            by_plugin.setdefault(reg.plugin, {}).setdefault(kind, []).append(reg.name)
    info = []
    for name, plugin in manager.list_name_plugin():
        hooks = sorted(
            caller.name for caller in manager.get_hookcallers(plugin) or []
        )
        info.append(
            {
                "name": name,
                "version": plugin_version(name),
                "hooks": hooks,
                "registered": by_plugin.get(name, {}),
            }
        )
    return sorted(info, key=lambda item: item["name"])
