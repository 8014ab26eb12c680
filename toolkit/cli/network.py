"""``ovlab network create|ls|inspect|rm``: overlay networks, as `docker network …`."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.common import emit_json, needs_root
from toolkit.cli.options import JsonOpt, LabOpt, NodeOpt
from toolkit.cli.overlay_common import StoreTimeoutOpt, ask, ask_snapshot

app = typer.Typer(help="Overlay networks: create, ls, inspect, rm.", no_args_is_help=True)

NetworkArg = Annotated[str, typer.Argument(help="Network name.", show_default=False)]


@app.command()
@needs_root()
def create(
    name: NetworkArg,
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

    net = Network.from_wire(
        ask(
            node, lab, "network_create", json_out, store_timeout,
            name=name, subnet=subnet, driver=driver,
        )
    )  # fmt: skip
    if json_out:
        emit_json("network create", net.to_dict())
    else:
        typer.echo(net.id)


@app.command("ls")
@needs_root()
def ls(
    node: NodeOpt = None,
    lab: LabOpt = None,
    json_out: JsonOpt = False,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """List networks: NETWORK ID, NAME, TYPE, plus subnet and VNI."""
    from toolkit.overlay.views import networks

    snap = ask_snapshot(node, lab, json_out, store_timeout)
    nets = networks(snap)
    if json_out:
        emit_json("network ls", [n.to_dict() for n in nets])
        return
    from toolkit.render.overlay import print_networks

    print_networks(nets, list(snap.endpoints.values()))


@app.command()
@needs_root()
def inspect(
    name: Annotated[str, typer.Argument(help="Network name or id prefix.", show_default=False)],
    node: NodeOpt = None,
    lab: LabOpt = None,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Show a network and its endpoints as JSON (always: as `docker network inspect`)."""
    from toolkit.overlay.views import network_detail

    snap = ask_snapshot(node, lab, True, store_timeout)
    emit_json("network inspect", network_detail(snap, name))


@app.command()
@needs_root()
def rm(
    name: NetworkArg,
    node: NodeOpt = None,
    lab: LabOpt = None,
    store_timeout: StoreTimeoutOpt = None,
) -> None:
    """Remove a network that has no endpoints."""
    from toolkit.overlay.model import Network

    net = Network.from_wire(ask(node, lab, "network_rm", False, store_timeout, name=name))
    typer.echo(net.name)
