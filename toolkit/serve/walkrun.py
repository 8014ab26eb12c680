"""A walkthrough run kept as records: each step's explanation, commands and their output.

Both the live page (``ovlab serve LAB --walk W``: a button runs a step) and the static
export (``ovlab walk W --html OUT/``) read these records; toolkit.walk.runner runs the
commands (real processes, checks on their output).
"""

from __future__ import annotations

import threading
from typing import Any

from toolkit.walk.model import Step, Walk
from toolkit.walk.runner import StepResult


def explain_html(text: str) -> str:
    """A step's Markdown explanation as HTML (CommonMark; raw HTML in it is escaped)."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": False}).render(text))


def step_record(step: Step, result: StepResult | None) -> dict[str, Any]:
    """One step as the page shows it: ``number``, ``title``, ``explain`` (Markdown),
    ``explain_html``, ``commands`` (as written), and when it ran: ``ok``, ``seconds``,
    ``results`` [{cmd (as run), rc, output, failed}]."""
    rec: dict[str, Any] = {
        "number": step.number,
        "title": step.title,
        "explain": step.explain,
        "explain_html": explain_html(step.explain),
        "commands": [c.cmd for c in step.run],
    }
    if result is not None:
        rec["ok"] = result.ok
        rec["seconds"] = round(result.seconds, 2)
        rec["results"] = [
            {"cmd": c.cmd, "rc": c.rc, "output": c.output, "failed": list(c.failed)}
            for c in result.commands
        ]
    return rec


def walk_record(walk: Walk, lab: str, results: dict[int, StepResult]) -> dict[str, Any]:
    """The whole walkthrough: ``title``, ``path``, ``lab``, ``steps`` (step_record each)."""
    return {
        "title": walk.title,
        "path": str(walk.path),
        "lab": lab,
        "steps": [step_record(s, results.get(s.number)) for s in walk.steps],
    }


class WalkRun:
    """A walkthrough on a running lab, run one step at a time (one step at once)."""

    def __init__(self, walk: Walk, lab: str) -> None:
        from toolkit.lab import state
        from toolkit.lab.lifecycle import install_bin

        self.walk = walk
        self.lab = lab
        # As `ovlab walk`: {lab} and {bin} (the install whose scripts the VMs see).
        self.variables = {"lab": lab, "bin": install_bin(state.load(lab))}
        self.results: dict[int, StepResult] = {}
        self._lock = threading.Lock()

    def run(self, number: int) -> dict[str, Any]:
        """Run step ``number`` (from 1) and return its record (UsageError: no such step)."""
        from toolkit.errors import UsageError
        from toolkit.walk import runner

        if not 1 <= number <= len(self.walk.steps):
            raise UsageError(f"no step {number}: the walkthrough has {len(self.walk.steps)}")
        step = self.walk.steps[number - 1]
        with self._lock:
            self.results[number] = runner.run_step(step, self.variables)
        return step_record(step, self.results[number])

    def to_dict(self) -> dict[str, Any]:
        """JSON twin: walk_record of what ran so far."""
        return walk_record(self.walk, self.lab, self.results)
