"""Hook specifications of the ``anovae`` plugin system.

A plugin is a module (or object) with functions decorated by ``anovae.hookimpl``
and named like the specifications below. It is found through the entry-point group
``anovae``; the built-in plugins under ``plugins/`` are registered the same way.

Each ``register_*`` hook receives a ``register`` callback rather than returning
objects, so the core can validate every registration and report a duplicate name
with the plugin that caused it.
"""

import pluggy

hookspec = pluggy.HookspecMarker("anovae")
hookimpl = pluggy.HookimplMarker("anovae")


@hookspec
def register_thresholds(register):
    """Register threshold strategies.

    Call ``register(name, factory)`` once per strategy. ``factory`` is a class (or
    callable) that takes the strategy's parameters as keyword arguments and returns an
    object with ``fit(scores, y=None)`` setting ``threshold_`` and ``predict(scores)``
    returning 0/1; subclassing :class:`anovae.thresholds.ThresholdStrategy` gives both.
    """


@hookspec
def register_imputers(register):
    """Register imputation strategies: ``register(name, factory)``.

    ``factory`` takes keyword parameters and returns a scikit-learn transformer that
    fills missing cells.
    """


@hookspec
def register_datasets(register):
    """Register dataset loaders: ``register(name, loader, description)``.

    ``loader(data_home=None, **kwargs)`` reads the files from ``data_home`` (or the
    ``ANOVAE_DATA`` environment variable) and raises :class:`anovae.errors.DataError`
    naming the missing files when they are absent.
    """


@hookspec
def register_image_backends(register):
    """Register image backends: ``register(name, backend)``.

    ``backend`` describes an image dataset: its shape, likelihood, network presets and
    loader (see the ``anovae_images`` plugin for the reference implementation).
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``anovae`` command line.

    ``cli`` is the root :class:`click.Group`; call ``cli.add_command(...)``.
    """
