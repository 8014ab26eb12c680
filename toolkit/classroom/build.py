"""Build, rebuild and remove a class's copies: ``class up``, ``reset STUDENT`` and ``down``.

A copy is built in three stages — lab up (toolkit.lab.lifecycle), provisioning
(toolkit.provision.runner) and the exercise's start (toolkit.exercise.session) with the
class's seed, so every copy carries the same faults. Each stage is recorded in the class
file before and after it runs. Provisioning runs ``jobs`` copies at a time (an Ansible
run is a child process); lab up and exercise start go one copy at a time (they enter
namespaces in this process).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from toolkit.classroom import cgroups, golden, names, store
from toolkit.classroom.plan import Plan
from toolkit.classroom.records import ClassRecord
from toolkit.errors import OvlabError, UsageError

Say = Callable[[str], None]


@dataclass
class Outcome:
    """What ``up``/``reset`` built: seconds per stage and per student, and failures."""

    cls: str
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # student -> error
    stages: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return {
            "class": self.cls, "built": self.built, "failed": self.failed,
            "stages": {k: round(v, 2) for k, v in self.stages.items()},
            "seconds": round(self.seconds, 2),
        }  # fmt: skip


def _quiet(_msg: str) -> None:
    pass


def up(plan: Plan, seed: int | None = None, jobs: int = 2, say: Say = _quiet) -> Outcome:
    """Record the class, then build every copy. Failed copies are recorded, not fatal:
    ``class reset CLASS STUDENT`` retries one, ``class down`` removes all."""
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    with store.locked(plan.cls, create=True) as st:
        st.data.update(
            topology=str(plan.topology.path.resolve() if plan.topology.path else ""),
            exercise=plan.exercise,
            exercise_path=str(plan.exercise_path) if plan.exercise_path else None,
            seed=seed if plan.exercise else None,
            provisioned=plan.provisioned,
            clone=plan.clone,
            limits=plan.limits.to_json(),
            cgroup=str(cgroups.class_cgroup(plan.cgroup_root, plan.cls))
            if plan.cgroup_root
            else None,
            phase="creating",
        )
        for sid in plan.students:
            st.data.setdefault("students", {})[sid] = {"lab": plan.lab(sid), "phase": "recorded"}
        st.record("up-start", students=len(plan.students))
    out = _build(plan, list(plan.students), jobs, say)
    with store.locked(plan.cls) as st:
        st.data["phase"] = "up"
        st.record("up-done", failed=sorted(out.failed))
    return out


def _build(plan: Plan, sids: list[str], jobs: int, say: Say) -> Outcome:
    """Run the three stages over ``sids``; a student that fails drops out of later stages."""
    out = Outcome(plan.cls)
    t0 = time.monotonic()
    started = {sid: time.monotonic() for sid in sids}
    rec = store.require(plan.cls)

    def stage(name: str, fn: Callable[[str], None], pool: int = 1) -> None:
        todo = [s for s in sids if s not in out.failed]
        t = time.monotonic()

        def one(sid: str) -> None:
            try:
                fn(sid)
            except OvlabError as exc:
                out.failed[sid] = f"{name}: {exc.message}"
                with store.locked(plan.cls) as st:
                    st.student(sid, phase="failed", error=out.failed[sid])
                say(f"{sid}: {name} failed: {exc.message}")

        if pool > 1 and len(todo) > 1:
            with ThreadPoolExecutor(pool) as ex:
                list(ex.map(one, todo))
        else:
            for sid in todo:
                one(sid)
        out.stages[name] = time.monotonic() - t

    def lab_up(sid: str) -> None:
        from toolkit.lab import lifecycle

        say(f"{sid}: lab {plan.lab(sid)} up")
        if plan.provisioned and plan.clone:
            golden.seed(plan.cls, plan.lab(sid), plan.topology.node_names())
        lifecycle.up(plan.topology_for(sid))
        cg = None
        if plan.cgroup_root:
            from toolkit.classroom.usage import lab_pids

            cg = cgroups.create(
                plan.cgroup_root, plan.cls, sid, plan.limits.cpu, plan.limits.memory_mib
            )
            cgroups.attach(cg, lab_pids(plan.lab(sid)))
        with store.locked(plan.cls) as st:
            st.student(sid, phase="up", cgroup=cg, error="")

    def provision(sid: str) -> None:
        from toolkit.provision import runner

        if plan.clone:
            say(f"{sid}: starting the golden image's services in {plan.lab(sid)}")
            golden.start(plan.cls, plan.lab(sid))
        else:
            say(f"{sid}: provisioning {plan.lab(sid)}")
            result = runner.run(plan.lab(sid))
            if not result.ok:
                raise runner.failure_error(result)
        with store.locked(plan.cls) as st:
            st.student(sid, phase="provisioned")

    def start(sid: str) -> None:
        from toolkit.exercise import session

        say(f"{sid}: exercise {plan.exercise} on {plan.lab(sid)}")
        session.start(str(plan.exercise_path), plan.lab(sid), rec.seed, False)

    if plan.provisioned and plan.clone and not golden.have_image(plan.cls):
        t = time.monotonic()
        try:
            make_image(plan, say)
        except OvlabError as exc:
            raise OvlabError(
                f"class {plan.cls}: the golden image failed: {exc.message}",
                hint=f"{exc.hint + '; ' if exc.hint else ''}'ovlab class down {plan.cls}'"
                " removes what was made",
            ) from None
        out.stages["golden"] = time.monotonic() - t
    stage("up", lab_up)
    if plan.provisioned:
        stage("provision", provision, 1 if plan.clone else jobs)
    if plan.exercise:
        stage("exercise", start)
    for sid in sids:
        if sid in out.failed:
            continue
        out.built.append(sid)
        with store.locked(plan.cls) as st:
            st.student(sid, phase="ready", seconds=time.monotonic() - started[sid], error="")
    out.seconds = time.monotonic() - t0
    return out


def make_image(plan: Plan, say: Say = _quiet) -> None:
    """Provision the golden lab once, keep its image, remove the lab (toolkit.classroom.golden).

    Raises OvlabError when provisioning fails; the golden lab is removed either way.
    """
    import dataclasses

    from toolkit.lab import cleanup, lifecycle
    from toolkit.provision import runner

    lab = golden.golden_lab(plan.cls)
    with store.locked(plan.cls) as st:
        st.data["golden"] = lab
        st.record("golden-start", lab=lab)
    try:
        say(f"golden image: lab {lab} up and provisioned once for every copy")
        lifecycle.up(dataclasses.replace(plan.topology, name=lab))
        result = runner.run(lab)
        if not result.ok:
            raise runner.failure_error(result)
        golden.capture(plan.cls, lab)
    finally:
        cleanup.teardown(lab)


def plan_of(rec: ClassRecord) -> Plan:
    """The plan a recorded class was built from (for ``reset``)."""
    from pathlib import Path

    from toolkit.classroom import capacity
    from toolkit.lab.topology import load

    root = None
    if rec.cgroup:
        root = str(Path(rec.cgroup).parent)
    topo = load(Path(rec.topology))
    vms = len(topo.nodes)
    est = capacity.Estimate(1, capacity.per_student_mib(vms, rec.provisioned), 0, 0)
    return Plan(
        rec.name, tuple(rec.student_ids), topo, rec.exercise,
        Path(rec.exercise_path) if rec.exercise_path else None, rec.provisioned, rec.limits,
        est, root, rec.clone,
    )  # fmt: skip


def reset(cls: str, student: str, say: Say = _quiet) -> Outcome:
    """Tear one student's copy down and build it again from the class's plan and seed."""
    from toolkit.lab import cleanup

    rec = store.require(cls)
    sid = names.parse_student(cls, student, rec.student_ids)
    plan = plan_of(rec)
    say(f"{sid}: tearing down {plan.lab(sid)}")
    with store.locked(cls) as st:
        st.student(sid, phase="recorded", error="")
        st.record("reset", student=sid)
    report = cleanup.teardown(plan.lab(sid))
    if report.errors:
        raise OvlabError(f"could not tear down {plan.lab(sid)}: {'; '.join(report.errors)}")
    out = _build(plan, [sid], 1, say)
    if out.failed:
        raise OvlabError(
            f"rebuilding {sid} failed: {out.failed[sid]}",
            hint=f"see 'ovlab class status {cls}'; 'ovlab class reset {cls} {sid}' tries again",
        )
    return out


@dataclass
class DownReport:
    """What ``class down`` removed, and what it could not."""

    cls: str
    labs: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return {
            "class": self.cls,
            "labs": self.labs,
            "actions": self.actions,
            "errors": self.errors,
        }


def class_labs(cls: str, rec: ClassRecord | None) -> list[str]:
    """Every lab of the class: the recorded ones, and any ``<class>-sN`` left behind."""
    from toolkit.lab.cleanup import leftovers

    pattern = re.compile(rf"^{re.escape(cls)}-(s[0-9]+|g)$")
    found = {s.lab for s in rec.students} if rec else set()
    if rec is not None and rec.golden:
        found.add(rec.golden)
    found |= {lab for lab in leftovers(f"{cls}-") if pattern.match(lab)}
    return sorted(found, key=lambda lab: (len(lab), lab))


def down(cls: str, say: Say = _quiet) -> DownReport:
    """Remove every copy of the class, its cgroups and its state (works after a crash).

    UsageError when there is no such class and nothing of it is left.
    """
    from toolkit.lab import cleanup
    from toolkit.lab.records import StateError

    names.validate_class_name(cls)
    try:
        rec = store.load(cls)
    except StateError:
        rec = None  # damaged: remove the labs by their names
    labs = class_labs(cls, rec)
    if rec is None and not labs and not store.class_dir(cls).exists():
        store.require(cls)  # raises "no class named …"
    report = DownReport(cls, [])
    if store.class_dir(cls).exists():
        with store.locked(cls) as st:
            st.data["phase"] = "tearing-down"
            st.save()
    for lab in labs:
        say(f"removing lab {lab}")
        r = cleanup.teardown(lab)
        if r.actions:
            report.labs.append(lab)
        report.actions += r.actions
        report.errors += r.errors
    for path in _cgroup_dirs(cls, rec):
        if cgroups.remove(path):
            report.actions.append(f"removed cgroup {path}")
        else:
            report.errors.append(f"cgroup {path} is still in use")
    if not report.errors:
        store.ClassState(cls).remove()
    return report


def _cgroup_dirs(cls: str, rec: ClassRecord | None) -> list[str]:
    """The class's cgroup directories: the recorded one, or found by name on each mount."""
    import os

    if rec is not None and rec.cgroup:
        return [rec.cgroup]
    try:
        mounts = cgroups.cgroup2_mounts()
    except OSError:
        return []
    return [
        str(cgroups.class_cgroup(m, cls))
        for m in mounts
        if os.path.isdir(cgroups.class_cgroup(m, cls))
    ]


def require_student(cls: str, student: str) -> tuple[ClassRecord, str]:
    """The class and the student id ``student`` designates (UsageError otherwise)."""
    rec = store.require(cls)
    if not rec.students:
        raise UsageError(f"class {cls!r} has no students")
    return rec, names.parse_student(cls, student, rec.student_ids)
