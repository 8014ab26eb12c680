"""What the page shows, read through the collectors that already exist; nothing prints.

- the graph: toolkit.graph.model (lab state + the agents' store snapshot), drawn to SVG
  by Graphviz (toolkit.graph.dot, ``dot -Tsvg``);
- FDB and neighbour tables: toolkit.netns.collect, per VM (its own namespace) and per VM
  and network (the overlay namespace ``1-<nid>`` pinned in the VM);
- findings: toolkit.doctor.run without the traffic probes (kernel and store only: fast,
  and the page sends no traffic of its own);
- an exercise's progress: toolkit.exercise.session.status (what the student may see).
"""

from __future__ import annotations

import subprocess
from typing import Any

from toolkit.errors import OvlabError
from toolkit.graph.model import GraphModel
from toolkit.serve.elements import Element, elements, placed


def graph(lab: str) -> GraphModel:
    """The lab's graph model (toolkit.graph.model.collect)."""
    from toolkit.graph.model import collect

    return collect(lab)


def svg(model: GraphModel) -> str:
    """The model drawn by Graphviz as SVG text (EnvError without dot, exit 3).

    Each SVG node keeps its DOT name as ``<title>`` (``vm:NODE``, ``ns:…``, ``ct:…``): the
    page finds elements by it.
    """
    from toolkit.graph import dot
    from toolkit.graph.image import dot_binary

    proc = subprocess.run(
        [dot_binary(), "-Tsvg"], input=dot.render(model), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    if proc.returncode:
        err = proc.stderr.strip().splitlines()
        raise OvlabError(f"dot failed to draw the lab: {err[-1] if err else proc.returncode}")
    text = proc.stdout
    start = text.find("<svg")
    return text[start:] if start >= 0 else text  # no XML prolog or doctype: it goes inline


def _rows(view: str, spec: str, lab: str) -> list[dict[str, Any]]:
    from toolkit.netns.collect import collect
    from toolkit.netns.target import resolve

    return [r.to_dict() for r in collect(view, [resolve(spec, lab)])]


def _container_rows(view: str, name: str, lab: str) -> list[dict[str, Any]]:
    from toolkit.capture.live import resolve as where
    from toolkit.netns.collect import collect
    from toolkit.netns.target import NsTarget

    w = where(name, lab)
    return [r.to_dict() for r in collect(view, [NsTarget(w.label, w.path)])]


def tables(lab: str, element: Element) -> dict[str, Any]:
    """FDB and neighbour entries of the element's namespace: ``{"fdb": [...], "neigh":
    [...]}`` in the ``netns fdb|neigh --json`` shapes, or ``{"error": text}`` when the
    namespace cannot be read (it went meanwhile). The underlay has none here."""
    if element.target is None:
        return {"fdb": [], "neigh": []}
    try:
        if element.kind == "container":
            return {v: _container_rows(v, element.target, lab) for v in ("fdb", "neigh")}
        return {v: _rows(v, element.target, lab) for v in ("fdb", "neigh")}
    except OvlabError as exc:
        return {"error": exc.message}


def all_tables(lab: str, model: GraphModel) -> list[dict[str, Any]]:
    """Tables of every VM and every VM's overlay namespace: ``[{element, name, kind, fdb,
    neigh}]`` (containers are read on a click: they add nothing a VM's network lacks)."""
    out = []
    for e in elements(model).values():
        if e.kind in ("vm", "overlay"):
            out.append({"element": e.id, "name": e.name, "kind": e.kind, **tables(lab, e)})
    return out


def findings(lab: str, model: GraphModel) -> dict[str, Any]:
    """The doctor's findings (no probes), each with the ``element`` it concerns:
    ``{"findings": [...], "exit_code": n, "seconds": s}`` or ``{"error": text}``."""
    from toolkit.doctor.run import diagnose

    try:
        report = diagnose(lab, probes=False).to_dict()
    except OvlabError as exc:
        return {"error": exc.message, "findings": []}
    report["findings"] = placed(report["findings"], elements(model))
    return report


def exercise(lab: str) -> dict[str, Any] | None:
    """The running exercise as its student sees it (``exercise status``), else None."""
    from toolkit.exercise import record, session

    if record.load(lab) is None:
        return None
    try:
        return session.status(lab)
    except OvlabError as exc:
        return {"error": exc.message}


def details(lab: str, element: Element) -> dict[str, Any]:
    """What a click shows: the element, its FDB and neighbour tables, and for a VM its
    namespaces' state (toolkit.lab.status)."""
    out: dict[str, Any] = {"element": element.to_dict(), **tables(lab, element)}
    if element.kind == "vm":
        from toolkit.lab.status import vm_status

        row = next((s for s in vm_status(lab) if s.node == element.vm), None)
        out["status"] = row.to_dict() if row else None
    return out
