"""Read-only view of running lab VMs, for inspection and discovery.

Inspection code asks here which lab VMs exist and which pid anchors each;
it never reads the state file format itself.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple

from toolkit.errors import NotFound, UsageError
from toolkit.host import ns, paths
from toolkit.host.procs import pid_alive
from toolkit.lab import state


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


def resolve_vm(name: str, lab: str | None = None) -> VmRef:
    """Find a running VM by ``NODE`` or ``LAB/NODE``; ambiguity and typos are errors.

    Raises NotFound (no such VM; the hint names close matches) or UsageError (in several
    labs, not running, or LAB/NODE against another ``lab``).
    """
    from toolkit.suggest import did_you_mean  # difflib: only paid on this path

    if "/" in name:
        prefix, name = name.split("/", 1)
        if lab not in (None, prefix):
            raise UsageError(f"{prefix}/{name} is not in lab {lab!r}")
        lab = prefix
    found = vms(lab)
    hits = [v for v in found if v.node == name]
    if not hits:
        raise NotFound(
            f"no lab VM named {name!r}" + (f" in lab {lab!r}" if lab else ""),
            hint=did_you_mean(name, [v.node for v in found])
            or "see 'ovlab lab ls' and 'ovlab lab status LAB'",
        )
    if len(hits) > 1:
        labs = ", ".join(v.lab for v in hits)
        raise UsageError(
            f"{name!r} exists in several labs ({labs})", hint=f"say LAB/{name} or --lab LAB"
        )
    vm = hits[0]
    if not vm.alive:
        raise UsageError(
            f"lab VM {name!r} of lab {vm.lab!r} is not running",
            hint=f"run 'ovlab lab up' on its topology, or 'ovlab lab down {vm.lab}'",
        )
    return vm


def underlay_netns(lab: str) -> str | None:
    """Path of a lab's underlay namespace, if the lab has one."""
    data = state.load(lab)
    if not data:
        return None
    ul = data.get("underlay") or {}
    path = ul.get("netns_path")
    return str(path) if path else None
