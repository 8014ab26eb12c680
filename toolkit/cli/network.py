"""``ovlab network create|ls|inspect|rm``: overlay networks, as `docker network …`."""

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

app = typer.Typer(help="Overlay networks: create, ls, inspect, rm.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Network name.")],
    driver: Annotated[str, typer.Option("-d", "--driver", help="Network driver.")] = "overlay",
    subnet: Annotated[
        str | None, typer.Option("--subnet", help="CIDR (default: next free 10.0.N.0/24).")
    ] = None,
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Create an overlay network (lab-wide; VNI and subnet allocated in the store)."""
    from toolkit.overlay.model import Network

    require_privileges()
    net = Network.from_wire(
        ask(
            node,
            lab,
            "network_create",
            json_out,
            store_timeout,
            name=name,
            subnet=subnet,
            driver=driver,
        )
    )
    if json_out:
        emit_json(net.to_dict())
    else:
        typer.echo(net.id)


@app.command("ls")
def ls(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """List networks: NETWORK ID, NAME, TYPE, plus subnet and VNI."""
    require_privileges()
    snap = ask_snapshot(node, lab, json_out, store_timeout)
    nets = sorted(snap.networks.values(), key=lambda n: n.name)
    if json_out:
        emit_json([n.to_dict() for n in nets])
        return
    from toolkit.render.overlay import print_networks

    print_networks(nets, list(snap.endpoints.values()))


@app.command()
def inspect(
    name: Annotated[str, typer.Argument(help="Network name or id prefix.")],
    node: NodeOpt = None,
    lab: LabOpt = None,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Show a network and its endpoints as JSON."""
    from toolkit.errors import NotFound
    from toolkit.suggest import did_you_mean

    require_privileges()
    snap = ask_snapshot(node, lab, True, store_timeout)
    all_nets = list(snap.networks.values())
    nets = [n for n in all_nets if n.name == name or n.id.startswith(name)]
    if len(nets) != 1:
        raise NotFound(f"no network {name!r}", hint=did_you_mean(name, [n.name for n in all_nets]))
    net = nets[0]
    eps = sorted((e for e in snap.endpoints.values() if e.network == net.id), key=lambda e: e.ip)
    emit_json({**net.to_dict(), "endpoints": [e.to_dict() for e in eps]})


@app.command()
def rm(
    name: Annotated[str, typer.Argument(help="Network name.")],
    node: NodeOpt = None,
    lab: LabOpt = None,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Remove a network that has no endpoints."""
    from toolkit.overlay.model import Network

    require_privileges()
    net = Network.from_wire(ask(node, lab, "network_rm", False, store_timeout, name=name))
    typer.echo(net.name)
