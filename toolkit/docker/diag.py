"""Swarm mode's control plane: NetworkDB, read through the daemon's diagnostic server.

The server (libnetwork/diagnostic) listens on 127.0.0.1:<network-diagnostic-port> in the
daemon's network namespace. Docker 20.10 starts it only on a configuration reload: set
``"network-diagnostic-port": 2000`` in daemon.json, then ``kill -HUP <dockerd pid>``.
Answers (``&json``) are ``{"message": "OK", "details": {"size": N, "entries": [...]}}``:

    /networkpeers?nid=NID          entries {"-=name": node, "ip": node address}
    /gettable?nid=NID&tname=overlay_peer_table   key eid, value base64 PeerRecord
    /gettable?nid=NID&tname=endpoint_table       key eid, value base64 EndpointRecord

PeerRecord (drivers/overlay/overlay.proto): 1 endpoint_ip ("10.0.9.4/24"), 2 endpoint_mac,
3 tunnel_endpoint_ip (the owner's VTEP). EndpointRecord (agent.proto): 1 name, 5
endpoint_ip. Both are decoded here with a minimal protobuf reader (strings only).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
from typing import Any

from toolkit.docker.discover import DockerHost
from toolkit.docker.http import exchange
from toolkit.errors import EnvError, OvlabError
from toolkit.host.ns import inside
from toolkit.host.paths import proc_ns
from toolkit.overlay.model import IANA_VXLAN_PORT, Endpoint, Host, Network, Snapshot

HOWTO = (
    'set "network-diagnostic-port": 2000 in daemon.json, then kill -HUP <dockerd pid> '
    "(Docker 20.10 starts the diagnostic server on reload)"
)


class DiagUnreachable(OvlabError):
    """The diagnostic port is set but nothing answers there (exit 4)."""


def fields(raw: bytes) -> dict[int, list[bytes]]:
    """Length-delimited fields of a protobuf message (number -> values); varints skipped."""
    out: dict[int, list[bytes]] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = raw[i]
            i += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    while i < len(raw):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 2:
            n = varint()
            out.setdefault(num, []).append(raw[i : i + n])
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {i}")
    return out


def _str(f: dict[int, list[bytes]], num: int) -> str:
    return f[num][0].decode(errors="replace") if f.get(num) else ""


def entries(answer: object) -> list[dict[str, Any]]:
    """The entries of one diagnostic answer (OvlabError when it is not an OK answer)."""
    if not isinstance(answer, dict) or answer.get("message") != "OK":
        raise OvlabError(f"diagnostic server answered: {str(answer)[:120]}")
    details = answer.get("details") or {}
    return list(details.get("entries") or [])


def get(h: DockerHost, path: str) -> Any:
    """One GET to the host's diagnostic server, from inside its network namespace."""
    if h.diag_port is None:
        raise EnvError(f"{h.name} is in swarm mode without a network-diagnostic-port", hint=HOWTO)
    try:
        if os.stat(h.netns_path).st_ino == os.stat(proc_ns("self", "net")).st_ino:
            s = socket.create_connection(("127.0.0.1", h.diag_port), timeout=3.0)
        else:  # the server listens on the loopback of the daemon's own namespace
            with inside(h.netns_path, "net"):
                s = socket.create_connection(("127.0.0.1", h.diag_port), timeout=3.0)
        with s:
            _status, body = exchange(s, "GET", path)
    except OSError as exc:
        raise DiagUnreachable(
            f"{h.name}: the diagnostic server on 127.0.0.1:{h.diag_port} does not answer: "
            f"{exc.strerror or exc}",
            hint=HOWTO,
        ) from None
    try:
        return json.loads(body)
    except ValueError:
        raise OvlabError(f"{h.name}: diagnostic server sent no JSON: {body[:80]!r}") from None


def network_of(data: dict[str, Any]) -> Network | None:
    """An overlay network from the Docker API's ``/networks/ID`` (VNI from its options)."""
    if data.get("Driver") != "overlay":
        return None
    conf = ((data.get("IPAM") or {}).get("Config") or [{}])[0]
    vnis = str(
        (data.get("Options") or {}).get("com.docker.network.driver.overlay.vxlanid_list") or "0"
    )
    return Network(
        str(data["Id"]),
        str(data.get("Name")),
        str(conf.get("Subnet") or ""),
        str(conf.get("Gateway") or ""),
        int(vnis.split(",")[0]),
    )


def parse(
    nets: list[Network], tables: dict[str, dict[str, list[dict[str, Any]]]], host_of: dict[str, str]
) -> Snapshot:
    """A Snapshot from NetworkDB tables: ``tables[nid][tname]`` are a gettable's entries.

    Every peer record becomes an endpoint (the load-balancer endpoint of an attachable
    network too: it has a kernel entry like any container); its name comes from the
    endpoint table where it has one.
    """
    snap = Snapshot()
    for net in nets:
        snap.networks[net.id] = net
        names: dict[str, str] = {}
        for e in tables.get(net.id, {}).get("endpoint_table", []):
            names[e["key"]] = _str(fields(base64.b64decode(e.get("value") or "")), 1)
        for e in tables.get(net.id, {}).get("overlay_peer_table", []):
            f = fields(base64.b64decode(e.get("value") or ""))
            try:
                ip = str(ipaddress.IPv4Interface(_str(f, 1)).ip)
            except ValueError:
                continue
            vtep = _str(f, 3)
            eid = str(e["key"])
            snap.endpoints[eid] = Endpoint(
                eid,
                net.id,
                names.get(eid) or f"lb/{eid[:12]}",
                ip,
                _str(f, 2),
                host_of.get(vtep, vtep),
                vtep,
            )
    for vtep in sorted({e.vtep for e in snap.endpoints.values()} | set(host_of)):
        name = host_of.get(vtep, vtep)
        snap.hosts[name] = Host(name, vtep, IANA_VXLAN_PORT)
    return snap


def snapshot(hosts: list[DockerHost], host_of: dict[str, str]) -> Snapshot:
    """NetworkDB of swarm overlay networks, read on each host (their union: every node
    holds the same tables once gossip has converged)."""
    nets: dict[str, Network] = {}
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for h in hosts:
        for n in h.api.networks():
            if n.get("Driver") != "overlay" or n.get("Name") == "ingress":
                continue
            net = network_of(h.api.network(str(n["Id"])))
            if net is None:
                continue
            nets[net.id] = net
            for tname in ("overlay_peer_table", "endpoint_table"):
                got = entries(get(h, f"/gettable?nid={net.id}&tname={tname}&json"))
                have = tables.setdefault(net.id, {}).setdefault(tname, [])
                seen = {e["key"] for e in have}
                have += [e for e in got if e["key"] not in seen]
    return parse(list(nets.values()), tables, host_of)
