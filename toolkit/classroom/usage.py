"""What a student's copy costs now: memory of every process in its VMs (a collector).

Proportional set size (/proc/PID/smaps_rollup ``Pss:``) shares a library's pages among
the processes mapping it, so the sum over copies is what the copies cost together.
Processes are found by the VMs' net and mount namespace inodes (the lab's state file)
and by the lab's tag on their command line (containers, toolkit.lab.tags).
"""

from __future__ import annotations

from toolkit.host import paths, procs
from toolkit.lab import cleanup, state


def pss_kib(pid: int) -> int:
    """PSS of one process in KiB (0 when it is gone or unreadable)."""
    try:
        with open(paths.proc(pid, "smaps_rollup")) as fh:
            return sum(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
    except (OSError, ValueError, IndexError):
        return 0


def lab_pids(lab: str) -> list[int]:
    """Every process in the lab's VMs (their net namespaces), sorted."""
    rec = state.load(lab)
    if rec is None:
        return []
    found: set[int] = set(cleanup.tagged_pids(lab))  # containers carry the lab's tag
    for vm in rec.nodes:
        for kind, ino in (("net", vm.netns), ("mnt", vm.mntns)):
            if ino:
                found.update(procs.pids_in_ns(kind, ino))
        if vm.pid and procs.pid_alive(vm.pid, vm.starttime):
            found.add(vm.pid)
    return sorted(found)


def lab_memory_kib(lab: str) -> int:
    """Summed PSS of the lab's processes, KiB."""
    return sum(pss_kib(p) for p in lab_pids(lab))
