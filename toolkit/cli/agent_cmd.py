"""``ovlab agent``: the overlay daemon of one host (run by its service manager)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import require_privileges
from toolkit.host import paths


def agent_command(
    store: Annotated[
        str, typer.Option("--store", help="consul://HOST:PORT (the demo's --kv-store).")
    ] = ("consul://127.0.0.1:8500"),
    bind_interface: Annotated[
        str, typer.Option("--bind-interface", help="VTEP interface.")
    ] = "eth1",
    vxlan_port: Annotated[int, typer.Option("--vxlan-port", help="VXLAN UDP port.")] = 4789,
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
    socket_path: Annotated[
        str, typer.Option("--socket", help="Local API socket.")
    ] = paths.AGENT_SOCKET,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Check the settings (store URL, port, TTL, VTEP address) and exit."
        ),
    ] = False,
) -> None:
    """Run the overlay agent: Consul control plane, kernel VXLAN data plane, local API."""
    import logging
    import os
    import signal

    from toolkit.consul.client import Consul
    from toolkit.errors import UsageError
    from toolkit.overlay import api
    from toolkit.overlay.agent import Agent
    from toolkit.overlay.logfmt import setup_logging
    from toolkit.overlay.store import parse_store_url

    if not 1 <= vxlan_port <= 65535:
        raise UsageError(f"--vxlan-port {vxlan_port} is out of range 1-65535")
    if ttl < 10:
        raise UsageError(f"--ttl {ttl}: Consul's shortest session TTL is 10 s")
    chost, cport = parse_store_url(store)
    token = None
    if token_file:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file {token_file}: {exc.strerror}") from exc
    if check:
        from toolkit.overlay import dataplane

        found = dataplane.interface_ipv4(bind_interface)
        if not found:
            raise UsageError(
                f"--bind-interface {bind_interface}: no such interface with an IPv4 address",
                hint="the VTEP is that interface's first IPv4 address",
            )
        typer.echo(
            f"agent settings ok: store {chost}:{cport}, VTEP {found[0]} on {bind_interface},"
            f" VXLAN port {vxlan_port}, TTL {ttl}s"
        )
        return
    require_privileges()
    setup_logging()
    consul = Consul(token=token, host=chost, port=cport, timeout=40.0, where=f"{chost}:{cport}")
    agent = Agent(consul, host or os.uname().nodename, bind_interface, vxlan_port, lab, ttl)
    server = api.Server(socket_path, agent)
    signal.signal(signal.SIGTERM, lambda *_: (agent.stopping.set(), server.shutdown()))  # type: ignore[func-returns-value]
    agent.start()
    logging.getLogger("ovlab.agent").info(
        "agent up", extra={"host": agent.host, "vtep": agent.vtep}
    )
    import threading

    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    agent.stopping.wait()
    server.shutdown()
