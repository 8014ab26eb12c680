"""Tables for overlay state: networks, containers, services (as the demo's Docker showed them)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from toolkit.overlay.model import Endpoint, Network
from toolkit.render.console import stdout_console


def _table(title: str, cols: list[str]) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for c in cols:
        t.add_column(c)
    return t


def print_networks(nets: list[Network], endpoints: list[Endpoint]) -> None:
    """NETWORK ID, NAME, TYPE, SUBNET, VNI, ENDPOINTS."""
    t = _table("networks", ["NETWORK ID", "NAME", "TYPE", "SUBNET", "GATEWAY", "VNI", "ENDPOINTS"])
    for n in nets:
        count = sum(1 for e in endpoints if e.network == n.id)
        t.add_row(n.id[:12], n.name, n.driver, n.subnet, n.gateway, str(n.vni), str(count))
    stdout_console().print(t)


def print_containers(rows: list[dict[str, Any]]) -> None:
    """CONTAINER ID, NAME, HOST, NETWORK, IP, MAC, SERVICE."""
    t = _table("containers", ["CONTAINER ID", "NAME", "HOST", "NETWORK", "IP", "MAC", "SERVICE"])
    for r in rows:
        t.add_row(
            r["id"][:12], r["name"], r["host"], r["network"], r["ip"], r["mac"], r["service"] or "-"
        )
    stdout_console().print(t)


def print_services(rows: list[dict[str, Any]]) -> None:
    """SERVICE ID, NAME, NETWORK, CONTAINER — the demo's `service ls` columns."""
    t = _table("services", ["SERVICE ID", "NAME", "NETWORK", "CONTAINER"])
    for r in rows:
        t.add_row(r["service_id"], r["name"], r["network"], r["container"])
    stdout_console().print(t)
