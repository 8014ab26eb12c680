"""SVG/PNG pictures by running Graphviz's ``dot`` (Debian package graphviz)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from toolkit.errors import EnvError, OvlabError, UsageError

IMAGE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def dot_binary() -> str:
    """Path of Graphviz's dot, or a one-line EnvError saying how to get it."""
    found = shutil.which("dot")
    if not found:
        raise EnvError(
            "Graphviz's dot is not installed: cannot draw an image",
            hint="apt-get install graphviz (or write text: --format dot|mermaid)",
        )
    return found


def render(dot_text: str, path: Path) -> Path:
    """Draw DOT text into an image file whose suffix names the format."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the image format of {path}", hint="use .svg or .png")
    binary = dot_binary()
    proc = subprocess.run(
        [binary, f"-T{fmt}", "-o", str(path)],
        input=dot_text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode:
        err = proc.stderr.strip().splitlines()
        raise OvlabError(f"dot failed to draw {path}: {err[-1] if err else proc.returncode}")
    return path
