"""Exercise files: a broken lab a teacher describes in YAML, checked line by line.

Errors read ``FILE:LINE: field: problem`` (``faults[2].fault: unknown fault 'wrong-vin'``),
as topology and walkthrough files do; ``toolkit.yamlload`` and ``toolkit.yamlcheck``
read the YAML. Items are numbered from 1.

title: container_node2 cannot reach svc1
story: |                       # what the student is told
  Since this morning container_node2 cannot reach svc1 …
lab: seed-demo                 # the lab it runs on (`exercise start … --lab` overrides)
faults:                        # injected by `exercise start`, in order
  - wrong-vni                  # a fault's name, on the lab's last VM …
  - fault: udp-blocked         # … or a mapping naming the VM
    vm: lab-vm-1
pool: [stale-fdb, fdb-wrong-vtep]   # `--random` injects one of these instead
hints:                         # `exercise hint` shows them one at a time, in order
  - Compare the VNI of vxlan0 on both VMs.
criteria:                      # what `exercise check` requires; at least one
  verify: true                 # `ovlab verify` passes
  doctor: true                 # `ovlab doctor` finds nothing (info aside)
  checks: [ping, members]      # named checks (CHECKS)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import Node as YamlNode
from yaml.nodes import ScalarNode

from toolkit import yamlcheck, yamlload
from toolkit.errors import UsageError
from toolkit.lab import names
from toolkit.suggest import did_you_mean

TOP_KEYS = ("title", "story", "lab", "faults", "pool", "hints", "criteria")
FAULT_KEYS = ("fault", "vm")
CRITERIA_KEYS = ("verify", "doctor", "checks")
# Named checks a criteria list may ask for (toolkit.exercise.grade runs them).
CHECKS = {
    "ping": "every container pings every other container's service across the overlay",
    "members": "every VM's Consul agent is an alive member of the cluster",
}
_EXAMPLE = "see exercises/rebuilt-by-hand.yml"
_MISSING = {
    "title": "give it a title, e.g. title: container_node2 cannot reach svc1",
    "story": "tell the student what is wrong, e.g. story: container_node2 cannot reach svc1",
    "lab": "name the lab it runs on, e.g. lab: seed-demo",
    "criteria": "say what passes, e.g. criteria: {verify: true, doctor: true}",
    "fault": "name the fault, e.g. fault: wrong-vni ('ovlab exercise faults' lists them)",
}
_KEY_HINTS = {
    "fault": "faults go in a list under faults:",
    "hint": "hints go in a list under hints:",
    "check": "criteria go under criteria: {verify, doctor, checks}",
    "node": "the VM is vm:",
}


@dataclass(frozen=True)
class FaultSpec:
    """One fault to inject: its name and the VM (None: the lab's last VM)."""

    fault: str
    vm: str | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {"fault": self.fault, "vm": self.vm}


@dataclass(frozen=True)
class Criteria:
    """What `exercise check` requires."""

    verify: bool = False
    doctor: bool = False
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {"verify": self.verify, "doctor": self.doctor, "checks": list(self.checks)}


@dataclass(frozen=True)
class Exercise:
    """A whole exercise file."""

    name: str  # the file's stem: what `exercise start NAME` takes
    path: Path
    title: str
    story: str
    lab: str
    faults: tuple[FaultSpec, ...]
    pool: tuple[FaultSpec, ...]
    hints: tuple[str, ...]
    criteria: Criteria

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (the faults too: the file is the teacher's, not a secret)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "title": self.title,
            "story": self.story,
            "lab": self.lab,
            "faults": [f.to_dict() for f in self.faults],
            "pool": [f.to_dict() for f in self.pool],
            "hints": len(self.hints),
            "criteria": self.criteria.to_dict(),
        }


def load(path: Path) -> Exercise:
    """Read and check an exercise file (UsageError ``FILE:LINE: field: problem``)."""
    text = yamlload.read_text(
        path,
        "exercise",
        "check the path, or name a shipped exercise ('ovlab exercise list')",
        f"pass the file itself, e.g. {Path(path) / 'exercise.yml'}",
    )
    return loads(text, str(path), Path(path))


def loads(text: str, source: str = "<string>", path: Path | None = None) -> Exercise:
    """Parse and check exercise YAML text; errors name ``source``."""
    return _Loader(source).exercise(text, path or Path(source))


class _Loader(yamlcheck.Checker):
    """One pass over a composed exercise file; ``fail`` raises the one-line error."""

    def __init__(self, source: str) -> None:
        super().__init__(source, key_hints=_KEY_HINTS, missing_hints=_MISSING)

    def exercise(self, text: str, path: Path) -> Exercise:
        root = self.document(
            text,
            "an exercise needs title, story, lab, faults and criteria; " + _EXAMPLE,
            "an exercise starts with title:, story:, lab:, faults: and criteria:; " + _EXAMPLE,
        )
        top = self.fields(root, "", TOP_KEYS, ("title", "story", "lab", "criteria"))
        title = story = lab = ""
        faults: tuple[FaultSpec, ...] = ()
        pool: tuple[FaultSpec, ...] = ()
        hints: tuple[str, ...] = ()
        criteria = Criteria()
        faults_at: YamlNode = root
        for key, (key_node, node) in top.items():  # file order: the first fault is reported
            if key == "title":
                title = self.string(node, key, nonempty=True).strip()
            elif key == "story":
                story = self.string(node, key, nonempty=True).strip()
            elif key == "lab":
                lab = self.lab(node)
            elif key in ("faults", "pool"):
                specs = self.faults(node, key)
                faults_at = key_node if key == "faults" or faults_at is root else faults_at
                faults, pool = (specs, pool) if key == "faults" else (faults, specs)
            elif key == "hints":
                hints = tuple(
                    self.string(item, p, nonempty=True).strip()
                    for p, item in self.items(node, key, "hints is a list of texts", first=1)
                )
            else:
                criteria = self.criteria(node)
        if not faults and not pool:
            self.fail(
                faults_at, "faults", "no faults", "name at least one under faults: (or pool:)"
            )
        return Exercise(
            path.stem if path.name != "exercise.yml" else path.parent.name,
            path, title, story, lab, faults, pool, hints, criteria,
        )  # fmt: skip

    def lab(self, node: YamlNode) -> str:
        name = self.string(node, "lab").strip()
        try:
            names.validate_lab_name(name)
        except UsageError as exc:
            self.fail(node, "lab", exc.message, exc.hint)
        return name

    def faults(self, node: YamlNode, key: str) -> tuple[FaultSpec, ...]:
        out = []
        for path, item in self.items(node, key, f"{key} is a list: - wrong-vni", first=1):
            if isinstance(item, ScalarNode):
                out.append(FaultSpec(self.fault_name(item, path), None, yamlload.line(item)))
                continue
            found = self.fields(
                item, path, FAULT_KEYS, ("fault",),
                type_hint="a fault is a name, or a mapping: {fault: NAME, vm: NODE}",
            )  # fmt: skip
            name = self.fault_name(found["fault"][1], f"{path}.fault")
            vm = None
            if "vm" in found:
                vm_node = found["vm"][1]
                vm = self.string(vm_node, f"{path}.vm", nonempty=True).strip()
                try:
                    names.validate_node_name(vm)
                except UsageError as exc:
                    self.fail(vm_node, f"{path}.vm", exc.message, exc.hint)
            out.append(FaultSpec(name, vm, yamlload.line(item)))
        return tuple(out)

    def fault_name(self, node: YamlNode, path: str) -> str:
        from toolkit.exercise.faults import names as fault_names

        known = fault_names()
        name = self.string(node, path, nonempty=True).strip()
        if name not in known:
            hint = did_you_mean(name, known) or "known faults: " + ", ".join(known)
            self.fail(node, path, f"unknown fault {name!r}", hint)
        return name

    def check_name(self, node: YamlNode, path: str) -> str:
        name = self.string(node, path, nonempty=True).strip()
        if name not in CHECKS:
            hint = did_you_mean(name, tuple(CHECKS)) or "named checks: " + ", ".join(CHECKS)
            self.fail(node, path, f"unknown check {name!r}", hint)
        return name

    def criteria(self, node: YamlNode) -> Criteria:
        found = self.fields(
            node, "criteria", CRITERIA_KEYS,
            type_hint="criteria is a mapping: {verify: true, doctor: true, checks: [ping]}",
        )  # fmt: skip
        verify = doctor = False
        checks: list[str] = []
        for key, (_k, value) in found.items():
            if key == "verify":
                verify = self.boolean(value, "criteria.verify")
            elif key == "doctor":
                doctor = self.boolean(value, "criteria.doctor")
            else:
                items = self.items(value, "criteria.checks", "checks is a list: [ping]", first=1)
                for path, item in items:
                    checks.append(self.check_name(item, path))
                    if checks.count(checks[-1]) > 1:
                        self.fail(item, path, f"{checks[-1]!r} is listed twice")
        if not (verify or doctor or checks):
            self.fail(
                node,
                "criteria",
                "no criterion: nothing would ever fail",
                "ask for verify: true, doctor: true or a named check",
            )
        return Criteria(verify, doctor, tuple(checks))


def shipped() -> list[Path]:
    """The shipped exercise files (``exercises/*.yml``), sorted by name."""
    from toolkit.resources import exercises_dir

    return sorted(exercises_dir().glob("*.yml"))


def resolve(arg: str) -> Path:
    """An exercise file, or a shipped exercise's name; an unknown name gets a did-you-mean.

    Raises NotFound (exit 2) for a name that is neither a file nor shipped.
    """
    from toolkit.errors import NotFound

    p = Path(arg)
    if p.is_dir():
        return p / "exercise.yml"
    if p.exists() or "/" in arg or arg.endswith((".yml", ".yaml")):
        return p
    known = {f.stem: f for f in shipped()}
    if arg in known:
        return known[arg]
    raise NotFound(
        f"no exercise named {arg!r}",
        hint=did_you_mean(arg, list(known)) or "see 'ovlab exercise list'",
    )
