"""HTML: the live page's shell (its data comes from the JSON API) and the static walkthrough
page. A renderer: records in, text out; it never touches the kernel or runs a command."""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any


def static_text(name: str) -> str:
    """A file of toolkit/serve/static (shipped in the wheel as package data)."""
    return resources.files("toolkit.serve").joinpath("static", name).read_text()


def index_html(lab: str, walk_title: str | None = None) -> str:
    """The live page: panes for the graph, the selected element, findings, tables, events,
    the exercise and the walkthrough; static/app.js fills them from /api/…"""
    walk = (
        f'<section id="walk" class="pane"><h2>Walkthrough: {escape(walk_title)}</h2>'
        '<ol id="walk-steps"></ol></section>'
        if walk_title
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ovlab · {escape(lab)}</title>
<link rel="stylesheet" href="static/app.css">
</head>
<body data-lab="{escape(lab)}">
<header><h1>ovlab · lab <span id="lab-name">{escape(lab)}</span></h1>
<span id="conn" class="conn" title="live updates">connecting…</span></header>
<section id="exercise" class="pane" hidden></section>
<main>
<section id="graph-pane" class="pane"><h2>Overlay</h2><div id="graph">loading the graph…</div>
</section>
<aside>
<section id="details" class="pane"><h2>Details</h2>
<p class="muted">Click a VM, an overlay namespace or a container in the graph.</p></section>
<section id="findings-pane" class="pane"><h2>Doctor</h2><div id="findings">…</div></section>
<section id="events-pane" class="pane"><h2>Changes</h2><ol id="events" reversed></ol></section>
</aside>
</main>
<section id="tables-pane" class="pane"><h2>FDB and neighbour tables</h2>
<div id="tables">…</div></section>
{walk}
<script src="static/app.js"></script>
</body></html>
"""


def _pre(text: str) -> str:
    return f"<pre>{escape(text.rstrip())}</pre>"


def _step(rec: dict[str, Any], total: int) -> str:
    verdict = ""
    if "ok" in rec:
        verdict = (
            f'<span class="ok">✓ passed</span> <span class="muted">({rec["seconds"]:.1f} s)</span>'
            if rec["ok"]
            else '<span class="bad">✗ failed</span>'
        )
    parts = [
        f'<section class="step" id="step-{rec["number"]}">',
        f"<h2>Step {rec['number']}/{total}: {escape(rec['title'])} {verdict}</h2>",
        f'<div class="explain">{rec["explain_html"]}</div>',
    ]
    ran = rec.get("results")
    if ran is None:
        parts += [f'<div class="cmd">$ {escape(c)}</div>' for c in rec["commands"]]
        parts.append('<p class="muted">not run</p>')
    for r in ran or []:
        parts.append(f'<div class="cmd">$ {escape(r["cmd"])}</div>')
        parts.append(_pre(r["output"]))
        parts += [f'<p class="bad">✗ {escape(m)}</p>' for m in r["failed"]]
    parts.append("</section>")
    return "\n".join(parts)


def walk_html(record: dict[str, Any], svg: str | None, note: str | None = None) -> str:
    """A walkthrough run as one self-contained page (CSS inline, no script): its title,
    the lab's graph after the run, then every step with its explanation, commands and
    their output. ``record`` is toolkit.serve.walkrun.walk_record's."""
    steps = record["steps"]
    graph = (
        f'<section class="pane"><h2>The lab after the walkthrough</h2>'
        f'<div id="graph">{svg}</div></section>'
        if svg
        else ""
    )
    warn = f'<p class="bad">{escape(note)}</p>' if note else ""
    body = "\n".join(_step(s, len(steps)) for s in steps)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(record["title"])}</title>
<style>{static_text("app.css")}</style>
</head>
<body class="walk-export">
<header><h1>{escape(record["title"])}</h1>
<span class="muted">walkthrough {escape(record["path"])} on lab {escape(record["lab"])}</span>
</header>
{warn}
{graph}
{body}
</body></html>
"""
