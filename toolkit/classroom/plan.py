"""What ``class up`` will build, checked before anything is: names, exercise, lab, capacity.

Every refusal here happens with nothing made: a bad name, an unknown exercise or lab, a
class or student lab that already exists, a class the machine cannot hold (the estimate
and the limit, toolkit.classroom.capacity), limits where cgroups v2 cannot set them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from toolkit.classroom import capacity, cgroups, names, store
from toolkit.classroom.records import Limits
from toolkit.errors import UsageError
from toolkit.lab.model import Topology

DEFAULT_LAB = "seed-demo"
NO_LIMITS = Limits()


@dataclass(frozen=True)
class Plan:
    """A class to build: ``students`` ids, the template topology, the exercise, limits."""

    cls: str
    students: tuple[str, ...]
    topology: Topology  # the template; each copy is it renamed to its lab
    exercise: str | None  # the exercise's name
    exercise_path: Path | None
    provisioned: bool
    limits: Limits
    estimate: capacity.Estimate
    cgroup_root: str | None  # the cgroup2 mount, when limits are set
    clone: bool = True  # provision a golden lab once and copy it (toolkit.classroom.golden)

    def lab(self, sid: str) -> str:
        """The lab name of student ``sid``."""
        return names.lab_of(self.cls, sid)

    def topology_for(self, sid: str) -> Topology:
        """The template renamed to student ``sid``'s lab (same addresses everywhere)."""
        return dataclasses.replace(self.topology, name=self.lab(sid))

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return {
            "class": self.cls, "students": list(self.students),
            "labs": [self.lab(s) for s in self.students],
            "topology": str(self.topology.path), "exercise": self.exercise,
            "provisioned": self.provisioned, "clone": self.clone, "limits": self.limits.to_json(),
            "estimate": self.estimate.to_dict(),
        }  # fmt: skip


def make(
    cls: str,
    students: int,
    exercise: str | None = None,
    lab: str | None = None,
    provision: bool = False,
    limits: Limits = NO_LIMITS,
    available_mib: int | None = None,
    clone: bool = True,
) -> Plan:
    """Check a request and return its plan; UsageError/NotFound (2) or EnvError (3) otherwise.

    ``lab`` is a topology (file, directory or shipped lab) used when there is no exercise
    (default: the exercise's lab, else seed-demo). An exercise always needs a provisioned lab.
    """
    from toolkit.lab import state
    from toolkit.lab.address import topology_path
    from toolkit.lab.topology import load

    names.validate_class_name(cls)
    names.check_count(students)
    _check_limits(limits)
    ex_name, ex_path, ex_lab = None, None, None
    if exercise:
        from toolkit.exercise import model

        ex = model.load(model.resolve(exercise))
        ex_name, ex_path, ex_lab = ex.name, ex.path.resolve(), ex.lab
    topo = load(topology_path(lab or ex_lab or DEFAULT_LAB))
    provisioned = bool(exercise) or provision
    est = capacity.estimate(
        students, len(topo.nodes), provisioned, limits.memory_mib, available_mib
    )
    capacity.require_fits(est)
    root = cgroups.require() if limits.any else None
    if store.load(cls) is not None:
        raise UsageError(
            f"class {cls!r} already exists",
            hint=f"see 'ovlab class status {cls}', or 'ovlab class down {cls}'",
        )
    ids = tuple(names.student_id(k) for k in range(1, students + 1))
    labs = [names.lab_of(cls, s) for s in ids] + [f"{cls}-g"]
    taken = [lab for lab in labs if state.lab_dir(lab).exists()]
    if taken:
        raise UsageError(
            f"lab {taken[0]!r} already exists"
            + (f" (+{len(taken) - 1} more)" if len(taken) > 1 else ""),
            hint=f"pick another class name, or 'ovlab lab down {taken[0]}'",
        )
    if provisioned:
        from toolkit.provision import consul_bin
        from toolkit.resources import check_install_path

        check_install_path()
        consul_bin.require()
    return Plan(cls, ids, topo, ex_name, ex_path, provisioned, limits, est, root, clone)


def _check_limits(limits: Limits) -> None:
    if limits.cpu is not None and not 0.01 <= limits.cpu <= 1024:
        raise UsageError(f"--cpu {limits.cpu}: give CPUs per student, e.g. --cpu 0.5")
    if limits.memory_mib is not None and limits.memory_mib < 64:
        raise UsageError(
            f"--memory {limits.memory_mib}: at least 64 MiB per student",
            hint="a provisioned seed-demo copy takes about"
            f" {capacity.per_student_mib(2, True)} MiB",
        )
