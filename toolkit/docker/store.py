"""Docker's classic overlay control plane: the external store's ``docker/network/v1.0/``
keys (Docker ≤ 20.10 with ``--cluster-store``), read through etcd's v2 API or Consul's KV,
as one :class:`toolkit.overlay.model.Snapshot`.

libnetwork keeps there (libnetwork/network.go, endpoint.go, drivers/overlay/ov_network.go):

    network/<nid>               {id, name, networkType, ipamV4Info: [{IPAMData: {Gateway, Pool}}]}
    overlay/network/<nid>       {subnets: [{SubnetIP, GwIP, Vni}]}         (the VNI)
    endpoint/<nid>/<eid>        {id, name, ep_iface: {addr, mac}, locator}  (locator: the
                                 owning host's advertise address, i.e. its VTEP)

The store is asked from inside the daemon's own network namespace, so its address means
what it means to the daemon (a store on the underlay of a lab VM is reachable too).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from toolkit.docker.http import exchange
from toolkit.errors import OvlabError, UsageError
from toolkit.host.ns import inside
from toolkit.overlay.model import IANA_VXLAN_PORT, Endpoint, Host, Network, Snapshot

ROOT = "docker/network/v1.0/"


class StoreUnreachable(OvlabError):
    """The cluster store does not answer (exit 4: the daemon's control plane is down too)."""


def _split(url: str) -> tuple[str, str, int]:
    """``etcd://h:p[,h2:p2]`` or ``consul://h:p`` -> (kind, first host, port)."""
    parts = urlsplit(url)
    kind = parts.scheme
    if kind not in ("etcd", "consul"):
        raise UsageError(
            f"cluster store {url!r} is neither etcd nor consul",
            hint="ovlab reads etcd (v2 API) and Consul stores",
        )
    first = (parts.netloc or parts.path).split(",")[0]
    host, _, port = first.rpartition(":")
    default = 2379 if kind == "etcd" else 8500
    if not host:
        host, port = first, ""
    return kind, host, int(port) if port.isdigit() else default


def _get(netns: str | None, host: str, port: int, path: str, url: str) -> tuple[int, bytes]:
    """One HTTP GET to the store, its TCP socket made inside ``netns``."""
    try:
        if netns:
            with inside(netns, "net"):
                s = socket.create_connection((host, port), timeout=3.0)
        else:
            s = socket.create_connection((host, port), timeout=3.0)
        with s:
            return exchange(s, "GET", path)
    except OSError as exc:
        where = f" (asked from {netns})" if netns else ""
        raise StoreUnreachable(
            f"cluster store {url} does not answer: {exc.strerror or exc}{where}",
            hint="is etcd/consul running and reachable from the Docker host?",
        ) from None


def read_keys(url: str, netns: str | None = None) -> dict[str, bytes]:
    """Every key under ``docker/network/v1.0/`` (key without the root -> raw value)."""
    kind, host, port = _split(url)
    if kind == "etcd":
        status, body = _get(netns, host, port, f"/v2/keys/{ROOT}?recursive=true", url)
        if status == 404:
            return {}
        if status != 200:
            raise StoreUnreachable(
                f"cluster store {url} answered HTTP {status} (etcd v2 API)",
                hint="etcd must run with --enable-v2 for Docker's libkv",
            )
        out: dict[str, bytes] = {}

        def walk(node: dict[str, Any]) -> None:
            for child in node.get("nodes") or []:
                walk(child)
            if "value" in node:
                out[node["key"].lstrip("/")[len(ROOT) :]] = str(node["value"]).encode()

        walk(json.loads(body).get("node") or {})
        return out
    status, body = _get(netns, host, port, f"/v1/kv/{ROOT}?recurse=true", url)
    if status == 404:
        return {}
    if status != 200:
        raise StoreUnreachable(f"cluster store {url} answered HTTP {status} (Consul KV)")
    return {
        e["Key"][len(ROOT) :]: base64.b64decode(e["Value"]) if e.get("Value") else b""
        for e in json.loads(body)
    }


def parse(keys: dict[str, bytes], host_of: dict[str, str] | None = None) -> Snapshot:
    """Docker's store keys as ovlab's Snapshot: overlay networks (subnet, gateway, VNI)
    and their endpoints (IP, MAC, VTEP = the endpoint's ``locator``).

    ``host_of`` maps a VTEP to a host's name (the daemon's Name); an endpoint of a host
    not in it keeps its VTEP as host. Keys that are not JSON are left out.
    """
    host_of = host_of or {}
    snap = Snapshot()
    vnis: dict[str, dict[str, Any]] = {}
    for key, raw in keys.items():
        if key.startswith("overlay/network/"):
            try:
                subs = json.loads(raw).get("subnets") or []
            except ValueError:
                continue
            if subs:
                vnis[key.rsplit("/", 1)[1]] = subs[0]
    for key, raw in keys.items():
        if not key.startswith("network/"):
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        nid = str(data.get("id") or key.rsplit("/", 1)[1])
        if data.get("networkType") != "overlay" or nid not in vnis:
            continue
        sub = vnis[nid]
        gw = str(sub.get("GwIP") or "").split("/")[0]
        snap.networks[nid] = Network(
            nid,
            str(data.get("name") or nid[:12]),
            str(sub.get("SubnetIP")),
            gw,
            int(sub.get("Vni") or 0),
            "overlay",
        )
    for key, raw in keys.items():
        part = key.split("/")
        if len(part) != 3 or part[0] != "endpoint" or part[1] not in snap.networks:
            continue
        try:
            data = json.loads(raw)
            iface = data.get("ep_iface") or {}
            ip = str(ipaddress.IPv4Interface(iface["addr"]).ip)
        except (ValueError, KeyError, TypeError):
            continue
        vtep = str(data.get("locator") or "")
        snap.endpoints[part[2]] = Endpoint(
            part[2],
            part[1],
            str(data.get("name") or part[2][:12]),
            ip,
            str(iface.get("mac") or ""),
            host_of.get(vtep, vtep),
            vtep,
        )
    for vtep in sorted({e.vtep for e in snap.endpoints.values()} | set(host_of)):
        name = host_of.get(vtep, vtep)
        snap.hosts[name] = Host(name, vtep, IANA_VXLAN_PORT)
    return snap


def sandboxes(keys: dict[str, bytes]) -> dict[str, str]:
    """Endpoint id -> its sandbox id (the container's namespace is pinned as the sandbox
    id's first 12 characters under the daemon's netns/ directory: osl/namespace_linux.go)."""
    out = {}
    for key, raw in keys.items():
        part = key.split("/")
        if len(part) != 3 or part[0] != "endpoint":
            continue
        try:
            sandbox = json.loads(raw).get("sandbox")
        except (ValueError, AttributeError):
            continue
        if isinstance(sandbox, str) and sandbox:
            out[part[2]] = sandbox
    return out
