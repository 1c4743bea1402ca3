"""``anovae plugins``: what each loaded plugin is and what it added.

The plain listing reads names, versions and hooks from the plugin manager without
calling any hook, so it answers at once; ``--verbose`` also lists what each plugin
registered, which asks every plugin (some import their data's module to say so).
"""

import json

import click

from .._plugins import plugins_info


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("-v", "--verbose", is_flag=True, help="Also list what each plugin registered.")
@click.pass_context
def plugins(ctx, as_json, verbose):
    """List loaded plugins: name, version and hooks (-v: what each registered).

    The built-in plugins always load; third-party ones come from the 'anovae'
    entry-point group, and ANOVAE_PLUGINS (a comma-separated list of names, empty
    for none) restricts which of those load.
    """
    info = plugins_info(registered=verbose)
    if verbose:
        root = ctx.find_root().command
        commands = root.plugin_commands() if hasattr(root, "plugin_commands") else {}
        for plugin in info:
            added = sorted(name for name, owner in commands.items() if owner == plugin["name"])
            if added:
                plugin["registered"]["commands"] = added
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for plugin in info:
        version = f" {plugin['version']}" if plugin["version"] else ""
        builtin = " (built-in)" if plugin["builtin"] else ""
        click.echo(f"{plugin['name']}{version}{builtin}")
        click.echo(f"  hooks: {', '.join(plugin['hooks']) or 'none'}")
        for kind, names in sorted(plugin.get("registered", {}).items()):
            click.echo(f"  {kind}: {', '.join(names)}")
