"""``ovlab agent``: the overlay daemon of one host (run by its service manager)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli.common import needs_root
from toolkit.cli.options import PortOpt
from toolkit.host.paths import AGENT_SOCKET


def _needs_root(params: dict[str, Any]) -> bool:
    return not params.get("check")  # --check only reads settings and an address


@needs_root(_needs_root)
def agent_command(
    store: Annotated[
        str, typer.Option("--store", help="consul://HOST:PORT (the demo's --kv-store).")
    ] = ("consul://127.0.0.1:8500"),
    bind_interface: Annotated[
        str, typer.Option("--bind-interface", help="VTEP interface.")
    ] = "eth1",
    vxlan_port: PortOpt = 4789,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="File holding the Consul ACL token.")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Host name (default: the hostname).")
    ] = None,
    lab: Annotated[
        str | None, typer.Option("--lab", help="Lab name, tagged on container processes.")
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Session TTL in seconds (host liveness).")] = 10,
    socket_path: Annotated[str, typer.Option("--socket", help="Local API socket.")] = AGENT_SOCKET,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Check the settings (store URL, port, TTL, VTEP address) and exit."
        ),
    ] = False,
) -> None:
    """Run the overlay agent: Consul control plane, kernel VXLAN data plane, local API."""
    from toolkit.overlay import daemon

    s = daemon.settings(store, bind_interface, vxlan_port, token_file, host, lab, ttl, socket_path)
    if check:
        typer.echo(
            f"agent settings ok: store {s.consul_host}:{s.consul_port}, VTEP {daemon.vtep(s)}"
            f" on {bind_interface}, VXLAN port {vxlan_port}, TTL {ttl}s"
        )
        return
    daemon.serve(s)
