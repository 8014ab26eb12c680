"""setns(2) through libc, and a context manager to step into a network namespace.

Python 3.11 has no os.setns; ctypes reaches libc's. Entering a namespace
in-process costs microseconds, where pyroute2's ``IPRoute(netns=…)`` forks a
helper per namespace (about 16 ms here).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000

# CDLL(None) is the already-loaded libc: no find_library search (~10 ms per process).
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling thread into the namespace behind ``fd``."""
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def unshare(flags: int) -> None:
    """Detach the calling thread from the given namespaces."""
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def sethostname(name: str) -> None:
    """Set the hostname of the current UTS namespace."""
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def netns_of_fd(fd: int) -> Iterator[None]:
    """Run the body inside the network namespace ``fd``, then come back.

    Sockets opened inside stay bound to that namespace after we return,
    which is how one process dumps many namespaces cheaply.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, CLONE_NEWNET)
        try:
            yield
        finally:
            setns(home, CLONE_NEWNET)
    finally:
        os.close(home)
