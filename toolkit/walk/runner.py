"""Run a walkthrough's steps: commands as real processes, checks on what they print."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.walk.model import Check, Command, Step

OVLAB = str(Path(sys.executable).parent / "ovlab")


@dataclass
class CommandResult:
    """What one command did, and which checks it failed."""

    cmd: str
    rc: int
    output: str
    failed: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    """The outcome of one step."""

    step: Step
    commands: list[CommandResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every check of every command held."""
        return all(not c.failed for c in self.commands)


def _expand(text: str, variables: dict[str, str], step: Step) -> str:
    """Fill {variables} into a command line, each as one shell word (paths may hold spaces)."""
    quoted = {k: shlex.quote(str(v)) for k, v in variables.items()}
    try:
        return text.format_map(quoted)
    except KeyError as exc:
        raise UsageError(
            f"step {step.number}: unknown variable {{{exc.args[0]}}} in {text!r}",
            hint="variables: " + ", ".join(sorted(variables)),
        ) from exc


def argv_of(cmd: str) -> list[str]:
    """Split a command line; a leading `ovlab` is this installation's."""
    argv = shlex.split(cmd)
    if argv and argv[0] == "ovlab":
        argv[0] = OVLAB
    return argv


def check(c: Check, rc: int, output: str) -> str | None:
    """None when the check holds, else what was expected."""
    ok = {
        "contains": lambda: str(c.value) in output,
        "absent": lambda: str(c.value) not in output,
        "regex": lambda: re.search(str(c.value), output, re.M) is not None,
        "exit": lambda: rc == c.value,
    }[c.kind]()
    return (
        None
        if ok
        else f"expected: {c.describe()}" + (f" (it was {rc})" if c.kind == "exit" else "")
    )


def run_step(step: Step, variables: dict[str, str]) -> StepResult:
    """Run every command of a step (background ones beside the rest), checking each."""
    t0 = time.monotonic()
    result = StepResult(step)
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "110"), "NO_COLOR": "1"}
    pending: list[tuple[Command, str, subprocess.Popen[str]]] = []
    for command in step.run:
        line = _expand(command.cmd, variables, step)
        if command.background:
            proc = subprocess.Popen(
                argv_of(line), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
            pending.append((command, line, proc))
            continue
        try:
            done = subprocess.run(
                argv_of(line), capture_output=True, text=True, env=env, timeout=command.timeout
            )
            rc, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            rc, out = 124, f"(timed out after {command.timeout:g}s)"
        except FileNotFoundError as exc:
            rc, out = 127, f"(cannot run: {exc.strerror})"
        result.commands.append(_judge(command, line, rc, out, variables))
    for command, line, proc in pending:
        try:
            out, _ = proc.communicate(timeout=command.timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, rc = proc.communicate()[0] + "(timed out)", 124
        result.commands.append(_judge(command, line, rc, out, variables))
    result.seconds = time.monotonic() - t0
    return result


def _judge(
    command: Command, line: str, rc: int, out: str, variables: dict[str, str]
) -> CommandResult:
    failed = [msg for c in command.expect if (msg := check(c, rc, out))]
    if not command.may_fail and not any(c.kind == "exit" for c in command.expect) and rc != 0:
        failed.append(f"expected: exit code 0 (it was {rc})")
    for name, pattern in command.save.items():
        m = re.search(pattern, out, re.M)
        if m:
            variables[name] = m.group(1) if m.groups() else m.group(0)
        else:
            failed.append(f"expected: output to match {pattern!r} (to fill {{{name}}})")
    return CommandResult(line, rc, out, failed)
