"""The overlay's store in Consul: snapshots, blocking watches, sessions, atomic allocation."""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import time
import urllib.parse
from typing import Any

from toolkit.consul.client import Consul, ConsulError
from toolkit.errors import UsageError
from toolkit.overlay import model
from toolkit.overlay.model import Endpoint, Network, Snapshot


class Conflict(Exception):
    """A transaction lost a race (or a name is taken); the caller may retry."""


class SessionInvalid(ConsulError):
    """A lock named a session Consul no longer has: the agent must make a new one first."""


# Idempotent allocation. A write to Consul that fails without a clear answer (the
# connection drops, the request times out, or a 5xx arrives while the cluster elects a
# leader) may still be applied: raft can commit an entry the old leader had replicated,
# after the client has been told "No cluster leader". So an allocation is never simply
# sent again with fresh identities: that could leave two networks or two endpoints for
# one request. Instead every attempt of one request reuses the same id (network id,
# endpoint id), the txn guards the name with check-not-exists, and each attempt starts
# by re-reading the store: finding the name held by our own id means an earlier attempt
# did commit, and that record (as stored) is the answer. At most one attempt can ever
# commit, because they all check the same name key inside one atomic txn.


def parse_store_url(url: str) -> tuple[str, int]:
    """``consul://HOST:PORT`` (as the demo's ``--kv-store consul:HOST:PORT``) to host, port."""
    if url.startswith("consul:") and not url.startswith("consul://"):
        url = "consul://" + url[len("consul:") :]
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "consul" or not parts.hostname:
        raise UsageError(f"store {url!r} is not consul://HOST:PORT")
    return parts.hostname, parts.port or 8500


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


class Store:
    """Typed operations on the overlay's keys."""

    def __init__(self, consul: Consul) -> None:
        self.consul = consul

    # -- reading -------------------------------------------------------------

    def snapshot(self, index: int = 0, wait: str = "30s") -> Snapshot:
        """Everything under the root; with index > 0, block until it changes (or wait ends)."""
        params: dict[str, Any] = {"recurse": "true"}
        if index:
            params.update(index=index, wait=wait)
        status, headers, data = self.consul.request("GET", "/v1/kv/" + model.ROOT, params=params)
        if status not in (200, 404):
            raise ConsulError.from_answer(self.consul.where, "GET", "/v1/kv/", status, data)
        new_index = int(headers.get("x-consul-index", "0") or 0)
        entries = json.loads(data) if status == 200 and data else []
        return model.parse_tree(entries, new_index)

    # -- sessions --------------------------------------------------------------

    def session_create(self, host: str, ttl: int) -> str:
        """A session whose locks vanish (behaviour delete) when the host stops renewing it."""
        body = json.dumps(
            {
                "Name": f"ovlab-agent-{host}",
                "TTL": f"{ttl}s",
                "Behavior": "delete",
                "LockDelay": "0s",
            }
        )
        return str(self.consul.put("/v1/session/create", body)["ID"])

    def session_renew(self, sid: str) -> bool:
        """Renew; False when the session is gone (then locks were already released)."""
        status, _, _ = self.consul.request("PUT", f"/v1/session/renew/{sid}")
        return status == 200

    def session_destroy(self, sid: str) -> None:
        """End a session now (its locked keys are deleted)."""
        self.consul.request("PUT", f"/v1/session/destroy/{sid}")

    # -- transactions ----------------------------------------------------------

    def txn(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run KV operations atomically; Conflict when a check fails."""
        body = json.dumps([{"KV": op} for op in ops])
        status, _, data = self.consul.request("PUT", "/v1/txn", body=body.encode())
        if status == 409:
            errors = json.loads(data).get("Errors") or []
            what = "; ".join(e.get("What", "") for e in errors) or "conflict"
            if "invalid session" in what:
                raise SessionInvalid(
                    f"the agent's Consul session is gone: {what}", status=409, transient=True
                )
            raise Conflict(what)
        if status != 200:
            raise ConsulError.from_answer(self.consul.where, "PUT", "/v1/txn", status, data)
        return list(json.loads(data).get("Results") or [])

    def register_host(self, sid: str, host: str, vtep: str, port: int) -> None:
        """Announce this host and its VTEP, held by its session."""
        value = json.dumps({"host": host, "vtep": vtep, "port": port})
        self.txn(
            [{"Verb": "lock", "Key": model.k_host(host), "Value": _b64(value), "Session": sid}]
        )

    # -- networks --------------------------------------------------------------

    def create_network(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "overlay",
        net_id: str | None = None,
    ) -> Network:
        """Create a network with the lowest free VNI (and subnet, unless given).

        ``net_id`` (64 hex) makes a repeated request idempotent: when the name is
        already held by that id, an earlier attempt committed and its record is returned.
        """
        if driver != "overlay":
            raise UsageError(f"driver {driver!r} is not supported", hint="use -d overlay")
        net_id = net_id or secrets.token_hex(32)
        for _ in range(20):
            snap = self.snapshot()
            found = snap.network_by_name(name)
            if found and found.name == name:
                if found.id == net_id:
                    return found  # an earlier attempt of this request committed
                raise UsageError(f"network {name!r} already exists")
            net = self._plan_network(snap, name, subnet, net_id)
            value = _b64(json.dumps(net.to_dict()))
            try:
                self.txn(
                    [
                        {"Verb": "check-not-exists", "Key": model.k_network_name(name)},
                        {"Verb": "check-not-exists", "Key": model.k_vni(net.vni)},
                        {"Verb": "set", "Key": model.k_network_name(name), "Value": _b64(net.id)},
                        {"Verb": "set", "Key": model.k_vni(net.vni), "Value": _b64(net.id)},
                        {"Verb": "set", "Key": model.k_network(net.id), "Value": value},
                    ]
                )
                return net
            except Conflict:
                time.sleep(0.01 + secrets.randbelow(20) / 1000)  # someone else won; look again
        raise ConsulError(f"could not allocate network {name!r}: too much contention")

    @staticmethod
    def _plan_network(snap: Snapshot, name: str, subnet: str | None, net_id: str) -> Network:
        used_vni = {n.vni for n in snap.networks.values()}
        vni = next(v for v in range(model.VNI_MIN, model.VNI_MAX) if v not in used_vni)
        taken = [ipaddress.IPv4Network(n.subnet) for n in snap.networks.values()]
        if subnet:
            try:
                net = ipaddress.IPv4Network(subnet)
            except ValueError as exc:
                raise UsageError(f"subnet {subnet!r} is invalid: {exc}") from exc
            if net.prefixlen > 29:
                raise UsageError(f"subnet {subnet} is too small", hint="use /29 or larger")
            clash = [t for t in taken if t.overlaps(net)]
            if clash:
                raise UsageError(f"subnet {subnet} overlaps network subnet {clash[0]}")
        else:
            net = next(
                c
                for c in (ipaddress.IPv4Network(f"10.0.{i}.0/24") for i in range(256))
                if not any(t.overlaps(c) for t in taken)
            )
        gateway = str(next(net.hosts()))
        return Network(
            id=net_id,
            name=name,
            subnet=str(net),
            gateway=gateway,
            vni=vni,
            created=round(time.time(), 3),
        )

    def remove_network(self, net: Network, snap: Snapshot) -> None:
        """Delete a network that has no endpoints left."""
        eps = snap.endpoints_of(net.id)
        if eps:
            names = ", ".join(sorted(e.name for e in eps))
            raise UsageError(
                f"network {net.name!r} has active endpoints ({names})",
                hint="remove those containers first ('ovlab rm NAME')",
            )
        self.txn(
            [
                {"Verb": "delete", "Key": model.k_network(net.id)},
                {"Verb": "delete", "Key": model.k_network_name(net.name)},
                {"Verb": "delete", "Key": model.k_vni(net.vni)},
                {"Verb": "delete-tree", "Key": f"{model.ROOT}ipam/{net.id}/"},
            ]
        )

    # -- endpoints -------------------------------------------------------------

    def create_endpoint(
        self,
        sid: str,
        net: Network,
        name: str,
        host: str,
        vtep: str,
        service: str | None = None,
        container: str = "",
        prefer_ip: str | None = None,
        eid: str | None = None,
    ) -> Endpoint:
        """Allocate an IP and publish an endpoint, atomically, held by the host's session.

        ``eid`` (64 hex) makes a repeated request idempotent: when the name is already
        held by that endpoint id, an earlier attempt committed and its record is returned.
        """
        eid = eid or secrets.token_hex(32)
        for _ in range(50):
            snap = self.snapshot()
            held = snap.endpoint_by_name(name)
            if held and held[0].id == eid:
                return held[0]  # an earlier attempt of this request committed
            if net.id not in snap.networks:
                raise UsageError(f"network {net.name!r} was removed")
            if held:
                raise UsageError(f"container name {name!r} is already in use in the lab")
            used = {e.ip for e in snap.endpoints_of(net.id)} | self._ipam_used(net.id)
            ip = prefer_ip if prefer_ip and prefer_ip not in used else self._free_ip(net, used)
            prefer_ip = None  # only on the first try
            ep = Endpoint(
                id=eid,
                network=net.id,
                name=name,
                ip=ip,
                mac=model.container_mac(ip),
                host=host,
                vtep=vtep,
                service=service,
                container=container,
                created=round(time.time(), 3),
            )
            try:
                self.txn(
                    [
                        {"Verb": "check-not-exists", "Key": model.k_container_name(name)},
                        {"Verb": "check-not-exists", "Key": model.k_ip(net.id, ip)},
                        {
                            "Verb": "lock",
                            "Key": model.k_container_name(name),
                            "Value": _b64(f"{net.id}/{eid}"),
                            "Session": sid,
                        },
                        {
                            "Verb": "lock",
                            "Key": model.k_ip(net.id, ip),
                            "Value": _b64(eid),
                            "Session": sid,
                        },
                        {
                            "Verb": "lock",
                            "Key": model.k_endpoint(net.id, eid),
                            "Value": _b64(json.dumps(ep.to_dict())),
                            "Session": sid,
                        },
                    ]
                )
                return ep
            except Conflict as exc:
                holder = self._name_holder(name)
                if holder is not None and not holder.endswith("/" + eid):
                    raise UsageError(
                        f"container name {name!r} is already in use in the lab"
                    ) from exc
                # Lost an IP race, or our own earlier attempt holds the name: look again.
                time.sleep(secrets.randbelow(10) / 1000)
        raise ConsulError(f"could not allocate an address in {net.name}: too much contention")

    def _name_holder(self, name: str) -> str | None:
        """``<network id>/<endpoint id>`` holding a container name, or None when free."""
        entries = self.consul.get_json("/v1/kv/" + model.k_container_name(name))
        if not entries:
            return None
        return base64.b64decode(entries[0].get("Value") or "").decode(errors="replace")

    def _ipam_used(self, nid: str) -> set[str]:
        keys = self.consul.get_json("/v1/kv/" + f"{model.ROOT}ipam/{nid}/", {"keys": "true"}) or []
        return {k.rsplit("/", 1)[-1] for k in keys}

    @staticmethod
    def _free_ip(net: Network, used: set[str]) -> str:
        for addr in ipaddress.IPv4Network(net.subnet).hosts():
            text = str(addr)
            if text != net.gateway and text not in used:
                return text
        raise UsageError(f"network {net.name!r} ({net.subnet}) has no free address")

    def remove_endpoint(self, ep: Endpoint) -> None:
        """Withdraw an endpoint and free its IP and name, if they are still this endpoint's.

        The IP and name keys are deleted only while they hold this endpoint's id
        (delete-cas on the index just read): after a lost session, the same container
        is published again under a new endpoint id, often with the same IP and always
        with the same name, and withdrawing the old record from a stale snapshot must
        not free the new one's IP and name (that would let a second container take them).
        Safe to repeat: deleting keys that are gone is a no-op.
        """
        owned = {
            model.k_ip(ep.network, ep.ip): ep.id,
            model.k_container_name(ep.name): f"{ep.network}/{ep.id}",
        }
        for _ in range(10):
            ops: list[dict[str, Any]] = [
                {"Verb": "delete", "Key": model.k_endpoint(ep.network, ep.id)}
            ]
            for key, value in owned.items():
                entries = self.consul.get_json("/v1/kv/" + key)
                if not entries:
                    continue
                held = base64.b64decode(entries[0].get("Value") or "").decode(errors="replace")
                if held == value:
                    ops.append(
                        {"Verb": "delete-cas", "Key": key, "Index": entries[0]["ModifyIndex"]}
                    )
            try:
                self.txn(ops)
                return
            except Conflict:
                time.sleep(secrets.randbelow(10) / 1000)  # changed since we read it: again
        raise ConsulError(f"could not withdraw endpoint {ep.name}: too much contention")
