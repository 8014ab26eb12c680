"""Consul: every VM's agent answers, members alive, a leader, ACLs and gossip as provisioned."""

from __future__ import annotations

import json
from typing import Any

from toolkit.consul.client import Consul, ConsulError
from toolkit.doctor.findings import Finding, in_vm, supervisor
from toolkit.doctor.view import LabView, VmView
from toolkit.host import paths

CONFIG = "/etc/consul.d/consul.json"
PROBE_KEY = "/v1/kv/ovlab-doctor/acl-probe"
ANONYMOUS = "00000000-0000-0000-0000-000000000002"  # Consul's anonymous token accessor


def _config(vm: VmView) -> dict[str, Any] | None:
    try:
        with open(paths.in_root(vm.pid, CONFIG)) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _client(view: LabView, vm: VmView, token: str | None) -> Consul:
    return Consul(netns=vm.netns_path, token=token, timeout=2.0, where=vm.node)


def check(view: LabView) -> list[Finding]:
    """Findings about the Consul cluster of a lab."""
    from toolkit.consul.cluster import STATUS, token

    lab, out = view.lab, []
    tok = token(lab)
    answering: list[tuple[VmView, Consul, dict[str, Any]]] = []
    servers = [v for v in view.live_vms if "consul_servers" in v.groups]
    for vm in view.live_vms:
        cfg = _config(vm)
        if cfg is None:
            out.append(
                Finding(
                    "error",
                    "consul-not-provisioned",
                    "Consul is not configured on this VM",
                    lab,
                    vm.node,
                    expected=f"{CONFIG} written by provisioning",
                    found="no readable config",
                    fix=f"ovlab provision {lab}",
                )
            )
            continue
        client = _client(view, vm, tok)
        try:
            me = client.get_json("/v1/agent/self") or {}
        except ConsulError as exc:
            role = "server" if cfg.get("server") else "client"
            out.append(
                Finding(
                    "error",
                    "consul-down",
                    f"the Consul {role} on this VM does not answer",
                    lab,
                    vm.node,
                    device="127.0.0.1:8500",
                    expected="consul agent running",
                    found=exc.message.split(": ", 1)[-1],
                    fix=supervisor(lab, vm.node, "start", "consul"),
                )
            )
            continue
        answering.append((vm, client, cfg))
        if cfg.get("encrypt"):
            enc = ((me.get("Stats") or {}).get("serf_lan") or {}).get("encrypted")
            if enc != "true":
                out.append(
                    Finding(
                        "error",
                        "consul-gossip-plain",
                        "gossip is not encrypted",
                        lab,
                        vm.node,
                        expected="serf_lan encrypted = true (provisioned with a gossip key)",
                        found=f"encrypted = {enc}",
                        fix=supervisor(lab, vm.node, "restart", "consul"),
                    )
                )
    if not answering:
        if view.live_vms:
            out.append(
                Finding(
                    "critical",
                    "consul-unreachable",
                    "no Consul agent answers in the lab",
                    lab,
                    expected="a Consul agent on every VM",
                    found="none answers",
                    fix=f"ovlab provision {lab}",
                )
            )
        return out
    out += _leader(view, answering, servers)
    down = {f.vm for f in out if f.check == "consul-down"}
    out += [f for f in _members(view, answering[0][1], STATUS) if f.vm not in down]
    out += _acl(view, answering)
    return out


def _leader(
    view: LabView, answering: list[tuple[VmView, Consul, dict[str, Any]]], servers: list[VmView]
) -> list[Finding]:
    for _vm, client, _cfg in answering:
        try:
            leader = client.get_json("/v1/status/leader")
        except ConsulError:
            leader = None
        if leader:
            return []
    down = [
        v.node for v in servers if v.node not in {a[0].node for a in answering}
    ]  # servers whose agent did not answer
    fix = (
        supervisor(view.lab, down[0], "start", "consul")
        if down
        else in_vm(view.lab, answering[0][0].node, "consul", "operator", "raft", "list-peers")
    )
    return [
        Finding(
            "critical",
            "consul-no-leader",
            "the Consul cluster has no leader: the store is down",
            view.lab,
            expected="a raft leader among the servers",
            found="no leader"
            + (f" (server{'s' if len(down) > 1 else ''} down: {', '.join(down)})" if down else ""),
            fix=fix,
        )
    ]


def _members(view: LabView, client: Consul, status: dict[int, str]) -> list[Finding]:
    try:
        raw = client.get_json("/v1/agent/members") or []
    except ConsulError as exc:
        return [
            Finding(
                "error",
                "consul-members",
                "cannot list Consul members",
                view.lab,
                client.where,
                expected="the member list",
                found=exc.message,
            )
        ]
    seen = {m["Name"]: m for m in raw}
    out = []
    for vm in view.vms:
        m = seen.get(vm.node)
        st = status.get(m["Status"], "?") if m else "absent"
        if st == "alive":
            continue
        server = "consul_servers" in vm.groups
        fix = supervisor(view.lab, vm.node, "start", "consul") if vm.alive else view.rebuild
        out.append(
            Finding(
                "error",
                "consul-member",
                f"Consul {'server' if server else 'client'} {vm.node} is {st} in the cluster",
                view.lab,
                vm.node,
                device=f"{vm.ip}:8301",
                expected="alive",
                found=f"{st} (seen from {client.where})",
                fix=fix,
            )
        )
    return out


def _acl(view: LabView, answering: list[tuple[VmView, Consul, dict[str, Any]]]) -> list[Finding]:
    vm, client, cfg = answering[0]
    acl = cfg.get("acl") or {}
    if not acl.get("enabled"):
        return []
    anon = Consul(netns=vm.netns_path, token=None, timeout=2.0, where=vm.node)
    # cas=1 on a key that never exists: allowed writes change nothing, denied ones get 403.
    try:
        status, _h, body = anon.request("PUT", PROBE_KEY, b"", params={"cas": "1"})
    except ConsulError:
        return []
    if status != 200:
        return []  # 403 as it should be; anything else (no leader) is reported elsewhere
    try:
        token = client.get_json(f"/v1/acl/token/{ANONYMOUS}") or {}
    except ConsulError:
        token = {}
    policies = [p.get("Name", p.get("ID", "?")) for p in token.get("Policies") or []]
    if policies:
        # Provisioning never touches the anonymous token: someone granted it policies.
        found = f"anonymous token has policies: {', '.join(policies)}"
        fix = _consul_cli(
            view.lab,
            vm.node,
            "acl",
            "token",
            "update",
            "-id",
            ANONYMOUS,
            "-description",
            "Anonymous Token",
        )
    else:
        found = f"default_policy {acl.get('default_policy', 'allow')}; anonymous PUT -> {status}"
        fix = f"ovlab provision {view.lab}"
    return [
        Finding(
            "error",
            "consul-acl-open",
            "an anonymous client may write Consul's KV store",
            view.lab,
            vm.node,
            expected="403 Permission denied for a token-less KV write",
            found=f"{found} ({body.decode(errors='replace').strip()})",
            fix=fix,
        )
    ]


def _consul_cli(lab: str, vm: str, *argv: str) -> str:
    """The consul CLI inside a VM, authorised by the lab's management token."""
    from toolkit.provision.inventory import secrets_dir

    token = secrets_dir(lab) / "bootstrap.token"
    return f"CONSUL_HTTP_TOKEN=$(cat {token}) " + in_vm(lab, vm, paths.CONSUL_BIN, *argv)
