"""``ovlab run``, ``ps``, ``rm`` and ``service ls``: the demo's Docker commands."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import ContainerArg, JsonOpt, LabOpt, NodeOpt
from toolkit.cli.overlay_common import StoreTimeoutOpt, ask_snapshot
from toolkit.errors import UsageError

service_app = typer.Typer(help="Published services: ls.", no_args_is_help=True)


@needs_root()
def run_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Container name (unique in the lab).")],
    detach: Annotated[
        bool, typer.Option("-d", "--detach", help="Run in the background (always).")
    ] = True,
    net: Annotated[
        str | None, typer.Option("--net", help="Network to join (created if missing).")
    ] = None,
    publish_service: Annotated[
        str | None,
        typer.Option("--publish-service", help="SVC.NET.overlay: join NET as service SVC."),
    ] = None,
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Run a container (its own net, mount and UTS namespaces) on an overlay network."""
    from toolkit.cli.waiting import WaitSpinner
    from toolkit.overlay.client import run_container

    args = list(ctx.args)
    if args and args[0] != "--" and args[0].startswith("-"):
        # A mistyped option must not become the container's command.
        raise UsageError(f"no such option: {args[0]}", hint="put the container's command after --")
    cmd = args[1:] if args[:1] == ["--"] else args
    with WaitSpinner(not json_out) as spinner:
        result = run_container(node, lab, name, net, publish_service, cmd, store_timeout, spinner)
    if json_out:
        emit_json("run", result)
    else:
        typer.echo(result["id"])


@needs_root()
def ps_command(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """List the lab's containers (every host), from the store."""
    from toolkit.overlay.views import container_rows

    rows = container_rows(ask_snapshot(node, lab, json_out, store_timeout))
    if json_out:
        emit_json("ps", rows)
        return
    from toolkit.render.overlay import print_containers

    print_containers(rows)


@needs_root()
def rm_command(
    name: ContainerArg,
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Remove a container: stop it and withdraw its endpoint everywhere."""
    from toolkit.cli.waiting import WaitSpinner
    from toolkit.overlay.views import remove_container

    with WaitSpinner(not json_out) as spinner:
        result = remove_container(node, lab, name, store_timeout, spinner)
    if json_out:
        emit_json("rm", result)
    else:
        typer.echo(name)


@service_app.command("ls")
@needs_root()
def service_ls(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Published services: SERVICE ID, NAME, NETWORK, CONTAINER."""
    from toolkit.overlay.views import service_rows

    rows = service_rows(ask_snapshot(node, lab, json_out, store_timeout))
    if json_out:
        emit_json("service ls", rows)
        return
    from toolkit.render.overlay import print_services

    print_services(rows)
