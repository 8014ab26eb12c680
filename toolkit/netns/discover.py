"""Find every network namespace on the machine, each once.

Two sources see them all: nsfs mounts in every mount namespace (toolkit.netns.
mounts: /run/netns, any Docker exec-root, any directory at all, inside
containers and lab VMs too), and every process's /proc/PID/ns/net. What pins a
namespace decides its kind, in this order when several do: named (/run/netns),
docker (a Docker exec-root's netns/), lab-vm, vm-pinned (a mount inside a lab
VM), pinned (a mount anywhere else here), pinned-mntns (a mount in another
mount namespace), process. Namespaces are identified by (st_dev, st_ino) of
their nsfs file. A namespace held only by an open file descriptor, or pinned
in a mount namespace no process lives in, is not found.
"""

from __future__ import annotations

import os

from toolkit.host import paths, procs
from toolkit.netns import mounts

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from toolkit.tuples import NamedTuple

# iproute2 also honours the old /var/run spelling (a link to /run on current systems).
NAMED_DIRS = (paths.NAMED_NETNS_DIR, "/var" + paths.NAMED_NETNS_DIR)
# Docker pins container namespaces in <exec-root>/netns; next to it lie these.
DOCKER_SIBLINGS = ("containerd", "runtime-runc", "libnetwork", "plugins")
# Where a lab VM pins namespaces in its own file system (relative to its root).
VM_PINNED_SUBDIRS = tuple(d.lstrip("/") for d in (paths.DOCKER_NETNS_DIR, paths.NAMED_NETNS_DIR))


class Found(NamedTuple):
    """A namespace as discovery sees it, before any kernel query."""

    key: tuple[int, int]  # (st_dev, st_ino) of the nsfs file
    kind: str
    target: str
    path: str
    mount: str | None = None  # mount point inside another mount namespace
    mntns: int | None = None  # that mount namespace's inode
    mnt_pid: int | None = None  # the process whose /proc/PID/root reaches the mount


def nsfs_dev() -> int:
    """Device number of nsfs, which every namespace file shares."""
    return os.stat(paths.proc_ns("self", "net")).st_dev


def _ns_key(path: str, dev: int) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a path when it is a namespace file, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    # A file left in /run/netns after a failed bind mount is a plain empty file.
    return (st.st_dev, st.st_ino) if st.st_dev == dev else None


def _entries(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def named_names() -> list[str]:
    """Names in /run/netns (whether or not each is a live namespace)."""
    return _entries(paths.NAMED_NETNS_DIR)


def is_docker_dir(directory: str) -> bool:
    """Whether a directory is some Docker daemon's ``<exec-root>/netns``."""
    if os.path.basename(directory) != "netns":
        return False
    parent = os.path.dirname(directory)
    # /run/docker, /srv/docker-exec, /var/run/docker-vm1, … (dockerd --exec-root)
    if any(part.startswith("docker") for part in parent.split("/")):
        return True
    return any(os.path.isdir(os.path.join(parent, sib)) for sib in DOCKER_SIBLINGS)


def vm_pinned(pid: int) -> list[tuple[str, str]]:
    """(name, path) of namespaces pinned inside a VM's own file system."""
    out = []
    for sub in VM_PINNED_SUBDIRS:
        base = paths.in_root(pid, f"/{sub}")
        out += [(name, f"{base}/{name}") for name in _entries(base)]
    return out


def scan_processes(all_pids: list[int] | None = None) -> dict[tuple[int, int], list[int]]:
    """Every process's network namespace, mapped to its pids (ascending)."""
    return procs.by_namespace("net", all_pids)


def lab_vms() -> list[Any]:
    """Every lab VM, from the lab registry; imported only when a lab exists at all.

    The registry pulls in the state-file machinery (pathlib, dataclasses, …),
    ~15 ms that ``--all`` on a machine without labs should not pay.
    """
    if not _entries(paths.labs_root()):
        return []
    from toolkit.lab import registry

    return registry.vms()


def _vm_label(vm: Any, nodes: list[str]) -> str:
    # A bare node name is a valid TARGET only when no other lab uses it.
    return vm.node if nodes.count(vm.node) == 1 else f"{vm.lab}/{vm.node}"


def _vm_pinned_target(label: str, mount: str) -> str:
    """NODE:NAME for the VM's own netns directories, NODE:/MOUNTPOINT for anywhere else."""
    directory, name = os.path.split(mount)
    if directory.lstrip("/") in VM_PINNED_SUBDIRS or directory in NAMED_DIRS:
        return f"{label}:{name}"
    return f"{label}:{mount}"


def discover(owners: dict[tuple[int, int], list[int]] | None = None) -> list[Found]:
    """Every network namespace reachable from here, deduplicated, in source order."""
    dev = nsfs_dev()
    seen: set[tuple[int, int]] = set()
    out: list[Found] = []

    def add(found: Found) -> None:
        if found.key not in seen:
            seen.add(found.key)
            out.append(found)

    all_pids = procs.pids()
    pinned = mounts.nsfs_mounts(dev, mounts.mount_namespaces(all_pids))
    own = [m for m in pinned if m.mntns is None]
    for m in own:
        directory, name = os.path.split(m.mount)
        if directory in NAMED_DIRS:
            add(Found((dev, m.inode), "named", name, os.path.join(paths.NAMED_NETNS_DIR, name)))
    for m in own:
        if is_docker_dir(os.path.dirname(m.mount)):
            add(Found((dev, m.inode), "docker", m.path, m.path))
    vms = [vm for vm in lab_vms() if vm.alive]
    nodes = [vm.node for vm in vms]
    vm_of_mntns: dict[int, tuple[Any, str]] = {}
    for vm in vms:
        key = _ns_key(vm.netns_path, dev)
        if key is not None:
            add(Found(key, "lab-vm", _vm_label(vm, nodes), vm.netns_path))
        mnt = procs.ns_inode(vm.pid, "mnt")
        if mnt is not None:
            vm_of_mntns[mnt] = (vm, _vm_label(vm, nodes))
    for m in pinned:
        if m.mntns in vm_of_mntns:
            vm, label = vm_of_mntns[m.mntns]
            path = vm.root(m.mount)  # the VM's init: as long-lived as the VM
            target = _vm_pinned_target(label, m.mount)
            add(Found((dev, m.inode), "vm-pinned", target, path, m.mount, m.mntns, vm.pid))
    for m in own:
        add(Found((dev, m.inode), "pinned", m.path, m.path))
    for m in pinned:
        if m.mntns is not None:
            add(Found((dev, m.inode), "pinned-mntns", m.path, m.path, m.mount, m.mntns, m.pid))
    if owners is None:
        owners = scan_processes(all_pids)
    for key, pids in owners.items():
        add(Found(key, "process", f"pid:{pids[0]}", paths.proc_ns(pids[0], "net")))
    return out
