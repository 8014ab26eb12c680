"""Shared bits for benchmarks that need a provisioned lab: a renamed copy of a shipped topology."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVLAB = [sys.executable, "-m", "toolkit.cli.main"]


def ovlab(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run the CLI; its stdout."""
    import os

    proc = subprocess.run(
        [*OVLAB, *args], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode:
        raise SystemExit(f"ovlab {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@contextlib.contextmanager
def renamed_topology(shipped: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """A copy of labs/<shipped> named <prefix>-<shipped>, so a user's lab is never touched."""
    lab = f"{prefix}-{shipped}"[:20].rstrip("-")
    text = (ROOT / "labs" / shipped / "topology.yml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        topo = Path(tmp) / "topology.yml"
        topo.write_text(re.sub(r"(?m)^name: .*$", f"name: {lab}", text))
        try:
            yield lab, topo
        finally:
            ovlab("lab", "down", lab, check=False)


def members_alive(lab: str, expected: int) -> bool:
    """True when `consul members` lists every VM alive."""
    try:
        out = ovlab("consul", "members", lab, "--json", check=False)
        rows = json.loads(out)["data"] if out else []  # the --json envelope (README)
    except ValueError:
        return False
    return len(rows) == expected and all(r["status"] == "alive" for r in rows)


def wait_until(pred, timeout: float, step: float = 0.2) -> float:
    """Seconds until pred() held."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout}s")
        time.sleep(step)
    return time.monotonic() - t0
