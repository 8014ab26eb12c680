"""The doctor's output record, its severities, and the exit code a set of findings maps to."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from toolkit.host import paths

SEVERITIES = ("info", "warning", "error", "critical")

# Exit codes of `ovlab doctor` (2 and 3 keep their toolkit-wide meaning: usage, environment).
EXIT_CLEAN = 0  # no findings, or only info
EXIT_WARNING = 1  # the worst finding is a warning
EXIT_ERROR = 4  # the worst finding is an error
EXIT_CRITICAL = 5  # the worst finding is critical
_EXIT = {
    "info": EXIT_CLEAN,
    "warning": EXIT_WARNING,
    "error": EXIT_ERROR,
    "critical": EXIT_CRITICAL,
}


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, where, what was expected and found, and a command that fixes it."""

    severity: str  # info | warning | error | critical
    check: str  # a stable id, e.g. "fdb-missing"
    summary: str
    lab: str
    vm: str | None = None
    netns: str | None = None
    device: str | None = None
    expected: str | None = None
    found: str | None = None
    fix: str | None = None

    @property
    def rank(self) -> int:
        """Position in SEVERITIES (higher is worse)."""
        return SEVERITIES.index(self.severity)

    @property
    def where(self) -> str:
        """lab/vm · netns · device, as far as known."""
        head = f"{self.lab}/{self.vm}" if self.vm else self.lab
        return " · ".join(p for p in (head, self.netns, self.device) if p)

    def to_dict(self) -> dict[str, Any]:
        """JSON twin (fields that do not apply left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def exit_code(findings: list[Finding]) -> int:
    """The exit code for a set of findings: the worst severity decides."""
    if not findings:
        return EXIT_CLEAN
    return _EXIT[max(findings, key=lambda f: f.rank).severity]


def sort_key(f: Finding) -> tuple[int, str, str, str, str]:
    """Worst first, then by place."""
    return (-f.rank, f.vm or "", f.netns or "", f.check, f.device or "")


def in_vm(lab: str, vm: str, *argv: str) -> str:
    """A shell command that runs argv inside a lab VM."""
    return f"ovlab exec {lab}/{vm} -- " + shlex.join(argv)


def in_overlay(lab: str, vm: str, netns: str, *argv: str) -> str:
    """A shell command that runs argv inside an overlay namespace pinned in a lab VM."""
    return in_vm(lab, vm, "nsenter", f"--net={paths.DOCKER_NETNS_DIR}/{netns}", *argv)


def supervisor(lab: str, vm: str, action: str, program: str) -> str:
    """A supervisorctl command (start/restart a program) inside a lab VM.

    The supervisorctl is the one of the install that brought the lab up: the one the
    VM can see. Paths are shell-quoted (an install may live under "/tmp/some dir").
    """
    return in_vm(
        lab, vm, _supervisorctl(lab), "-c", "/etc/supervisor/supervisord.conf", action, program
    )


_CTL: dict[tuple[str, int], str] = {}


def _supervisorctl(lab: str) -> str:
    """The lab's supervisorctl, read from its state once per version of the state file (a
    100-VM lab whose agents are all down made 100 findings, each parsing the whole file)."""
    from toolkit.lab import state

    try:
        key = (lab, (state.lab_dir(lab) / "state.json").stat().st_mtime_ns)
    except OSError:
        key = (lab, 0)
    if key not in _CTL:
        _CTL[key] = str(Path(state.install_bin(state.load(lab))) / "supervisorctl")
    return _CTL[key]
