"""The one /proc scanner: process identity, namespaces and command lines, by pid.

Every pid is guarded against reuse by its kernel start time where it matters
(field 22 of /proc/<pid>/stat, proc(5)). A process that exits while we read it
is skipped, never an error: the scans race with the whole machine.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator

from toolkit.host.paths import proc, proc_ns


def pids() -> list[int]:
    """Every process id on the machine, ascending."""
    return sorted(int(e) for e in os.listdir("/proc") if e.isdigit())


def _read(pid: int | str, name: str) -> bytes | None:
    """One /proc/<pid>/ file's bytes, None when the process is gone (or hidden from us)."""
    try:
        with open(proc(pid, name), "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _stat_tail(pid: int) -> list[bytes] | None:
    """Fields 3… of /proc/<pid>/stat (state first), None when the pid is gone."""
    raw = _read(pid, "stat")
    if raw is None:
        return None
    # comm may hold spaces or parentheses: split after the last ')'.
    return raw[raw.rindex(b")") + 2 :].split()


def starttime(pid: int) -> int | None:
    """Kernel start time of a pid (field 22 of /proc/pid/stat, clock ticks), None if gone."""
    tail = _stat_tail(pid)
    return None if tail is None else int(tail[19])


def pid_alive(pid: int, start: int | None = None) -> bool:
    """True when pid exists, is not a zombie, and (if given) started at ``start``."""
    tail = _stat_tail(pid)
    if tail is None or tail[0] == b"Z":
        return False
    return start is None or int(tail[19]) == int(start)


def comm(pid: int) -> str:
    """A process's command name (/proc/<pid>/comm), or "?" when it is gone."""
    raw = _read(pid, "comm")
    return "?" if raw is None else raw.decode(errors="replace").strip()


def ns_inode(pid: int | str, kind: str) -> int | None:
    """Inode of /proc/pid/ns/<kind>, the namespace's identity; None when the pid is gone."""
    try:
        return os.stat(proc_ns(pid, kind)).st_ino
    except OSError:
        return None


def _ns_stats(kind: str, among: Iterable[int] | None) -> Iterator[tuple[int, os.stat_result]]:
    for pid in pids() if among is None else among:
        try:
            yield pid, os.stat(proc_ns(pid, kind))
        except OSError:
            continue  # exited meanwhile, or a kernel thread we may not see


def by_namespace(kind: str, among: Iterable[int] | None = None) -> dict[tuple[int, int], list[int]]:
    """Every namespace of ``kind`` a process is in, as (st_dev, st_ino) -> its pids, ascending.

    ``among`` limits the scan to those pids (default: every process).
    """
    owners: dict[tuple[int, int], list[int]] = {}
    for pid, st in _ns_stats(kind, among):
        owners.setdefault((st.st_dev, st.st_ino), []).append(pid)
    for found in owners.values():
        found.sort()
    return owners


def pids_in_ns(kind: str, inode: int) -> list[int]:
    """Every pid whose namespace of ``kind`` has this inode."""
    return [pid for pid, st in _ns_stats(kind, None) if st.st_ino == inode]


def cmdline(pid: int) -> list[bytes] | None:
    """A process's argv (/proc/<pid>/cmdline), None when it is gone; [] for a kernel thread."""
    raw = _read(pid, "cmdline")
    if raw is None:
        return None
    # Arguments end in NUL; a process that rewrote its title may have dropped the last one.
    return (raw[:-1] if raw.endswith(b"\0") else raw).split(b"\0") if raw else []


def cmdlines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every process whose command line can be read."""
    for pid in pids():
        argv = cmdline(pid)
        if argv:
            yield pid, argv


def pids_with(needle: bytes) -> list[int]:
    """Pids whose command line holds ``needle`` in one of its arguments (e.g. a tag)."""
    return [pid for pid, argv in cmdlines() if any(needle in a for a in argv)]


def terminate(pids: list[int], grace: float = 2.0) -> list[int]:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return pids that survived."""
    import signal  # only teardown needs it; the inspection hot paths import this module

    me = os.getpid()
    pids = [p for p in pids if p != me]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    pids = _wait_gone(pids, grace)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return _wait_gone(pids, 2.0)


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Poll until every pid is gone (or a zombie); those still alive after ``seconds``."""
    deadline = time.monotonic() + seconds
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if pid_alive(p)]
        if pids:
            time.sleep(0.02)
    return [p for p in pids if pid_alive(p)]
