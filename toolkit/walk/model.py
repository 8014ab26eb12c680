"""Walkthrough files: steps a teacher writes in YAML, validated with file, step and field named.

title: …
lab: seed-demo                 # shipped lab (labs/<lab>/topology.yml) walked by default
provision: true                # run the playbooks when the walk brings the lab up
steps:
  - title: …
    explain: |                 # what happens in the network, and why
      …
    run:
      - ovlab consul members {lab}          # a command …
      - cmd: ovlab exec {lab}/lab-vm-1 -- ls /run/docker/netns
        save: {netns: "(1-[0-9a-f]{10})"}   # … whose output fills a variable
        expect:
          - regex: "^1-"                    # checks: contains, absent, regex, exit
      - cmd: ovlab exec … ping -c 5 svc1
        background: true                    # runs beside the next commands of the step
      - cmd: ovlab rm old --lab {lab}
        may_fail: true                      # tidy-up: its exit code does not matter
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import UsageError
from toolkit.suggest import did_you_mean

CHECK_KINDS = ("contains", "absent", "regex", "exit")
STEP_KEYS = ("title", "explain", "run")
RUN_KEYS = ("cmd", "expect", "save", "background", "timeout", "may_fail")
TOP_KEYS = ("title", "lab", "provision", "steps")


@dataclass(frozen=True)
class Check:
    """One expectation on a command's output or exit code."""

    kind: str
    value: Any

    def describe(self) -> str:
        """Short text for reports."""
        return {
            "contains": "output contains",
            "absent": "output lacks",
            "regex": "output matches",
            "exit": "exit code is",
        }[self.kind] + f" {self.value!r}"


@dataclass(frozen=True)
class Command:
    """A command of a step, with its checks."""

    cmd: str
    expect: tuple[Check, ...] = ()
    save: dict[str, str] = field(default_factory=dict)
    background: bool = False
    timeout: float = 120.0
    may_fail: bool = False  # a tidy-up whose exit code does not matter


@dataclass(frozen=True)
class Step:
    """One stage of a walkthrough."""

    number: int
    title: str
    explain: str
    run: tuple[Command, ...]


@dataclass(frozen=True)
class Walk:
    """A whole walkthrough."""

    path: Path
    title: str
    lab: str
    provision: bool
    steps: tuple[Step, ...]


def resolve(arg: str) -> Path:
    """A walkthrough file, a directory holding walk.yml, or a shipped walkthrough's name."""
    from toolkit.resources import shipped_file, shipped_names

    p = Path(arg)
    if p.is_dir():
        p = p / "walk.yml"
    if not p.exists() and "/" not in arg:
        p = shipped_file(arg, "walkthrough") or p
    if not p.exists():
        names = shipped_names("walkthrough")
        raise UsageError(
            f"{arg}: no walkthrough there",
            hint="give a walk.yml, a directory holding one, or a shipped name: " + ", ".join(names),
        )
    return p


def load(path: Path) -> Walk:
    """Read and validate a walkthrough file."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a walkthrough is a mapping with title, lab and steps")
    _keys(path, "top level", data, TOP_KEYS)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise UsageError(f"{path}: field 'steps' must be a non-empty list")
    return Walk(
        path=path,
        title=_text(path, "top level", data, "title"),
        lab=_text(path, "top level", data, "lab"),
        provision=bool(data.get("provision", True)),
        steps=tuple(_step(path, i + 1, s) for i, s in enumerate(steps)),
    )


def _where(n: int) -> str:
    return f"step {n}"


def _keys(path: Path, where: str, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            raise UsageError(f"{path}: {where}: unknown field {key!r}", hint=hint)


def _text(path: Path, where: str, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{path}: {where}: field {key!r} must be non-empty text")
    return value.strip()


def _step(path: Path, n: int, raw: Any) -> Step:
    where = _where(n)
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: {where}: a step is a mapping with title, explain and run")
    _keys(path, where, raw, STEP_KEYS)
    runs = raw.get("run")
    if not isinstance(runs, list) or not runs:
        raise UsageError(f"{path}: {where}: field 'run' must be a non-empty list of commands")
    return Step(
        n,
        _text(path, where, raw, "title"),
        _text(path, where, raw, "explain"),
        tuple(_command(path, where, i + 1, r) for i, r in enumerate(runs)),
    )


def _command(path: Path, where: str, i: int, raw: Any) -> Command:
    here = f"{where}: run[{i}]"
    if isinstance(raw, str):
        raw = {"cmd": raw}
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: {here}: a command is text or a mapping with 'cmd'")
    _keys(path, here, raw, RUN_KEYS)
    cmd = _text(path, here, raw, "cmd")
    checks = []
    for j, c in enumerate(raw.get("expect") or []):
        if not isinstance(c, dict) or len(c) != 1:
            raise UsageError(
                f"{path}: {here}: expect[{j + 1}] must be one of {', '.join(CHECK_KINDS)}"
            )
        kind, value = next(iter(c.items()))
        if kind not in CHECK_KINDS:
            raise UsageError(
                f"{path}: {here}: expect[{j + 1}]: unknown check {kind!r}",
                hint=did_you_mean(str(kind), CHECK_KINDS),
            )
        if kind == "regex":
            try:
                re.compile(str(value), re.M)
            except re.error as exc:
                raise UsageError(f"{path}: {here}: expect[{j + 1}]: bad regex: {exc}") from exc
        if kind == "exit" and not isinstance(value, int):
            raise UsageError(f"{path}: {here}: expect[{j + 1}]: exit wants a number")
        checks.append(Check(kind, value))
    save = raw.get("save") or {}
    if not isinstance(save, dict) or not all(isinstance(v, str) for v in save.values()):
        raise UsageError(f"{path}: {here}: field 'save' maps names to regexes")
    timeout = raw.get("timeout", 120)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UsageError(f"{path}: {here}: field 'timeout' must be a positive number of seconds")
    return Command(
        cmd,
        tuple(checks),
        dict(save),
        bool(raw.get("background", False)),
        float(timeout),
        bool(raw.get("may_fail", False)),
    )
