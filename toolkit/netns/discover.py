"""Find every network namespace on the machine, each once.

Sources, in the order that decides a namespace's kind when several name it:
named ones in /run/netns, Docker's exec-root directories, lab VMs and the
namespaces pinned inside their file systems, then any process's namespace.
Namespaces are identified by (st_dev, st_ino) of their nsfs file.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

NAMED_DIR = "/run/netns"
# Docker pins container namespaces under its exec-root; daemons started with
# --exec-root (e.g. one per lab VM, or dind) use other directories.
DOCKER_DIRS = ("/var/run/docker/netns", "/run/docker/netns")
VM_PINNED_SUBDIRS = ("run/docker/netns", "run/netns")


class Found(NamedTuple):
    """A namespace as discovery sees it, before any kernel query."""

    key: tuple[int, int]  # (st_dev, st_ino) of the nsfs file
    kind: str
    target: str
    path: str


def nsfs_dev() -> int:
    """Device number of nsfs, which every namespace file shares."""
    return os.stat("/proc/self/ns/net").st_dev


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
    return _entries(NAMED_DIR)


def docker_dirs() -> list[str]:
    """Docker netns directories: the default exec-root and any other under /run."""
    found = list(DOCKER_DIRS)
    for base in ("/var/run/docker", "/run/docker"):
        found += [os.path.join(base, d, "netns") for d in _entries(base)]
    # Other exec-roots (dockerd --exec-root /run/docker-foo): look a few levels down.
    for top in _entries("/run"):
        if not top.startswith("docker"):
            continue
        for root, dirs, _files in os.walk(os.path.join("/run", top)):
            if root.count("/") >= 5:
                dirs[:] = []
            if os.path.basename(root) == "netns":
                found.append(root)
                dirs[:] = []
    seen: set[str] = set()
    out = []
    for d in found:
        real = os.path.realpath(d)
        if real not in seen and os.path.isdir(real):
            seen.add(real)
            out.append(d)
    return out


def vm_pinned(pid: int) -> list[tuple[str, str]]:
    """(name, path) of namespaces pinned inside a VM's own file system."""
    out = []
    for sub in VM_PINNED_SUBDIRS:
        base = f"/proc/{pid}/root/{sub}"
        out += [(name, f"{base}/{name}") for name in _entries(base)]
    return out


def scan_processes() -> dict[tuple[int, int], list[int]]:
    """Every process's network namespace, mapped to its pids (ascending)."""
    owners: dict[tuple[int, int], list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue  # exited meanwhile, or a kernel thread we may not see
        owners.setdefault((st.st_dev, st.st_ino), []).append(int(entry))
    for pids in owners.values():
        pids.sort()
    return owners


def labs_dir() -> str:
    """Where lab state lives (toolkit.lab.state's layout; a test keeps the two in step)."""
    return os.path.join(os.environ.get("OVLAB_STATE_ROOT", "/run/ovlab"), "labs")


def lab_vms() -> list[Any]:
    """Every lab VM, from the lab registry; imported only when a lab exists at all.

    The registry pulls in the state-file machinery (pathlib, dataclasses, …),
    ~15 ms that ``--all`` on a machine without labs should not pay.
    """
    if not _entries(labs_dir()):
        return []
    from toolkit.lab import registry

    return registry.vms()


def comm(pid: int) -> str:
    """A process's command name, or "?" when it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def discover(owners: dict[tuple[int, int], list[int]] | None = None) -> list[Found]:
    """Every network namespace reachable from here, deduplicated, in source order."""
    dev = nsfs_dev()
    seen: set[tuple[int, int]] = set()
    out: list[Found] = []

    def add(path: str, kind: str, target: str) -> None:
        key = _ns_key(path, dev)
        if key is not None and key not in seen:
            seen.add(key)
            out.append(Found(key, kind, target, path))

    for name in named_names():
        add(f"{NAMED_DIR}/{name}", "named", name)
    for directory in docker_dirs():
        for name in _entries(directory):
            path = f"{directory}/{name}"
            add(path, "docker", path)
    vms = [vm for vm in lab_vms() if vm.alive]
    nodes = [vm.node for vm in vms]
    for vm in vms:
        # A bare node name is a valid TARGET only when no other lab uses it.
        label = vm.node if nodes.count(vm.node) == 1 else f"{vm.lab}/{vm.node}"
        add(f"/proc/{vm.pid}/ns/net", "lab-vm", label)
    for vm in vms:
        label = vm.node if nodes.count(vm.node) == 1 else f"{vm.lab}/{vm.node}"
        for name, path in vm_pinned(vm.pid):
            add(path, "vm-pinned", f"{label}:{name}")
    if owners is None:
        owners = scan_processes()
    for key, pids in owners.items():
        if key not in seen:
            seen.add(key)
            out.append(Found(key, "process", f"pid:{pids[0]}", f"/proc/{pids[0]}/ns/net"))
    return out
