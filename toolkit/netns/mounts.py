"""Network namespaces pinned by nsfs mounts, in every mount namespace on the machine.

``ip netns add`` pins a namespace by bind-mounting /proc/PID/ns/net onto a file
in /run/netns; Docker does the same under its exec-root (``<exec-root>/netns``,
wherever ``--exec-root`` put it), and a container, a lab VM or anything run
under ``unshare --mount`` may pin one in a mount namespace of its own. Every
such mount is a line of /proc/PID/mountinfo (proc(5)) with file-system type
``nsfs`` and the namespace as its root, ``net:[INODE]``. Reading mountinfo once
per distinct mount namespace finds them all, wherever they are; a mount in
another mount namespace is reached through ``/proc/PID/root/MOUNTPOINT`` of a
process living there. Nothing here opens a namespace, let alone creates one.
"""

from __future__ import annotations

import os

from toolkit.host import paths, procs
from toolkit.host.mounts import unescape

TYPE_CHECKING = False  # typing costs as much as the interpreter's start: toolkit/tuples.py
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from toolkit.tuples import NamedTuple


class NsfsMount(NamedTuple):
    """One nsfs mount of a network namespace, as seen from the caller's mount namespace."""

    inode: int  # the network namespace's inode (as in net:[INODE])
    mount: str  # the mount point inside its own mount namespace
    path: str  # where this process can open it: mount itself, or /proc/PID/root + mount
    mntns: int | None  # the mount namespace holding the mount; None for the caller's own
    pid: int | None  # a process in that mount namespace (None for the caller's own)


def parse_mountinfo(text: str) -> list[tuple[int, str]]:
    """(network namespace inode, mount point) of every nsfs mount of a net namespace.

    Format (proc(5)): ``ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] -
    FSTYPE SOURCE SUPEROPTIONS``; for nsfs ROOT is ``net:[INODE]``. Lines of
    other types, other namespace kinds, or malformed are skipped.
    """
    out = []
    for line in text.splitlines():
        if " nsfs " not in line or "net:[" not in line:
            continue
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        root = fields[3]
        if fields[sep + 1] != "nsfs" or not root.startswith("net:[") or not root.endswith("]"):
            continue
        try:
            inode = int(root[5:-1])
        except ValueError:
            continue
        out.append((inode, unescape(fields[4])))
    return out


def own_mntns() -> int:
    """Inode of the caller's mount namespace."""
    return os.stat(paths.proc_ns("self", "mnt")).st_ino


def mount_namespaces(pids: list[int] | None = None) -> dict[int, list[int]]:
    """Every mount namespace with a process in it (by inode) -> its pids, ascending."""
    return {ino: found for (_dev, ino), found in procs.by_namespace("mnt", pids).items()}


VIEWER_TRIES = 8


def _viewer(pids: list[int]) -> tuple[int, str] | None:
    """A process of a mount namespace to look through, and its mountinfo.

    mountinfo lists only mounts below the reader's root, so a process that is
    not chrooted (its root is "/" of its mount namespace) is preferred; a
    zombie's mountinfo cannot be read at all.
    """
    fallback = None
    for pid in pids[:VIEWER_TRIES]:
        text = _read(paths.proc(pid, "mountinfo"))
        if not text:
            continue
        try:
            if os.readlink(paths.proc_root(pid)) == "/":
                return pid, text
        except OSError:
            continue
        fallback = fallback or (pid, text)
    return fallback


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError:
        return None


def reachable(path: str, inode: int, nsfs_dev: int) -> bool:
    """Whether ``path`` opens that namespace (not shadowed by a later mount on top)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_dev == nsfs_dev and st.st_ino == inode


def nsfs_mounts(nsfs_dev: int, mntns: dict[int, list[int]] | None = None) -> list[NsfsMount]:
    """Every reachable nsfs mount of a network namespace: the caller's mount namespace first.

    ``mntns`` maps mount-namespace inode to its pids (mount_namespaces()).
    A mount that another mount covers, or whose process exited, is left out.
    The same network namespace may come back several times (one per mount).
    """
    own = own_mntns()
    out: list[NsfsMount] = []
    for inode, mount in parse_mountinfo(_read(paths.proc("self", "mountinfo")) or ""):
        if reachable(mount, inode, nsfs_dev):
            out.append(NsfsMount(inode, mount, mount, None, None))
    if mntns is None:
        mntns = mount_namespaces()
    for ns, pids in mntns.items():
        viewer = None if ns == own else _viewer(pids)
        if viewer is None:
            continue
        pid, text = viewer
        for inode, mount in parse_mountinfo(text):
            # Mount points are relative to the process's root; /proc/PID/root is that root.
            path = paths.in_root(pid, mount)
            if reachable(path, inode, nsfs_dev):
                out.append(NsfsMount(inode, mount, path, ns, pid))
    return out
