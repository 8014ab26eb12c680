"""``ovlab walk … --html OUT/``: a walkthrough run written as a static page for handing out.

OUT/index.html (self-contained: CSS inline, the graph inline as SVG, no script),
OUT/graph.svg, and OUT/walk.json (the run's JSON twin, kind "walk"). The graph is the
lab as it stood after the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.errors import OvlabError, UsageError


def check_out_dir(out: Path) -> None:
    """UsageError now (before anything runs) when OUT cannot become a directory of files."""
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--html {out}: not a directory", hint="name a directory (made if missing)"
        )
    # Make it now and write a probe file: access() says yes to root for places (/proc, a
    # read-only mount) where mkdir or a write fails, and the walk must not run first.
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ovlab-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--html {out}: cannot write there ({exc.strerror or exc})",
            hint="pick a writable directory",
        ) from None


def graph_svg(lab: str) -> tuple[str | None, str | None]:
    """The lab drawn as SVG, and a note when the overlay (or anything) could not be drawn."""
    from toolkit.serve import collect

    try:
        model = collect.graph(lab)
        return collect.svg(model), (
            f"overlay not drawn: {model.store_error}" if model.store_error else None
        )
    except OvlabError as exc:
        return None, f"no graph: {exc.message}"


def write(out: Path, record: dict[str, Any], svg: str | None, note: str | None,
          envelope: Any) -> Path:  # fmt: skip
    """Write the page and its twins; the path of index.html."""
    from toolkit.serve import page

    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page.walk_html(record, svg, note))
    if svg:
        (out / "graph.svg").write_text(svg)
    (out / "walk.json").write_text(json.dumps(envelope("walk", record), indent=1) + "\n")
    return index
