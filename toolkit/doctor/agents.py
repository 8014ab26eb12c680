"""Overlay agents: running, holding a session, watching the store; store and containers agree."""

from __future__ import annotations

from toolkit.doctor.findings import Finding, supervisor
from toolkit.doctor.view import LabView
from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.overlay.model import Endpoint


def check(view: LabView, prior: list[Finding] | None = None) -> list[Finding]:
    """Findings about each VM's overlay agent and the endpoints it owns.

    ``prior`` (the Consul findings) points a store outage at its cause.
    """
    lab, out = view.lab, []
    consul_down = {f.vm for f in prior or [] if f.check == "consul-down"}
    cluster = next((f for f in prior or [] if f.check == "consul-no-leader"), None)
    for vm in view.vms:
        if not vm.alive:
            out.append(
                Finding(
                    "critical",
                    "vm-down",
                    "the VM's init process is gone",
                    lab,
                    vm.node,
                    expected="a running VM",
                    found="not running",
                    fix=view.rebuild,
                )
            )
            continue
        if vm.agent is None:
            out.append(
                Finding(
                    "error",
                    "agent-down",
                    "the overlay agent does not answer",
                    lab,
                    vm.node,
                    device=paths.AGENT_SOCKET,
                    expected="ovlab-agent running",
                    found=vm.agent_error or "no answer",
                    fix=supervisor(lab, vm.node, "start", "ovlab-agent"),
                )
            )
            continue
        info = vm.agent
        if not info.store_ok or not info.session:
            out.append(
                Finding(
                    "error",
                    "agent-store",
                    "the overlay agent cannot reach the store",
                    lab,
                    vm.node,
                    expected="store_ok with a Consul session",
                    found=f"store_ok={info.store_ok} session={info.session}",
                    fix=supervisor(lab, vm.node, "start", "consul")
                    if vm.node in consul_down or cluster is None
                    else cluster.fix,
                )
            )
        elif not info.index:
            out.append(
                Finding(
                    "error",
                    "agent-not-watching",
                    "the overlay agent has no view of the store",
                    lab,
                    vm.node,
                    expected="a watch index > 0",
                    found="index 0",
                    fix=supervisor(lab, vm.node, "restart", "ovlab-agent"),
                )
            )
        if info.vtep != vm.ip:
            out.append(
                Finding(
                    "error",
                    "agent-vtep",
                    "the agent's VTEP is not the VM's underlay address",
                    lab,
                    vm.node,
                    device="eth1",
                    expected=vm.ip,
                    found=str(info.vtep),
                    fix=supervisor(lab, vm.node, "restart", "ovlab-agent"),
                )
            )
    if view.snapshot is not None:
        out += _endpoints(view)
    return out


def _is_stitched_slice(lab: str) -> bool:
    """Whether ``lab`` is one host's slice of a multi-host lab (the controller stitched it):
    then live store hosts that are not its VMs are the other hosts' VMs, not orphans."""
    from toolkit.lab import state

    try:
        raw = state.read_raw(lab)
    except OvlabError:
        return False
    return isinstance(raw, dict) and bool(raw.get("stitched"))


def _endpoints(view: LabView) -> list[Finding]:
    """Endpoints whose host or container is gone, and containers without an endpoint."""
    lab, out = view.lab, []
    live_hosts = set(view.store.hosts)
    eps = view.endpoints
    sliced = _is_stitched_slice(lab)
    for ep in eps:
        vm = view.vm(ep.host)
        if vm is None and ep.host in live_hosts and sliced:
            continue  # a VM on another host of a multi-host lab: that host's doctor judges it
        if vm is None or ep.host not in live_hosts:
            out.append(
                Finding(
                    "error",
                    "endpoint-orphan-host",
                    f"endpoint {ep.name} ({ep.ip}) belongs to a host that is gone",
                    lab,
                    ep.host,
                    expected=f"host {ep.host} alive in the store",
                    found="no live session for it",
                    fix=_forget(view, ep),
                )
            )
            continue
        if ep.vtep != vm.ip:
            # Peers program the endpoint record's VTEP (overlay.model.remotes_for, as
            # libnetwork's peerAdd): a stale one sends every peer's traffic elsewhere.
            out.append(
                Finding(
                    "error",
                    "endpoint-vtep",
                    f"endpoint {ep.name} ({ep.ip}) names a VTEP its host does not have: "
                    "every other VM sends its traffic there",
                    lab,
                    vm.node,
                    device="eth1",
                    expected=f"vtep {vm.ip}",
                    found=f"vtep {ep.vtep}",
                    fix=f"ovlab rm {ep.name} --lab {lab}  # then run it again on {vm.node}",
                )
            )
        if vm.alive and view.container(ep.host, ep.name) is None:
            out.append(
                Finding(
                    "warning",
                    "endpoint-no-container",
                    f"endpoint {ep.name} ({ep.ip}) has no running container",
                    lab,
                    vm.node,
                    expected=f"container {ep.name} running on {vm.node}",
                    found="not running",
                    fix=f"ovlab rm {ep.name} --lab {lab}",
                )
            )
    named = {(ep.host, ep.name) for ep in eps}
    for c in view.containers:
        vm = view.vm(c.host)
        down = vm is None or vm.agent is None
        if (c.host, c.name) not in named:
            out.append(
                Finding(
                    "error",
                    "container-no-endpoint",
                    f"container {c.name} runs but has no endpoint in the store: "
                    "no other VM can reach it",
                    lab,
                    c.host,
                    expected="an endpoint in the store",
                    found="none",
                    fix=supervisor(lab, c.host, "start" if down else "restart", "ovlab-agent"),
                )
            )
    return out


def _forget(view: LabView, ep: Endpoint) -> str:
    """Delete an endpoint's keys (record, IP, name) with the lab's management token."""
    from toolkit.overlay import model
    from toolkit.provision.inventory import secrets_dir

    vm = next((v.node for v in view.live_vms), "VM")
    keys = [
        model.k_endpoint(ep.network, ep.id),
        model.k_ip(ep.network, ep.ip),
        model.k_container_name(ep.name),
    ]
    script = " && ".join(f"{paths.CONSUL_BIN} kv delete {k}" for k in keys)
    token = secrets_dir(view.lab) / "bootstrap.token"
    return f"CONSUL_HTTP_TOKEN=$(cat {token}) ovlab exec {view.lab}/{vm} -- sh -c '{script}'"
