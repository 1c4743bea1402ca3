"""``anovae datasets``: the dataset loaders plugins registered; ``fetch`` downloads one.

Downloading imports pooch and requests; they are imported when ``fetch`` runs, so
that listing and ``--help`` stay instant.
"""

import difflib
import json

import click

from .._plugins import registrations
from ..datasets import get_data_home


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def datasets(ctx, as_json):
    """List registered datasets: name and description.

    Loaders read files from the data folder (the ANOVAE_DATA environment
    variable, else ~/anovae_data); 'anovae datasets fetch NAME' downloads them.
    """
    if ctx.invoked_subcommand is not None:
        return
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
    click.echo(f"(data folder: {get_data_home()}; 'anovae datasets fetch NAME' downloads a dataset)")


def _check_names(ctx, param, names):
    from ..datasets._registry import DATASETS, GROUPS, expand

    known = [*DATASETS, *GROUPS]
    for name in names:
        if expand(name) is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; one of: {', '.join(known)}"
            raise click.BadParameter(f"unknown dataset {name!r}{hint}")
    return names


def _check_url(ctx, param, url):
    from ..datasets._fetch import is_mirror_url

    if url is not None and not is_mirror_url(url):
        raise click.BadParameter(f"{url!r} is not an http(s) or ftp URL")
    return url


@datasets.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...", callback=_check_names)
@click.option(
    "--data-home",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder to download into (default: ANOVAE_DATA, else ~/anovae_data).",
)
@click.option(
    "--base-url",
    callback=_check_url,
    default=None,
    help="A mirror laid out like the data folder (URL/nsl-kdd/..., URL/odds-dev/...), "
    "instead of each file's public source. Default: ANOVAE_DATA_URL when set.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=2,
    show_default=True,
    help="How many more times a failed or corrupt download is tried.",
)
def fetch(names, data_home, base_url, retries):
    """Download datasets into the data folder, each file checked by its SHA-256.

    \b
    NAME: nsl-kdd, odds:<name> (odds: all fifteen), donors, mnist, frey-face, all.
    Files already there with the right checksum are not downloaded again; a file
    there with another checksum is left alone (an error says so). A download that
    fails or does not match its pinned checksum leaves nothing behind.
    """
    from ..datasets import fetch_dataset

    home = get_data_home(data_home)

    def report(line):
        click.echo(f"anovae: {line}", err=True)

    for name in names:
        paths = fetch_dataset(name, data_home=home, base_url=base_url, retries=retries, report=report)
        folders = sorted({str(path.parent) for path in paths})
        report(f"{name}: {len(paths)} file(s) in {', '.join(folders)}")
