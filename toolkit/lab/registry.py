"""Read-only view of running lab VMs, for inspection and discovery.

Inspection code asks here which lab VMs exist and which pid anchors each;
it never reads the state file format itself.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple

from toolkit.host import ns, paths
from toolkit.host.procs import pid_alive
from toolkit.lab import state
from toolkit.lab.records import StateError, VmRecord


class VmRef(NamedTuple):
    """One lab VM as inspection sees it."""

    lab: str
    node: str
    pid: int  # the VM's init; /proc/<pid>/ns/* are its namespaces, /proc/<pid>/root its files
    alive: bool

    @property
    def netns_path(self) -> str:
        """The VM's network namespace, as a path this process can open."""
        return paths.proc_ns(self.pid, "net")

    def ns_path(self, kind: str) -> str:
        """The VM's namespace of one kind (``net``, ``mnt``, ``uts``, …)."""
        return paths.proc_ns(self.pid, kind)

    def enter(self, kind: str = "net") -> AbstractContextManager[None]:
        """Run a with-body in the VM's namespace of one kind, then come back (this thread).

        ``with vm.enter("uts"): os.uname()``; see toolkit.host.ns.inside for its errors.
        """
        return ns.inside(self.ns_path(kind), kind)

    def root(self, path: str = "") -> str:
        """``path`` inside the VM (absolute, as the VM sees it), reached from the host."""
        return paths.in_root(self.pid, path)

    @property
    def agent_socket(self) -> str:
        """The VM's overlay agent API socket, reached from the host."""
        return self.root(paths.AGENT_SOCKET)

    def overlay_ns(self, name: str) -> str:
        """A namespace pinned under the VM's Docker netns dir (``1-<nid>``), from the host.

        ``name`` is the pinned file's name, e.g. ``overlay.model.netns_name(net_id)``.
        """
        return self.root(f"{paths.DOCKER_NETNS_DIR}/{name}")


def alive(vm: VmRecord) -> bool:
    """Whether a recorded VM's init still runs (same pid, same start time: not a reused pid)."""
    return bool(vm.pid) and pid_alive(vm.pid or 0, vm.starttime)


def ref(lab: str, vm: VmRecord) -> VmRef:
    """The inspection handle of one recorded VM."""
    return VmRef(lab=lab, node=vm.node, pid=vm.pid or 0, alive=alive(vm))


def vms(lab: str | None = None) -> list[VmRef]:
    """Every VM of one lab, or of every lab, in the order the state file lists them.

    With ``lab``, a state file this ovlab cannot read raises StateError (one line). Without,
    such labs are left out: ``lab ls`` names them, and one lab must not hide the others.
    """
    if lab:
        record = state.load(lab)
        return [ref(lab, vm) for vm in record.nodes] if record else []
    out: list[VmRef] = []
    for name in state.list_labs():
        try:
            out += vms(name)
        except StateError:
            continue
    return out


def resolve_vm(name: str, lab: str | None = None) -> VmRef:
    """A running VM by ``NODE`` or ``LAB/NODE``: :func:`toolkit.lab.resolve.resolve`.

    Kept for callers written before ``resolve`` existed.
    """
    from toolkit.lab.resolve import resolve

    return resolve(name, lab)


def underlay_netns(lab: str) -> str | None:
    """Path of a lab's underlay namespace, if the lab has one."""
    record = state.load(lab)
    return record.underlay.netns_path if record and record.underlay else None
