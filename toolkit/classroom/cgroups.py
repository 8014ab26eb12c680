"""Per-student CPU and memory limits through cgroups v2 (Documentation/admin-guide/cgroup-v2.rst).

Layout: ``<cgroup2 mount>/ovlab-class-<class>/<student>/`` with ``cpu.max`` ("QUOTA
PERIOD" in µs) and ``memory.max`` (bytes). A copy's processes join its cgroup right
after its lab is up, before provisioning: the daemons the VMs' service managers start
later (Consul, the agent, containers) are forked inside it and inherit it.

Limits need a cgroup2 mount whose ``cgroup.controllers`` offers ``cpu`` and ``memory``.
On a cgroup v1 or hybrid host (v2 mounted at /sys/fs/cgroup/unified with those
controllers bound to v1) there is none: :func:`require` says so (exit 3).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from toolkit.errors import EnvError

PERIOD_US = 100_000  # the kernel's default cpu.max period
NEEDED = ("cpu", "memory")


def cgroup2_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points of cgroup2 file systems, in mount order (proc(5) mountinfo, field 9)."""
    out = []
    with open(mountinfo) as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                out.append(left.split()[4].replace("\\040", " "))
    return out


def controllers(mount: str) -> set[str]:
    """The controllers a cgroup2 mount offers (its root's cgroup.controllers)."""
    try:
        return set(Path(mount, "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def usable_root() -> tuple[str | None, str]:
    """(the cgroup2 mount offering cpu and memory, why not) — the reason when there is none."""
    mounts = cgroup2_mounts()
    if not mounts:
        return None, "no cgroup v2 file system is mounted (cgroup v1 only)"
    for m in mounts:
        if set(NEEDED) <= controllers(m):
            return m, ""
    have = ", ".join(f"{m}: {' '.join(sorted(controllers(m))) or 'none'}" for m in mounts)
    return (
        None,
        f"cgroup v2 offers no cpu and memory controllers here ({have});"
        " they are bound to cgroup v1",
    )


def require() -> str:
    """The cgroup2 mount to use; EnvError (exit 3) saying why limits cannot be set here."""
    root, why = usable_root()
    if root is None:
        raise EnvError(
            f"per-student limits need cgroups v2: {why}",
            hint="drop --cpu/--memory, or boot with systemd.unified_cgroup_hierarchy=1",
        )
    return root


def cpu_max(cpus: float) -> str:
    """The ``cpu.max`` line for a share of ``cpus`` CPUs: 0.5 -> "50000 100000"."""
    if cpus <= 0:
        raise ValueError("cpus must be positive")
    return f"{max(1000, round(cpus * PERIOD_US))} {PERIOD_US}"


def _enable(parent: Path) -> None:
    """Let ``parent``'s children use cpu and memory (cgroup.subtree_control)."""
    (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in NEEDED))


def class_cgroup(root: str, cls: str) -> Path:
    """The class's cgroup directory."""
    return Path(root, f"ovlab-class-{cls}")


def create(root: str, cls: str, student: str, cpus: float | None, memory_mib: int | None) -> str:
    """Make (or reuse) a student's cgroup with its limits; return its path."""
    top = class_cgroup(root, cls)
    _enable(Path(root))
    top.mkdir(exist_ok=True)
    _enable(top)
    path = top / student
    path.mkdir(exist_ok=True)
    if cpus is not None:
        (path / "cpu.max").write_text(cpu_max(cpus))
    if memory_mib is not None:
        (path / "memory.max").write_text(str(memory_mib * 1024 * 1024))
    return str(path)


def attach(path: str, pids: list[int]) -> None:
    """Move processes into the cgroup (one write each to cgroup.procs); gone ones are skipped."""
    procs = Path(path, "cgroup.procs")
    for pid in pids:
        try:
            procs.write_text(str(pid))
        except ProcessLookupError:
            continue
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise


def memory_current(path: str) -> int | None:
    """Bytes the cgroup uses now (memory.current), or None."""
    try:
        return int(Path(path, "memory.current").read_text())
    except (OSError, ValueError):
        return None


def remove(path: str, wait: float = 2.0) -> bool:
    """Remove an empty cgroup directory (its children first); False when it stays."""
    p = Path(path)
    if not p.is_dir():
        return True
    for child in [c for c in p.iterdir() if c.is_dir()]:
        remove(str(child), wait)
    end = time.monotonic() + wait
    while True:
        try:
            os.rmdir(p)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            # EBUSY while the last killed process is still being reaped.
            if exc.errno != errno.EBUSY or time.monotonic() > end:
                return False
            time.sleep(0.05)
