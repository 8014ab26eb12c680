"""Read-only view of running lab VMs, for inspection and discovery.

Inspection code asks here which lab VMs exist and which pid anchors each;
it never reads the state file format itself.
"""

from __future__ import annotations

from typing import NamedTuple

from toolkit.lab import state
from toolkit.lab.procs import pid_alive


class VmRef(NamedTuple):
    """One lab VM as inspection sees it."""

    lab: str
    node: str
    pid: int  # the VM's init; /proc/<pid>/ns/* are its namespaces, /proc/<pid>/root its files
    alive: bool


def vms(lab: str | None = None) -> list[VmRef]:
    """Every VM of one lab, or of every lab, in topology order."""
    out: list[VmRef] = []
    for name in [lab] if lab else state.list_labs():
        data = state.load(name)
        if not data:
            continue
        for node, info in data.get("nodes", {}).items():
            pid = int(info.get("pid") or 0)
            alive = bool(pid) and pid_alive(pid, info.get("starttime"))
            out.append(VmRef(lab=name, node=node, pid=pid, alive=alive))
    return out


def underlay_netns(lab: str) -> str | None:
    """Path of a lab's underlay namespace, if the lab has one."""
    data = state.load(lab)
    if not data:
        return None
    ul = data.get("underlay") or {}
    path = ul.get("netns_path")
    return str(path) if path else None
