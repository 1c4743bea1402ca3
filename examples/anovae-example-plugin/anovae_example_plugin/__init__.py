"""An example anovae plugin: one threshold strategy and one command.

Installed (``pip install examples/anovae-example-plugin``), it adds

- the threshold strategy ``example-top-k``: flag the ``k`` highest scores
  (``anovae detect data.csv --threshold example-top-k --threshold-param k=20``);
- the command ``anovae hello``, which shows how a plugin command reads a table
  and relies on anovae's error handling.
"""

from numbers import Integral

import click
import numpy as np

from anovae import ThresholdStrategy, hookimpl
from anovae.cli._io import read_table

__version__ = "0.1.0"


class TopKThreshold(ThresholdStrategy):
    """Flag the ``k`` highest anomaly scores (fewer when scores tie at the cut).

    Parameters
    ----------
    k : int, default=10
        How many scores to flag; with ``k`` at least the number of scores, all are.
    """

    # Shown by `anovae thresholds`, with the parameters of __init__.
    description = "Flag the k highest scores (example plugin)."

    def __init__(self, *, k=10):
        # Like a scikit-learn estimator: store the parameter, check it in fit.
        self.k = k

    def _compute_threshold(self, scores, y):
        if not isinstance(self.k, Integral) or isinstance(self.k, bool) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if self.k >= scores.size:
            # A score must be strictly above the cut to be flagged.
            return float(np.nextafter(scores.min(), -np.inf))
        return float(np.sort(scores)[-self.k - 1])


@hookimpl
def register_thresholds(register):
    register("example-top-k", TopKThreshold)


@click.command()
@click.argument("data", required=False)
@click.option("--name", default="world", show_default=True, help="Who to greet.")
def hello(data, name):
    """Greet, and describe DATA (a CSV or Parquet file) if given."""
    click.echo(f"Hello, {name}, from the example plugin!")
    if data is not None:
        # read_table raises anovae's DataError for a missing or malformed file;
        # the anovae command line turns it into a one-line error, exit code 1.
        frame = read_table(data)
        click.echo(f"{data}: {frame.shape[0]} rows, {frame.shape[1]} columns")


@hookimpl
def register_commands(cli):
    cli.add_command(hello)
