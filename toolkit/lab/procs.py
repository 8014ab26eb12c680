"""Process identity and signalling by pid, guarded against pid reuse."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def starttime(pid: int) -> int | None:
    """Kernel start time of a pid (field 22 of /proc/pid/stat), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # comm may hold spaces or parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[19])


def pid_alive(pid: int, start: int | None = None) -> bool:
    """True when pid exists, is not a zombie, and (if given) started at ``start``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    tail = raw[raw.rindex(b")") + 2 :].split()
    if tail[0] == b"Z":
        return False
    return start is None or int(tail[19]) == int(start)


def ns_inode(pid: int, kind: str) -> int | None:
    """Inode of /proc/pid/ns/<kind>, the namespace's identity."""
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def pids_in_ns(kind: str, inode: int) -> list[int]:
    """Every pid whose namespace of ``kind`` has this inode."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/{kind}").st_ino == inode:
                out.append(int(entry))
        except OSError:
            continue
    return out


def terminate(pids: list[int], grace: float = 2.0) -> list[int]:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return pids that survived."""
    me = os.getpid()
    pids = [p for p in pids if p != me]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            return []
        time.sleep(0.02)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            return []
        time.sleep(0.02)
    return pids
