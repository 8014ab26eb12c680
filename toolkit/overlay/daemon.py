"""The overlay agent as a process: its settings checked, its loops and API served until SIGTERM.

``ovlab agent`` parses options and calls :func:`settings`, then :func:`vtep` for
``--check`` or :func:`serve`. The agent's own work is toolkit.overlay.agent's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.host.paths import AGENT_SOCKET

# Consul refuses a session TTL under 10 s (consul/structs: SessionTTLMin).
MIN_TTL = 10


@dataclass(frozen=True)
class Settings:
    """One agent's settings, checked. ``ttl`` in seconds; ``token`` the Consul ACL token."""

    consul_host: str
    consul_port: int
    bind_interface: str = "eth1"
    vxlan_port: int = 4789
    token: str | None = None
    host: str = ""  # the host name in the store; the hostname when empty
    lab: str | None = None
    ttl: int = MIN_TTL
    socket: str = AGENT_SOCKET


def settings(
    store: str,
    bind_interface: str,
    vxlan_port: int,
    token_file: Path | None,
    host: str | None,
    lab: str | None,
    ttl: int,
    socket: str,
) -> Settings:
    """Check the options and read the token file. Raises UsageError (exit 2), one line."""
    from toolkit.overlay.store import parse_store_url

    if ttl < MIN_TTL:
        raise UsageError(f"--ttl {ttl}: Consul's shortest session TTL is {MIN_TTL} s")
    chost, cport = parse_store_url(store)
    token = None
    if token_file:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file {token_file}: {exc.strerror}") from exc
    return Settings(
        chost, cport, bind_interface, vxlan_port, token, host or os.uname().nodename, lab, ttl,
        socket,
    )  # fmt: skip


def vtep(s: Settings) -> str:
    """The VTEP address: the bind interface's first IPv4 address. UsageError when none."""
    from toolkit.overlay import dataplane

    found = dataplane.interface_ipv4(s.bind_interface)
    if not found:
        raise UsageError(
            f"--bind-interface {s.bind_interface}: no such interface with an IPv4 address",
            hint="the VTEP is that interface's first IPv4 address",
        )
    return str(found[0])


def serve(s: Settings) -> None:
    """Run the agent (session keeper, watch, reconcile) and its local API until SIGTERM.

    Logs JSON lines on stderr (toolkit.overlay.logfmt); blocks; returns after SIGTERM.
    """
    import logging
    import signal
    import threading

    from toolkit.consul.client import Consul
    from toolkit.overlay import api
    from toolkit.overlay.agent import Agent
    from toolkit.overlay.logfmt import setup_logging

    setup_logging()
    where = f"{s.consul_host}:{s.consul_port}"
    consul = Consul(
        token=s.token, host=s.consul_host, port=s.consul_port, timeout=40.0, where=where
    )
    agent = Agent(consul, s.host, s.bind_interface, s.vxlan_port, s.lab, s.ttl)
    server = api.Server(s.socket, agent)

    def stop(*_: object) -> None:
        agent.stopping.set()
        server.shutdown()

    signal.signal(signal.SIGTERM, stop)
    agent.start()
    logging.getLogger("ovlab.agent").info(
        "agent up", extra={"host": agent.host, "vtep": agent.vtep}
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    agent.stopping.wait()
    server.shutdown()
