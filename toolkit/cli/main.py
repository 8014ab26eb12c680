"""The ``ovlab`` command: one typer app, one module per command group."""

from __future__ import annotations

import typer

from toolkit.cli import agent_cmd, consul, containers, exec_cmd, lab, netns, network, provision
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
app.add_typer(network.app, name="network")
app.add_typer(containers.service_app, name="service")
_extra = {"allow_extra_args": True, "ignore_unknown_options": True}
app.command("run", context_settings=_extra)(containers.run_command)
app.command("ps")(containers.ps_command)
app.command("rm")(containers.rm_command)
app.command("agent")(agent_cmd.agent_command)
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
