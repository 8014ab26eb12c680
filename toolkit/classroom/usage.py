"""What students' copies cost now: memory of every process in their VMs (a collector).

Proportional set size (/proc/PID/smaps_rollup ``Pss:``) shares a library's pages among
the processes mapping it, so the sum over copies is what the copies cost together.
Processes are found by the VMs' net and mount namespace inodes (each lab's state file)
and by the lab's tag on their command line (containers, toolkit.lab.tags). /proc is
scanned once for all the labs asked about, not once per lab.
"""

from __future__ import annotations

from toolkit.host import paths, procs
from toolkit.lab import state, tags


def pss_kib(pid: int) -> int:
    """PSS of one process in KiB (0 when it is gone or unreadable)."""
    try:
        with open(paths.proc(pid, "smaps_rollup")) as fh:
            return sum(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
    except (OSError, ValueError, IndexError):
        return 0


def labs_pids(labs: list[str]) -> dict[str, list[int]]:
    """Every process in each lab's VMs, sorted, per lab."""
    owner: dict[tuple[str, int], str] = {}  # (kind, namespace inode) -> lab
    out: dict[str, set[int]] = {lab: set() for lab in labs}
    for lab in labs:
        rec = state.load(lab)
        for vm in rec.nodes if rec else ():
            for kind, ino in (("net", vm.netns), ("mnt", vm.mntns)):
                if ino:
                    owner[(kind, ino)] = lab
            if vm.pid and procs.pid_alive(vm.pid, vm.starttime):
                out[lab].add(vm.pid)
    for kind in ("net", "mnt"):
        for (_dev, ino), pids in procs.by_namespace(kind).items():
            hit = owner.get((kind, ino))
            if hit is not None:
                out[hit].update(pids)
    for pid, argv in procs.cmdlines():  # containers carry their lab's tag
        tag = tags.in_cmdline(b"\0".join(argv))
        if tag is not None and tag.lab in out:
            out[tag.lab].add(pid)
    return {lab: sorted(p) for lab, p in out.items()}


def lab_pids(lab: str) -> list[int]:
    """Every process in one lab's VMs, sorted."""
    return labs_pids([lab])[lab]


def labs_memory_kib(labs: list[str]) -> dict[str, int]:
    """Summed PSS of each lab's processes, KiB."""
    return {lab: sum(pss_kib(p) for p in pids) for lab, pids in labs_pids(labs).items()}


def lab_memory_kib(lab: str) -> int:
    """Summed PSS of one lab's processes, KiB."""
    return labs_memory_kib([lab])[lab]
