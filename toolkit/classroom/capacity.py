"""How many students this machine holds: an estimate made before anything is built.

Memory is what runs out first on a shared server (each copy is a handful of idle
daemons; CPU is shared and mostly idle). The estimate is per lab VM, from a measured
seed-demo copy (``bench/bench_class.py`` measures it again: proportional set size of
every process in the copy's VMs, /proc/PID/smaps_rollup):

- a bare VM (its init and service manager): ~16 MiB;
- a provisioned VM (plus Consul ~53 MiB and the overlay agent ~28 MiB): ~96 MiB;
- the exercise's containers and the kernel's namespaces, veths and tables: a margin.

The limit is ``MemAvailable`` (/proc/meminfo, the kernel's estimate of memory usable
without swapping) less a reserve for the host and the people sharing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.errors import EnvError, UsageError

VM_MIB_BARE = 16
VM_MIB_PROVISIONED = 96
STUDENT_MARGIN_MIB = 32  # containers (one per VM in the demo), kernel objects, page tables
RESERVE_FRACTION = 0.2  # of MemAvailable, kept for the host and everyone else on it


@dataclass(frozen=True)
class Estimate:
    """Memory a class needs against what the machine has, in MiB."""

    students: int
    per_student_mib: int
    available_mib: int  # MemAvailable now
    limit_mib: int  # what a class may take: MemAvailable less the reserve

    @property
    def needed_mib(self) -> int:
        """students × per-student estimate."""
        return self.students * self.per_student_mib

    @property
    def fits(self) -> bool:
        """The class fits within the limit."""
        return self.needed_mib <= self.limit_mib

    @property
    def max_students(self) -> int:
        """The largest class that fits now (never above the 1..MAX_STUDENTS a class may have)."""
        from toolkit.classroom.names import MAX_STUDENTS

        return min(self.limit_mib // self.per_student_mib, MAX_STUDENTS)

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return {
            "students": self.students, "per_student_mib": self.per_student_mib,
            "needed_mib": self.needed_mib, "available_mib": self.available_mib,
            "limit_mib": self.limit_mib, "max_students": self.max_students, "fits": self.fits,
        }  # fmt: skip


def per_student_mib(vms: int, provisioned: bool, memory_limit_mib: int | None = None) -> int:
    """Estimated MiB of one student's copy of ``vms`` VMs.

    A per-student memory limit (cgroup) caps what a copy may take, so it is the
    estimate when it is smaller (a copy squeezed below its needs fails on its own).
    """
    per_vm = VM_MIB_PROVISIONED if provisioned else VM_MIB_BARE
    est = vms * per_vm + STUDENT_MARGIN_MIB
    return min(est, memory_limit_mib) if memory_limit_mib else est


def mem_available_mib(meminfo: str = "/proc/meminfo") -> int:
    """MemAvailable in MiB (EnvError when the kernel does not report it: before 3.14)."""
    try:
        with open(meminfo) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError as exc:
        raise EnvError(f"cannot read {meminfo}: {exc.strerror}") from None
    raise EnvError(f"{meminfo} has no MemAvailable", hint="ovlab needs Linux 3.14 or later")


def estimate(
    students: int, vms: int, provisioned: bool, memory_limit_mib: int | None = None,
    available_mib: int | None = None,
) -> Estimate:  # fmt: skip
    """The estimate for a class of ``students`` copies of a ``vms``-VM lab."""
    avail = mem_available_mib() if available_mib is None else available_mib
    return Estimate(
        students,
        per_student_mib(vms, provisioned, memory_limit_mib),
        avail,
        int(avail * (1 - RESERVE_FRACTION)),
    )


def require_fits(est: Estimate) -> None:
    """UsageError (exit 2) with the estimate and the limit when the class does not fit."""
    if est.fits:
        return
    raise UsageError(
        f"a class of {est.students} students needs about {est.needed_mib} MiB"
        f" ({est.students} × {est.per_student_mib} MiB per student); this machine can give"
        f" it {est.limit_mib} MiB (MemAvailable {est.available_mib} MiB less"
        f" {int(RESERVE_FRACTION * 100)}% reserve)",
        hint=f"ask for at most {est.max_students} students, or use a bigger server",
    )
