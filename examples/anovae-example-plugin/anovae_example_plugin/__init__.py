"""An example anovae plugin: a threshold strategy, an imputer and a command.

Installed (``pip install examples/anovae-example-plugin``), it adds

- the threshold strategy ``example-top-k``: flag the ``k`` highest scores
  (``anovae detect data.csv --threshold example-top-k --threshold-param k=20``);
- the imputer ``example-median``: fill numeric cells with the column's median
  (``anovae impute data.csv -o filled.csv --method example-median``);
- the command ``anovae hello``, which shows how a plugin command reads a table
  and relies on anovae's error handling.

This module only declares the hooks. The strategy and the imputer live in
``_objects.py`` and are registered by lazy reference, so that ``anovae --help`` and
``anovae thresholds`` do not import NumPy or scikit-learn because of this plugin.
Only public anovae modules are used (nothing whose name starts with ``_``).
"""

import click

from anovae import hookimpl
from anovae.plugins import Lazy

__version__ = "0.1.0"


@hookimpl
def register_thresholds(register):
    register(
        "example-top-k",
        Lazy(
            "anovae_example_plugin._objects:TopKThreshold",
            description="Flag the k highest scores (example plugin).",
            supervised=False,
        ),
    )


@hookimpl
def register_imputers(register):
    register(
        "example-median",
        Lazy("anovae_example_plugin._objects:median_imputer"),
        "fill each numeric cell with its column's median (example plugin)",
    )


@click.command()
@click.argument("data", required=False)
@click.option("--name", default="world", show_default=True, help="Who to greet.")
def hello(data, name):
    """Greet, and describe DATA (a CSV or Parquet file) if given."""
    click.echo(f"Hello, {name}, from the example plugin!")
    if data is not None:
        # Imported here: reading tables needs pandas, and `anovae --help` imports
        # this module. read_table raises anovae's DataError for a missing or
        # malformed file; the command line turns it into one line, exit code 1.
        from anovae.tables import read_table

        frame = read_table(data)
        click.echo(f"{data}: {frame.shape[0]} rows, {frame.shape[1]} columns")


@hookimpl
def register_commands(cli):
    cli.add_command(hello)
