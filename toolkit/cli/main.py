"""The ``ovlab`` command: one typer app, one module per command group."""

from __future__ import annotations

import typer

from toolkit.cli import consul, exec_cmd, lab, netns, provision
from toolkit.errors import OvlabError

app = typer.Typer(
    name="ovlab",
    help="Build, inspect and explain multi-host VXLAN overlay labs"
    " (after Docker's libnetwork demo).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(lab.app, name="lab")
app.add_typer(netns.app, name="netns")
app.command("provision")(provision.provision_command)
app.add_typer(consul.app, name="consul")
app.command(
    "exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(exec_cmd.exec_command)


def run() -> None:
    """Console-script entry: run the app, turning OvlabError into one line and an exit code."""
    from toolkit.cli.common import fail

    try:
        app()
    except OvlabError as exc:
        fail(exc)


if __name__ == "__main__":
    run()
