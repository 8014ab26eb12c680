"""The class state file as frozen, versioned records: ``ClassRecord`` and ``StudentRecord``.

Layout of ``<state root>/classes/<class>/class.json`` (version 1)::

    {"version": 1, "name": CLASS, "created": UNIX_TIME,
     "phase": "creating"|"up"|"tearing-down",
     "exercise": NAME|null, "exercise_path": PATH|null, "topology": PATH, "seed": N|null,
     "provisioned": BOOL, "clone": BOOL, "golden": LAB|null,   # toolkit.classroom.golden
     "limits": {"cpu": CPUS|null, "memory_mib": MIB|null},
     "cgroup": PATH|null,                      # the class's cgroup v2 directory, if limited
     "students": {ID: {"lab": LAB, "phase": PHASE, "cgroup": PATH|null,
                       "seconds": SECONDS|null, "error": TEXT}},
     "log": [{"t": UNIX_TIME, "event": NAME, …}]}

A student's ``phase`` goes ``recorded`` (named, nothing made yet) → ``up`` (lab up) →
``provisioned`` → ``ready`` (exercise started, or nothing more to do); ``failed`` keeps
the error. Every student is recorded before its lab is made: ``class down`` trusts this
file, as ``lab down`` trusts a lab's (toolkit.lab.records). Readers go through
:meth:`ClassRecord.from_json`, which refuses another version or a wrong field in one line.
"""

from __future__ import annotations

from typing import NamedTuple

from toolkit.lab.jsonfields import Fields
from toolkit.lab.records import StateError

CLASS_VERSION = 1
PHASES = ("recorded", "up", "provisioned", "ready", "failed")


def damaged(cls: str, problem: str, path: str = "") -> StateError:
    """The one-line refusal of a class file that is not valid JSON or has a wrong field."""
    where = f" ({path})" if path else ""
    return StateError(
        f"state file of class {cls!r}{where} is damaged: {problem}",
        hint=f"'ovlab class down {cls}' still removes its labs by their names",
    )


class Limits(NamedTuple):
    """Per-student cgroup v2 limits: CPUs (1.5 = one and a half cores) and memory (MiB)."""

    cpu: float | None = None
    memory_mib: int | None = None

    @property
    def any(self) -> bool:
        """True when some limit is set."""
        return self.cpu is not None or self.memory_mib is not None

    def to_json(self) -> dict[str, object]:
        """The ``limits`` object."""
        return {"cpu": self.cpu, "memory_mib": self.memory_mib}


class StudentRecord(NamedTuple):
    """One student's copy: its lab, how far ``up`` got, its cgroup, and time to build."""

    student: str  # s1, s2, …
    lab: str  # <class>-s1
    phase: str = "recorded"
    cgroup: str | None = None
    seconds: float | None = None  # wall time of the last build (up, provision, start)
    error: str = ""

    @classmethod
    def from_fields(cls, student: str, f: Fields) -> StudentRecord:
        """From one value of the ``students`` object."""
        phase = f.string("phase", "recorded")
        if phase not in PHASES:
            raise f.fail(f"{f.where}.phase is {phase!r}, not one of {', '.join(PHASES)}")
        return cls(
            student,
            f.string("lab"),
            phase,
            f.opt_string("cgroup"),
            f.opt_number("seconds"),
            f.string("error", ""),
        )

    def to_json(self) -> dict[str, object]:
        """The value of this student in the ``students`` object."""
        return {
            "lab": self.lab,
            "phase": self.phase,
            "cgroup": self.cgroup,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "error": self.error,
        }


class ClassRecord(NamedTuple):
    """A class's whole state file."""

    name: str
    phase: str  # creating | up | tearing-down
    topology: str  # the topology file every copy was made from
    version: int = CLASS_VERSION
    created: float | None = None
    exercise: str | None = None
    exercise_path: str | None = None
    seed: int | None = None  # the exercise's seed: the same faults in every copy
    provisioned: bool = False
    limits: Limits = Limits()
    cgroup: str | None = None
    students: tuple[StudentRecord, ...] = ()
    clone: bool = True  # copies come from a golden image (toolkit.classroom.golden)
    golden: str | None = None  # the golden lab, once recorded (it is removed after use)

    def student(self, sid: str) -> StudentRecord | None:
        """The student ``sid``, or None."""
        return next((s for s in self.students if s.student == sid), None)

    @property
    def student_ids(self) -> list[str]:
        """Student ids in file order (s1, s2, …)."""
        return [s.student for s in self.students]

    @classmethod
    def from_json(cls, raw: object, name: str, path: str = "") -> ClassRecord:
        """Check and read a parsed class file; StateError (one line) when it is not version 1's."""

        def fail(problem: str) -> StateError:
            return damaged(name, problem, path)

        f = Fields(raw, "", fail)
        version = f.raw.get("version")
        if version != CLASS_VERSION:
            raise StateError(
                f"class {name!r} has state of version {version!r}; this ovlab reads version"
                f" {CLASS_VERSION}",
                hint=f"'ovlab class down {name}' removes its labs by their names",
            )
        limits = f.obj("limits")
        prov, clone = f.raw.get("provisioned", False), f.raw.get("clone", True)
        for key, val in (("provisioned", prov), ("clone", clone)):
            if not isinstance(val, bool):
                raise fail(f"{key} is {val!r}, not true or false")
        students = tuple(
            StudentRecord.from_fields(k, v)
            for k, v in sorted(f.items("students"), key=lambda kv: _order(kv[0]))
        )
        return cls(
            name=f.string("name"),
            phase=f.string("phase"),
            topology=f.string("topology"),
            version=CLASS_VERSION,
            created=f.opt_number("created"),
            exercise=f.opt_string("exercise"),
            exercise_path=f.opt_string("exercise_path"),
            seed=f.opt_integer("seed"),
            provisioned=bool(prov),
            limits=Limits(limits.opt_number("cpu"), limits.opt_integer("memory_mib"))
            if limits
            else Limits(),
            cgroup=f.opt_string("cgroup"),
            students=students,
            clone=bool(clone),
            golden=f.opt_string("golden"),
        )

    def to_json(self) -> dict[str, object]:
        """The file's object (``from_json`` reads it back to an equal record)."""
        return {
            "version": self.version,
            "name": self.name,
            "created": self.created,
            "phase": self.phase,
            "topology": self.topology,
            "exercise": self.exercise,
            "exercise_path": self.exercise_path,
            "seed": self.seed,
            "provisioned": self.provisioned,
            "limits": self.limits.to_json(),
            "cgroup": self.cgroup,
            "students": {s.student: s.to_json() for s in self.students},
            "clone": self.clone,
            "golden": self.golden,
        }


def _order(sid: str) -> tuple[int, str]:
    """s2 before s10."""
    digits = sid[1:]
    return (int(digits), sid) if digits.isdigit() else (1 << 30, sid)
