"""What a plugin may import from anovae to register and find plugin objects.

This module is public: its names keep working across releases, unlike anything in
a module whose name starts with an underscore. See docs/plugins.md.

- :data:`hookimpl` marks a hook implementation (also ``anovae.hookimpl``).
- :class:`Lazy` registers an object by ``"module:attribute"``, imported on first
  use, so that listings stay fast.
- :func:`lookup`, :func:`registry` and :func:`registrations` find what plugins
  registered, by kind: ``"thresholds"``, ``"imputers"``, ``"datasets"``,
  ``"image_backends"``, ``"model_classes"``.
- :func:`get_plugin_manager` gives the process's pluggy manager, for tests that
  register a plugin module and unregister it afterwards.
"""

from ._plugins import (
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    ENV_ALLOW,
    KINDS,
    Lazy,
    Registration,
    get_plugin_manager,
    lookup,
    registrations,
    registry,
)
from .errors import PluginError
from .hookspecs import hookimpl

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ENV_ALLOW",
    "KINDS",
    "Lazy",
    "PluginError",
    "Registration",
    "get_plugin_manager",
    "hookimpl",
    "lookup",
    "registrations",
    "registry",
]
