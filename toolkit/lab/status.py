"""Collectors for ``lab ls`` and ``lab status``: plain records, no printing."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from toolkit.errors import OvlabError, UsageError
from toolkit.host import ns, paths, procs
from toolkit.lab import registry, state
from toolkit.lab.records import StateError, StateVersionError
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

    def to_dict(self) -> dict[str, object]:
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
    impair: dict[str, str]  # the topology notation, e.g. {"delay": "20ms"}

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return asdict(self)


def summaries() -> list[LabSummary]:
    """Every lab with a state file.

    A lab whose state this ovlab cannot read is listed with phase ``state-vN`` (another
    version) or ``damaged``, so that ``lab down`` can be pointed at it.
    """
    from toolkit.lab.lifecycle import is_healthy

    out = []
    for name in state.list_labs():
        try:
            record = state.load(name)
        except StateVersionError as exc:
            out.append(LabSummary(name, f"state-v{exc.version}", 0, 0, "", ""))
            continue
        except StateError:
            out.append(LabSummary(name, "damaged", 0, 0, "", ""))
            continue
        if record is None:  # removed since it was listed
            continue
        phase = record.phase
        if phase == "up" and not is_healthy(record):
            phase = "degraded"
        out.append(
            LabSummary(
                name,
                phase,
                len(record.nodes),
                sum(registry.alive(n) for n in record.nodes),
                record.underlay.subnet if record.underlay else "",
                record.topology or "",
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
    record = state.load(lab)
    if not record:
        raise UsageError(
            f"no lab named {lab!r}",
            hint=did_you_mean(lab, state.list_labs()) or "see 'ovlab lab ls'",
        )
    out = []
    for vm in record.nodes:
        pid = vm.pid or 0
        alive = registry.alive(vm)
        mnt = procs.ns_inode(pid, "mnt") if alive else None
        out.append(
            VmStatus(
                lab=lab,
                node=vm.node,
                pid=pid,
                alive=alive,
                hostname=_uts_hostname(pid) if alive else None,
                eth1=vm.eth1,
                eth1_state=_eth1_state(pid) if alive else None,
                netns=procs.ns_inode(pid, "net") if alive else None,
                mntns=mnt,
                utsns=procs.ns_inode(pid, "uts") if alive else None,
                processes=len(procs.pids_in_ns("mnt", mnt)) if mnt else 0,
                services=alive and os.path.exists(paths.in_root(pid, paths.SUPERVISOR_SOCKET)),
                impair=vm.impair.to_dict(),
            )
        )
    return out
