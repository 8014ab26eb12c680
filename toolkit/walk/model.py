"""Walkthrough files: steps a teacher writes in YAML, checked line by line before anything runs.

Errors read ``FILE:LINE: steps[2].run[1].timeout: problem`` (steps, commands and checks
numbered from 1, as ``ovlab walk --step``); ``toolkit.yamlload`` and ``toolkit.yamlcheck``
read the YAML.

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
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node as YamlNode
from yaml.nodes import ScalarNode

from toolkit import yamlcheck, yamlload
from toolkit.errors import UsageError
from toolkit.lab import names
from toolkit.suggest import did_you_mean

CHECK_KINDS = ("contains", "absent", "regex", "exit")
STEP_KEYS = ("title", "explain", "run")
RUN_KEYS = ("cmd", "expect", "save", "background", "timeout", "may_fail")
TOP_KEYS = ("title", "lab", "provision", "steps")
DEFAULT_TIMEOUT = 120.0  # seconds a command may run


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
    timeout: float = DEFAULT_TIMEOUT
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
    """A walkthrough file, a directory holding walk.yml, or a shipped walkthrough's name.

    A path that does not exist is returned as is: ``load`` reports it in one line.
    """
    from toolkit.resources import shipped_file

    p = Path(arg)
    if p.is_dir():
        return p / "walk.yml"
    if not p.exists() and "/" not in arg:
        return shipped_file(arg, "walkthrough") or p
    return p


def load(path: Path) -> Walk:
    """Read and validate a walkthrough file (UsageError ``FILE:LINE: field: problem``)."""
    text = yamlload.read_text(
        path,
        "walkthrough",
        "check the path, or name a shipped walkthrough ('ovlab lab ls --shipped')",
        f"pass the file itself, e.g. {Path(path) / 'walk.yml'}",
    )
    return loads(text, str(path), Path(path))


def loads(text: str, source: str = "<string>", path: Path | None = None) -> Walk:
    """Parse and validate walkthrough YAML text; errors name ``source``."""
    return _Loader(source).walk(text, path or Path(source))


# Variables every command may use; `save:` adds more (see toolkit.cli.walk).
BUILTIN_VARIABLES = ("lab", "bin")
_EXAMPLE = "see labs/libnetwork-overlay/walk.yml"
_MISSING_HINTS = {
    "title": "give it a title, e.g. title: Consul members",
    "lab": "name the lab the walk runs on, e.g. lab: seed-demo",
    "steps": "add steps: a list of {title, explain, run}; " + _EXAMPLE,
    "explain": "say what happens in the network and why (explain: |, then the text)",
    "run": "add run: with at least one command, e.g. run: [ovlab lab status {lab}]",
    "cmd": "give the command line, e.g. cmd: ovlab consul members {lab}",
}
_KEY_HINTS = {
    "command": "the command line is cmd:",
    "commands": "a step's commands go under run:",
    "checks": "a command's checks go under expect:",
}
_CHECK_HINT = "write each check as its own item: - regex: '...'"


class _Loader(yamlcheck.Checker):
    """One pass over a composed walkthrough; ``fail`` raises the one-line error."""

    def __init__(self, source: str) -> None:
        super().__init__(source, key_hints=_KEY_HINTS, missing_hints=_MISSING_HINTS)
        self.variables: set[str] = set(BUILTIN_VARIABLES)

    def walk(self, text: str, path: Path) -> Walk:
        root = self.document(
            text,
            "a walkthrough needs title, lab and steps; " + _EXAMPLE,
            "a walkthrough starts with title:, lab: and steps:; " + _EXAMPLE,
        )
        top = self.fields(root, "", TOP_KEYS, ("title", "lab", "steps"))
        title = lab = ""
        provision = True
        steps: tuple[Step, ...] = ()
        for key, (key_node, node) in top.items():  # file order: the first fault is reported
            if key == "title":
                title = self.string(node, key, nonempty=True).strip()
            elif key == "lab":
                lab = self.lab(node)
            elif key == "provision":
                provision = self.boolean(node, key)
            else:
                steps = self.steps(key_node, node)
        return Walk(path, title, lab, provision, steps)

    def lab(self, node: YamlNode) -> str:
        name = self.string(node, "lab").strip()
        try:
            names.validate_lab_name(name)
        except UsageError as exc:
            self.fail(node, "lab", exc.message, exc.hint)
        return name

    def steps(self, key_node: YamlNode, node: YamlNode) -> tuple[Step, ...]:
        items = self.items(
            node, "steps", "steps is a list: - title: …, explain: …, run: […]", first=1
        )
        if not items:
            self.fail(key_node, "steps", "no steps", "a walkthrough needs at least one step")
        return tuple(self.step(n, path, item) for n, (path, item) in enumerate(items, start=1))

    def step(self, number: int, path: str, node: YamlNode) -> Step:
        found = self.fields(
            node,
            path,
            STEP_KEYS,
            STEP_KEYS,
            type_hint="a step is a mapping: title: …, explain: …, run: […]",
        )
        title = explain = ""
        run: tuple[Command, ...] = ()
        for key, (key_node, value) in found.items():
            here = f"{path}.{key}"
            if key == "title":
                title = self.string(value, here, nonempty=True).strip()
            elif key == "explain":
                explain = self.string(value, here, nonempty=True).strip()
            else:
                items = self.items(value, here, "run is a list of commands", first=1)
                if not items:
                    self.fail(key_node, here, "no commands", _MISSING_HINTS["run"])
                run = tuple(self.command(p, item) for p, item in items)
        return Step(number, title, explain, run)

    def command(self, path: str, node: YamlNode) -> Command:
        if isinstance(node, ScalarNode) and node.tag == yamlload.STR:
            return Command(self.cmd(node, path))
        found = self.fields(
            node,
            path,
            RUN_KEYS,
            ("cmd",),
            type_hint="a command is a line of text, or a mapping with cmd:",
        )
        cmd = ""
        expect: tuple[Check, ...] = ()
        save: dict[str, str] = {}
        flags = {"background": False, "may_fail": False}
        timeout = DEFAULT_TIMEOUT
        for key, (_, value) in found.items():
            here = f"{path}.{key}"
            if key == "cmd":
                cmd = self.cmd(value, here)
            elif key == "expect":
                expect = self.expect(value, here)
            elif key == "save":
                save = self.save(value, here)
            elif key == "timeout":
                timeout = self.number(
                    value,
                    here,
                    positive=True,
                    unit="seconds",
                    hint="write seconds as a number, e.g. timeout: 30",
                )
            else:
                flags[key] = self.boolean(value, here)
        # Saved names are known to the commands after this one (checked in file order).
        self.variables.update(save)
        return Command(cmd, expect, save, flags["background"], timeout, flags["may_fail"])

    def cmd(self, node: YamlNode, path: str) -> str:
        """A command line: non-empty, balanced quotes, only known {variables}."""
        text = self.string(node, path, nonempty=True).strip()
        try:
            shlex.split(text)
        except ValueError as exc:
            self.fail(node, path, f"cannot split the command line: {str(exc).lower()}")
        braces = "write {{ and }} for literal braces"
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            self.fail(node, path, f"bad {{variable}}: {exc}", braces)
        for name in fields:
            if not name.isidentifier():
                self.fail(node, path, f"{{{name}}} is not a {{variable}}", braces)
            if name not in self.variables:
                known = sorted(self.variables)
                self.fail(
                    node,
                    path,
                    f"unknown variable {{{name}}}",
                    did_you_mean(name, known)
                    or f"known here: {', '.join(known)} (save: adds more); {braces}",
                )
        return text

    def expect(self, node: YamlNode, path: str) -> tuple[Check, ...]:
        out: list[Check] = []
        for item_path, item in self.items(node, path, _CHECK_HINT, first=1):
            pairs = self.pairs(item, item_path, type_hint=_CHECK_HINT)
            if not pairs:
                self.fail(item, item_path, "no check in this item", _CHECK_HINT)
            if len(pairs) != 1:
                got = ", ".join(k for k, _, _ in pairs) or "none"
                self.fail(
                    item, item_path, f"one check per item, got {len(pairs)} ({got})", _CHECK_HINT
                )
            kind, key_node, value = pairs[0]
            here = f"{item_path}.{kind}"
            if kind not in CHECK_KINDS:
                hint = did_you_mean(kind, CHECK_KINDS) or "checks: " + ", ".join(CHECK_KINDS)
                self.fail(key_node, here, "unknown check", hint)
            checked: str | int
            if kind == "exit":
                checked = self.integer(
                    value, here, 0, 255, hint="write the exit code as a number, e.g. exit: 1"
                )
            elif kind == "regex":
                checked = self.regex(value, here, re.M)
            else:
                checked = self.string(value, here, nonempty=True)
            out.append(Check(kind, checked))
        return tuple(out)

    def save(self, node: YamlNode, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        pairs = self.pairs(node, path, type_hint="save maps a variable name to a regex")
        for name, key_node, value in pairs:
            here = f"{path}.{name}"
            self.identifier(key_node, here, name, "variable name")
            if name in BUILTIN_VARIABLES:
                self.fail(key_node, here, f"{{{name}}} is set by ovlab walk", "pick another name")
            pattern = self.regex(value, here, re.M)
            if re.compile(pattern).groups > 1:
                self.fail(
                    value,
                    here,
                    "more than one group",
                    "the first group fills the variable; use (?:…) for the others",
                )
            out[name] = pattern
        return out
