"""``anovae thresholds``: the threshold strategies plugins registered."""

import inspect
import json

import click

from .._plugins import registrations


def _description(factory):
    text = getattr(factory, "description", "") or inspect.getdoc(factory) or ""
    return text.strip().splitlines()[0] if text.strip() else ""


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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def thresholds(as_json):
    """List threshold strategies: name, what it does, parameters with defaults.

    Use one with 'anovae detect --threshold NAME [--threshold-param KEY=VALUE]'.
    """
    rows = []
    for name, reg in registrations("thresholds").items():
        rows.append(
            {
                "name": name,
                "description": _description(reg.obj),
                "parameters": _parameters(reg.obj),
                "supervised": bool(getattr(reg.obj, "supervised", False)),
                "plugin": reg.plugin,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=repr))
        return
    if not rows:
        click.echo("no threshold strategies registered (see 'anovae plugins')", err=True)
    for row in rows:
        needs = " [needs --label-column]" if row["supervised"] else ""
        click.echo(f"{row['name']}: {row['description']}{needs}")
        params = ", ".join(f"{k}={v!r}" for k, v in row["parameters"].items())
        click.echo(f"    parameters: {params or 'none'}")
