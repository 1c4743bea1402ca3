"""The ``anovae`` command line: a click group whose subcommands live in their own modules.

Built-in commands: ``detect`` (detect.py), ``fit`` and ``score`` (fit_score.py),
``plugins``, ``thresholds``, ``datasets`` (``*_cmd.py``). Plugins add theirs through
the ``register_commands`` hook; they are loaded the first time a command is looked
up, so ``anovae --version`` works even with a broken plugin installed. Every command
runs inside the error boundary of ``_errors.py`` (exit codes are documented there).

Start-up time is a feature: ``anovae --help`` must answer in well under half a
second (``benchmarks/cli_startup.py``). Nothing imported at the top of a command
module may import NumPy, pandas, scikit-learn or torch; commands import them when
they run, and plugins register their objects by lazy reference.

Public for plugin commands: :func:`device_option` (the ``--device`` option).
"""

import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    # Nothing has been written yet: one line and the conventional code, no traceback.
    sys.stderr.write("anovae: interrupted (Ctrl-C); no output written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


# Ctrl-C while the modules below import would print a KeyboardInterrupt traceback:
# until the command's own error boundary takes over, an interrupt ends the process
# with one line (restored at the end of this module).
_START_UP_HANDLER = False
try:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
        _START_UP_HANDLER = True
except ValueError:  # imported outside the main thread: leave signals alone
    pass

import logging  # noqa: E402

import click  # noqa: E402

from .. import __version__  # noqa: E402
from .._plugins import add_commands, get_plugin_manager  # noqa: E402
from .._plugins import logger as plugin_logger  # noqa: E402
from . import datasets_cmd, detect, fit_score, plugins_cmd, thresholds_cmd  # noqa: E402
from ._errors import BoundaryGroup  # noqa: E402
from ._options import device_option  # noqa: E402

__all__ = ["AnovaeGroup", "cli", "device_option", "main"]


class _EchoHandler(logging.Handler):
    """Print the library's log records as ``anovae: message`` on stderr.

    Looks up stderr at each record, so that click's test runner captures it.
    """

    def emit(self, record):
        click.echo(f"anovae: {record.getMessage()}", err=True)


class AnovaeGroup(BoundaryGroup):
    """The root group: built-in commands, then plugin commands on first lookup.

    A plugin may not replace a built-in command: ``anovae detect`` must mean the
    same thing whatever is installed. Such a command is reported and skipped.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._builtin = None
        self._owners = {}

    def _load_plugin_commands(self):
        if self._builtin is None:
            self._builtin = set(self.commands)
            add_commands(self)

    def add_command(self, cmd, name=None):
        name = name or cmd.name
        if self._builtin is None:
            return super().add_command(cmd, name)
        owner = _owner(cmd)
        if name in self._builtin or name in self._owners:
            taken = "built-in" if name in self._builtin else f"plugin {self._owners[name]!r}"
            click.echo(
                f"anovae: plugin {owner!r} tried to add command {name!r}, already taken "
                f"by {taken}; skipped",
                err=True,
            )
            return None
        self._owners[name] = owner
        return super().add_command(cmd, name)

    def plugin_commands(self):
        """``{command name: plugin name}`` of the commands plugins added."""
        self._load_plugin_commands()
        return dict(self._owners)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, cmd_name):
        self._load_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def main(self, *args, **kwargs):
        # The library reports plugin problems through logging, which an embedding
        # application routes as it likes; the command line shows them to the user.
        handler = _EchoHandler(logging.WARNING)
        plugin_logger.addHandler(handler)
        propagate, plugin_logger.propagate = plugin_logger.propagate, False
        try:
            return super().main(*args, **kwargs)
        finally:
            plugin_logger.removeHandler(handler)
            plugin_logger.propagate = propagate


def _owner(cmd):
    # The hook does not say which plugin is calling; the module that defines the
    # command's callback does.
    module = getattr(getattr(cmd, "callback", None), "__module__", None) or type(cmd).__module__
    for name, plugin in get_plugin_manager().list_name_plugin():
        # A plugin is usually a module (its __name__); it may be a class or an
        # instance defined in one (its __module__).
        homes = {getattr(plugin, "__name__", None), getattr(plugin, "__module__", None)}
        for home in homes - {None}:
            if module == home or module.startswith(home + "."):
                return name
    return module


@click.group(cls=AnovaeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug",
    is_flag=True,
    envvar="ANOVAE_DEBUG",
    help="Show the full traceback of an error (also ANOVAE_DEBUG=1).",
)
@click.version_option(__version__, prog_name="anovae")
def cli(debug):
    """Anomaly detection on tabular and IoT data with variational autoencoders.

    \b
    First run:
      anovae detect datasets/iot_sample.csv --exclude timestamp \\
        --exclude device_id --exclude anomaly_type --label-column label --top 5
    """


# Modules, not command objects, are imported above, so that ``anovae.cli.detect``
# stays the module (its command is ``anovae.cli.detect.detect``).
for _command in (
    detect.detect,
    fit_score.fit,
    fit_score.score,
    plugins_cmd.plugins,
    thresholds_cmd.thresholds,
    datasets_cmd.datasets,
):
    cli.add_command(_command)

if _START_UP_HANDLER:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv=None):
    """Entry point of the ``anovae`` executable."""
    return cli.main(args=argv, prog_name="anovae")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

