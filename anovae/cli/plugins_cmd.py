"""``anovae plugins``: what each loaded plugin is and what it added."""

import json

import click

from .._plugins import plugins_info


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def plugins(ctx, as_json):
    """List loaded plugins: name, version, hooks and what each registered.

    Plugins come from the 'anovae' entry-point group; set ANOVAE_PLUGINS to a
    comma-separated list of names to load only those.
    """
    root = ctx.find_root().command
    commands = root.plugin_commands() if hasattr(root, "plugin_commands") else {}
    info = plugins_info()
    for plugin in info:
        added = sorted(name for name, owner in commands.items() if owner == plugin["name"])
        if added:
            plugin["registered"]["commands"] = added
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if not info:
        click.echo("no plugins loaded")
        return
    for plugin in info:
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(f"{plugin['name']}{version}")
        click.echo(f"  hooks: {', '.join(plugin['hooks']) or 'none'}")
        for kind, names in sorted(plugin["registered"].items()):
            click.echo(f"  {kind}: {', '.join(names)}")
