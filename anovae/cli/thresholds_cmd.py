"""``anovae thresholds``: the threshold strategies plugins registered.

The list reads each strategy's name, description and whether it needs labels from
its registration, which imports nothing (built-in strategies are registered as lazy
references), so it answers at once. Naming strategies shows their parameters too:
that imports their classes.
"""

import inspect
import json

import click

from .._plugins import registrations


def _parameters(factory):
    """``{name: default}`` of the keyword parameters a strategy factory takes."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    return {
        name: (None if p.default is inspect.Parameter.empty else p.default)
        for name, p in signature.parameters.items()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def _check_names(ctx, param, names):
    found = registrations("thresholds")
    for name in names:
        if name not in found:
            from .._plugins import lookup
            from ..errors import PluginError

            try:
                lookup("thresholds", name)
            except PluginError as exc:
                raise click.BadParameter(str(exc)) from None
    return names


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...", callback=_check_names)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def thresholds(names, as_json):
    """List threshold strategies: name, what it does, parameters with defaults.

    Without NAME, every registered strategy and what it does; with NAME, also its
    parameters and their defaults. Use one with
    'anovae detect --threshold NAME [--threshold-param KEY=VALUE]'.
    """
    found = registrations("thresholds")
    rows = []
    for name in names or found:
        reg = found[name]
        row = {
            "name": name,
            "description": reg.description,
            "supervised": bool(reg.attribute("supervised", False)),
            "plugin": reg.plugin,
        }
        if names:
            # A partial factory (``pythresh:*``) shows the parameters it leaves open.
            row["parameters"] = _parameters(reg.obj)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=repr))
        return
    if not rows:
        click.echo("no threshold strategies registered (see 'anovae plugins')", err=True)
    for row in rows:
        needs = " [needs --label-column]" if row["supervised"] else ""
        click.echo(f"{row['name']}: {row['description']}{needs}")
        if "parameters" in row:
            params = ", ".join(f"{k}={v!r}" for k, v in row["parameters"].items())
            click.echo(f"    parameters: {params or 'none'}")
    if not names and rows:
        click.echo("(parameters: anovae thresholds NAME)", err=True)

