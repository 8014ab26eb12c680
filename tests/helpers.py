"""Plain helpers every test package shares (fixtures live in tests/conftest.py).

Import from here, never from another package's conftest: a conftest is pytest's to load.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

OVLAB = [sys.executable, "-m", "toolkit.cli.main"]


def wait_for(
    probe: Callable[[], T], timeout: float, step: float = 0.2, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail after
    ``timeout`` seconds naming ``what`` and the last answer (or AssertionError) seen.

    An AssertionError raised by the probe counts as "not yet", so a probe may assert.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last: {last!r}")
        time.sleep(step)


def ovlab(
    *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a separate process."""
    proc = subprocess.run(
        [*OVLAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"ovlab {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (no traceback), for exact asserts."""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def ovlab_json(*args: str) -> object:
    """Run the CLI with --json and parse its output."""
    return json.loads(ovlab(*args, "--json").stdout)


def rendered(table: Any, width: int = 160) -> list[str]:
    """What a rich renderable prints on a plain, colourless terminal: its non-blank
    lines, right-stripped."""
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(table)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
