"""``ovlab run``, ``ps``, ``rm`` and ``service ls``: the demo's Docker commands."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, require_privileges
from toolkit.cli.overlay_common import (
    JsonOpt,
    LabOpt,
    NodeOpt,
    StoreTimeoutOpt,
    ask,
    ask_snapshot,
)
from toolkit.errors import UsageError

service_app = typer.Typer(help="Published services: ls.", no_args_is_help=True)


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

    require_privileges()
    args = list(ctx.args)
    if args and args[0] != "--" and args[0].startswith("-"):
        # A mistyped option must not become the container's command.
        raise UsageError(f"no such option: {args[0]}", hint="put the container's command after --")
    cmd = args[1:] if args[:1] == ["--"] else args
    with WaitSpinner(not json_out) as spinner:
        result = run_container(node, lab, name, net, publish_service, cmd, store_timeout, spinner)
    if json_out:
        emit_json(result)
    else:
        typer.echo(result["id"])


def ps_command(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """List the lab's containers (every host), from the store."""
    require_privileges()
    snap = ask_snapshot(node, lab, json_out, store_timeout)
    nets = {n.id: n.name for n in snap.networks.values()}
    rows = sorted(
        (
            {
                "id": e.container,
                "name": e.name,
                "host": e.host,
                "network": nets.get(e.network, "?"),
                "ip": e.ip,
                "mac": e.mac,
                "service": e.service,
            }
            for e in snap.endpoints.values()
        ),
        key=lambda r: r["name"] or "",
    )
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.overlay import print_containers

    print_containers(rows)


def rm_command(
    name: Annotated[str, typer.Argument(help="Container name.")],
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Remove a container: stop it and withdraw its endpoint everywhere."""
    import time

    from toolkit.overlay.client import resolve_timeout

    require_privileges()
    limit, t0 = resolve_timeout(store_timeout), time.monotonic()
    if node is None:
        # Ask the store which host runs it, then that host's agent.
        snap = ask_snapshot(None, lab, json_out, limit)
        hosts = [e.host for e in snap.endpoint_by_name(name)]
        if hosts:
            node = _host_ref(name, hosts[0], lab)
    left = max(0.0, limit - (time.monotonic() - t0))  # one budget for both requests
    result = ask(node, lab, "rm", json_out, left, name=name)
    if json_out:
        emit_json(result)
    else:
        typer.echo(name)


def _host_ref(container: str, host: str, lab: str | None) -> str | None:
    """How to reach the agent of ``host``: None for this host's own, else a lab node."""
    import os

    from toolkit.lab import registry
    from toolkit.overlay.api import SOCKET

    local = os.path.exists(SOCKET)
    if local and host == os.uname().nodename:
        return None  # on the VM itself (over ssh, say): its own agent
    labs = {v.lab for v in registry.vms(lab) if v.node == host}
    if labs:
        return f"{labs.pop()}/{host}" if len(labs) == 1 else host
    if local:
        raise UsageError(
            f"{container} runs on host {host}, not on this one",
            hint=f"run 'ovlab rm {container}' on {host}",
        )
    return host


@service_app.command("ls")
def service_ls(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Published services: SERVICE ID, NAME, NETWORK, CONTAINER."""
    require_privileges()
    snap = ask_snapshot(node, lab, json_out, store_timeout)
    nets = {n.id: n.name for n in snap.networks.values()}
    rows = sorted(
        (
            {
                "service_id": e.id[:12],
                "name": e.service,
                "network": nets.get(e.network, "?"),
                "container": e.container[:12],
                "container_name": e.name,
                "ip": e.ip,
            }
            for e in snap.endpoints.values()
            if e.service
        ),
        key=lambda r: r["name"] or "",
    )
    if json_out:
        emit_json(rows)
        return
    from toolkit.render.overlay import print_services

    print_services(rows)
