"""Collectors for ``lab ls`` and ``lab status``: plain records, no printing."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.errors import OvlabError, UsageError
from toolkit.host import ns, paths, procs
from toolkit.lab import state
from toolkit.suggest import did_you_mean


@dataclass(frozen=True)
class LabSummary:
    """One row of ``lab ls``."""

    name: str
    phase: str
    nodes: int
    alive: int
    subnet: str
    topology: str

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


@dataclass(frozen=True)
class VmStatus:
    """One row of ``lab status``: a VM and the state of its namespaces."""

    lab: str
    node: str
    pid: int
    alive: bool
    hostname: str | None
    eth1: str
    eth1_state: str | None
    netns: int | None
    mntns: int | None
    utsns: int | None
    processes: int
    services: bool
    impair: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return asdict(self)


def summaries() -> list[LabSummary]:
    """Every lab with a state file."""
    from toolkit.lab.lifecycle import is_healthy

    out = []
    for name in state.list_labs():
        data = state.load(name) or {}
        nodes = data.get("nodes", {})
        alive = sum(
            procs.pid_alive(int(n.get("pid") or 0), n.get("starttime")) for n in nodes.values()
        )
        phase = data.get("phase", "?")
        if phase == "up" and not is_healthy(data):
            phase = "degraded"
        out.append(
            LabSummary(
                name,
                phase,
                len(nodes),
                alive,
                (data.get("underlay") or {}).get("subnet", ""),
                data.get("topology", ""),
            )
        )
    return out


def _uts_hostname(pid: int) -> str | None:
    """The hostname as the VM itself sees it (setns into its UTS namespace and back)."""
    try:
        with ns.inside(paths.proc_ns(pid, "uts"), "uts"):
            return os.uname().nodename
    except (OSError, OvlabError):
        return None  # the VM went away meanwhile


def _eth1_state(pid: int) -> str | None:
    from toolkit.host.netlink import iproute_at

    try:
        with iproute_at(paths.proc_ns(pid, "net")) as ipr:
            links = ipr.link("get", ifname="eth1")
    except (OSError, OvlabError):
        return None  # a dead or half-made VM simply has no eth1 state (KernelRefused: no eth1)
    return str(links[0].get("state")) if links else None


def vm_status(lab: str) -> list[VmStatus]:
    """The state of every VM of one lab and of its namespaces."""
    data = state.load(lab)
    if not data:
        raise UsageError(
            f"no lab named {lab!r}",
            hint=did_you_mean(lab, state.list_labs()) or "see 'ovlab lab ls'",
        )
    out = []
    for node, info in data.get("nodes", {}).items():
        pid = int(info.get("pid") or 0)
        alive = bool(pid) and procs.pid_alive(pid, info.get("starttime"))
        mnt = procs.ns_inode(pid, "mnt") if alive else None
        out.append(
            VmStatus(
                lab=lab,
                node=node,
                pid=pid,
                alive=alive,
                hostname=_uts_hostname(pid) if alive else None,
                eth1=info.get("eth1", ""),
                eth1_state=_eth1_state(pid) if alive else None,
                netns=procs.ns_inode(pid, "net") if alive else None,
                mntns=mnt,
                utsns=procs.ns_inode(pid, "uts") if alive else None,
                processes=len(procs.pids_in_ns("mnt", mnt)) if mnt else 0,
                services=alive and os.path.exists(paths.in_root(pid, paths.SUPERVISOR_SOCKET)),
                impair=info.get("impair") or {},
            )
        )
    return out
