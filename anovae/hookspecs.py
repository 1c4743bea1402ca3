"""Hook specifications of the ``anovae`` plugin system.

A plugin is a module (or object) with functions decorated by ``anovae.hookimpl``
and named like the specifications below. It is found through the entry-point group
``anovae``; the built-in plugins under ``plugins/`` are registered the same way.

Each ``register_*`` hook receives a ``register`` callback rather than returning
objects, so the core can validate every registration and report a duplicate name
with the plugin that caused it. ``register(name, obj)`` takes the object itself or an
:class:`anovae.plugins.Lazy` reference to it (``Lazy("module:attribute",
description=...)``), imported only when the object is used: listings such as
``anovae thresholds`` then stay fast. A name is kept by the plugin registered first;
the built-in plugins are registered before any other.

Hooks are grouped by what they add: objects the library looks up by name
(``register_thresholds``, ``register_imputers``, ``register_datasets``,
``register_image_backends``, ``register_model_classes``), then the command line
(``register_commands``).
"""

import pluggy

hookspec = pluggy.HookspecMarker("anovae")
hookimpl = pluggy.HookimplMarker("anovae")


@hookspec
def register_thresholds(register):
    """Register threshold strategies.

    Call ``register(name, factory)`` once per strategy. ``factory`` is a subclass of
    :class:`anovae.ThresholdStrategy` (or a callable returning an instance of one, or
    a :class:`~anovae.plugins.Lazy` reference to either) taking the strategy's
    parameters as keyword arguments. A class is checked when registered, another
    factory when it is called; anything else is reported and skipped. ``anovae
    thresholds`` lists the ``description`` and ``supervised`` attributes (give them to
    ``Lazy`` to list without importing).
    """


@hookspec
def register_imputers(register):
    """Register imputation strategies: ``register(name, factory, description)``.

    ``factory`` takes keyword parameters and returns a scikit-learn transformer that
    fills missing cells. ``anovae impute --method NAME`` uses it: the command calls
    ``factory(random_state=..., device=...)`` when the factory accepts those
    parameters, then ``fit_transform`` on the table's numeric columns.
    """


@hookspec
def register_datasets(register):
    """Register dataset loaders: ``register(name, loader, description)``.

    ``loader(data_home=None, **kwargs)`` reads the files from ``data_home`` (or the
    ``ANOVAE_DATA`` environment variable) and raises :class:`anovae.errors.DataError`
    naming the missing files when they are absent. :func:`anovae.datasets.load_dataset`
    calls it by name.
    """


@hookspec
def register_image_backends(register):
    """Register image backends: ``register(name, backend)``.

    ``backend`` describes an image dataset: its shape, likelihood, network presets and
    loader (see the ``anovae_images`` plugin for the reference implementation).
    """


@hookspec
def register_model_classes(register):
    """Register estimator classes that :func:`anovae.load` may rebuild from a file.

    ``register(kind, cls)``: ``kind`` is the class's ``_anovae_model_kind`` string,
    the one :func:`anovae.save` writes into the file. ``cls`` implements
    ``_anovae_state()`` and ``_from_anovae_state(meta, arrays)``. A model file names a
    kind, never code, so loading imports only a registered class. Loading a file whose
    kind no installed plugin registers names the missing kind.
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``anovae`` command line.

    ``cli`` is the root :class:`click.Group`; call ``cli.add_command(...)``.
    """
