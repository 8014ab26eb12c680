"""Namespaces by path: setns(2)/unshare(2) through libc, and one way to step into one and back.

Python 3.11 has no os.setns; ctypes reaches libc's. Entering a namespace
in-process costs microseconds, where pyroute2's ``IPRoute(netns=…)`` forks a
helper per namespace (about 16 ms here). setns(2) moves the calling *thread*
only: :func:`inside` is safe in a threaded program for ``net`` and ``uts``;
``mnt`` needs a single-threaded process (the kernel refuses it otherwise, EINVAL).
Kept cheap to import (no toolkit import but errors): a lab VM's init loads it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
from collections.abc import Iterator, Sequence

from toolkit.errors import UsageError
from toolkit.host.paths import proc_ns

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# The names /proc/<pid>/ns/ uses for each kind (namespaces(7)).
KINDS = {
    "net": CLONE_NEWNET,
    "uts": CLONE_NEWUTS,
    "mnt": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
}
_WORDS = {"net": "network", "mnt": "mount", "uts": "UTS", "ipc": "IPC", "pid": "PID"}
NS_GET_NSTYPE = 0xB703  # ioctl on an nsfs fd: its CLONE_NEW* kind (<linux/nsfs.h>)

# CDLL(None) is the already-loaded libc: no find_library search (~10 ms per process).
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling thread into the namespace behind ``fd`` (OSError on refusal)."""
    _check(_libc.setns(fd, nstype))


def unshare(flags: int) -> None:
    """Detach the calling thread from the given namespaces (CLONE_NEW* flags)."""
    _check(_libc.unshare(flags))


def sethostname(name: str) -> None:
    """Set the hostname of the current UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)))


def _flag(kind: str) -> int:
    try:
        return KINDS[kind]
    except KeyError:
        raise UsageError(f"no namespace kind {kind!r}", hint=f"one of {', '.join(KINDS)}") from None


def open_ns(path: str, kind: str = "net") -> int:
    """Open a namespace file read-only and check it is a namespace of ``kind``; the fd.

    Raises OSError as open(2) does (FileNotFoundError, PermissionError, …), and
    UsageError when the file is not a namespace of that kind (NS_GET_NSTYPE, nsfs(7)).
    """
    want = _flag(kind)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        got = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        got = None  # not an nsfs file at all
    if got != want:
        os.close(fd)
        raise UsageError(f"{path} is not a {_WORDS.get(kind, kind)} namespace")
    return fd


@contextlib.contextmanager
def inside(where: str | int, kind: str = "net") -> Iterator[None]:
    """Run the body in the namespace of ``kind`` at ``where`` (a path, or an open fd), then
    come back, also when the body raises.

    Only the calling thread moves. Sockets opened inside stay bound to that namespace
    after we return, which is how one process reads many namespaces cheaply. A path is
    opened with :func:`open_ns` (its errors), an fd stays the caller's to close.
    """
    flag = _flag(kind)
    home = os.open(proc_ns("thread-self", kind), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd = open_ns(where, kind) if isinstance(where, str) else where
        try:
            setns(fd, flag)
            try:
                yield
            finally:
                setns(home, flag)
        finally:
            if isinstance(where, str):
                os.close(fd)
    finally:
        os.close(home)


def join(paths: Sequence[tuple[str, str]]) -> None:
    """Join namespaces for good: ``(kind, path)`` pairs, all opened before any is entered.

    Opening first matters: once the mount namespace changes, the paths may name other
    files. ``mnt`` needs a single-threaded process.
    """
    fds: list[tuple[int, int]] = []
    try:
        for kind, path in paths:
            fds.append((open_ns(path, kind), _flag(kind)))
        for fd, flag in fds:
            setns(fd, flag)
    finally:
        for fd, _unused in fds:
            os.close(fd)
