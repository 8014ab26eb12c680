"""The running exercise of a lab: which faults were injected where, hints used, start time.

Kept outside the lab, root-only: ``<lab state dir>/exercise.json`` mode 0600 (the lab
state dir lives under /run/ovlab/labs on the host; a VM's /run is its own, so nothing
inside a VM can read it). One record per lab: a class of labs holds one each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.lab import state

FILE = "exercise.json"


def path(lab: str) -> Path:
    """Where a lab's exercise record lives."""
    return state.lab_dir(lab) / FILE


def load(lab: str) -> dict[str, Any] | None:
    """The lab's exercise record, or None when no exercise runs there."""
    try:
        return dict(json.loads(path(lab).read_text()))
    except FileNotFoundError:
        return None


def require(lab: str) -> dict[str, Any]:
    """The lab's exercise record; UsageError (exit 2) when none runs."""
    rec = load(lab)
    if rec is None:
        raise UsageError(
            f"no exercise runs on lab {lab!r}",
            hint=f"start one: ovlab exercise start NAME --lab {lab} ('ovlab exercise list')",
        )
    return rec


def save(lab: str, rec: dict[str, Any]) -> None:
    """Write the record atomically, 0600 from its first byte."""
    final = path(lab)
    tmp = final.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(rec, fh, indent=1)
    os.replace(tmp, final)


def remove(lab: str) -> None:
    """Forget the lab's exercise (reset's last step)."""
    path(lab).unlink(missing_ok=True)
