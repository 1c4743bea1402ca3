"""``anovae datasets``: the dataset loaders plugins registered."""

import json

import click

from .._plugins import registrations
from ..datasets import get_data_home


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def datasets(as_json):
    """List registered datasets: name and description.

    Nothing is downloaded: loaders read files from the data folder (the
    ANOVAE_DATA environment variable, else ~/anovae_data).
    """
    rows = [
        {"name": name, "description": reg.meta.get("description", ""), "plugin": reg.plugin}
        for name, reg in registrations("datasets").items()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no datasets registered (see 'anovae plugins')", err=True)
    width = max((len(row["name"]) for row in rows), default=0)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['description']}")
    click.echo(f"(data folder: {get_data_home()})")
