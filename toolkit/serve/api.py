"""The page's JSON API: each answer is a command's JSON twin in the ``--json`` envelope
(``{"ovlab": 1, "kind": …, "data": …}``, README "JSON output"), plus the event stream
and the pcap download.

GET /api/graph               kind "serve graph": {graph (lab graph's twin), svg, elements}
GET /api/tables              kind "serve tables": [{element, name, kind, fdb, neigh}]
GET /api/doctor              kind "doctor": the doctor's twin, findings with ``element``
GET /api/exercise            kind "exercise status": what the student sees, or null
GET /api/element/{id}        kind "serve element": the element, its tables, a VM's status
GET /api/capture/{id}        a pcap (?count=N frames, ?seconds=S; whichever comes first)
GET /api/events              Server-Sent Events: ``watch`` (schema v1 records), ``doctor``
GET /api/walk                kind "walk": the walkthrough and the steps run so far
POST /api/walk/{n}           kind "walk step": run step n, its record
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from toolkit.errors import OvlabError
from toolkit.serve import collect, elements
from toolkit.serve.live import Live, sse
from toolkit.serve.walkrun import WalkRun

KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies close it)
HIDDEN = "the doctor's findings are hidden while an exercise runs: they would give the answer away"


@dataclass
class Served:
    """What one server serves: the lab, its live side, an optional walkthrough, and the
    envelope writer (toolkit.cli.common.envelope, handed down by the command)."""

    lab: str
    live: Live
    envelope: Callable[[str, Any], dict[str, Any]]
    walk: WalkRun | None = None


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default).encode()


def error_response(request: Request, exc: Exception) -> Response:
    """An OvlabError raised by a collector, as JSON ``{"error": line}`` (400 for bad input,
    500 otherwise), not a traceback: the handler every route shares."""
    assert isinstance(exc, OvlabError)
    return _error(exc)


def _error(exc: OvlabError) -> Response:
    status = 400 if exc.exit_code == 2 else 500
    text = exc.message + (f" — {exc.hint}" if exc.hint else "")
    return _Json({"error": text}, status_code=status)


def _element(lab: str, ident: str) -> elements.Element | None:
    return elements.elements(collect.graph(lab)).get(ident)


def routes(s: Served) -> list[Route]:
    """The API's routes for one served lab."""

    def ok(kind: str, data: Any) -> Response:
        return _Json(s.envelope(kind, data), headers={"Cache-Control": "no-store"})

    def exercising() -> bool:
        from toolkit.exercise import record

        return record.load(s.lab) is not None

    def graph(request: Request) -> Response:
        model = collect.graph(s.lab)
        els = [e.to_dict() for e in elements.elements(model).values()]
        return ok("serve graph", {"graph": model, "svg": collect.svg(model), "elements": els})

    def tables(request: Request) -> Response:
        return ok("serve tables", collect.all_tables(s.lab, collect.graph(s.lab)))

    def doctor(request: Request) -> Response:
        if exercising():
            return ok("doctor", {"hidden": HIDDEN, "findings": []})
        report = s.live.doctor or collect.findings(s.lab, collect.graph(s.lab))
        return ok("doctor", report)

    def exercise(request: Request) -> Response:
        return ok("exercise status", collect.exercise(s.lab))

    def element(request: Request) -> Response:
        found = _element(s.lab, request.path_params["ident"])
        if found is None:
            return _Json({"error": "no such element in the graph"}, status_code=404)
        try:
            return ok("serve element", collect.details(s.lab, found))
        except OvlabError as exc:
            return _error(exc)

    def capture(request: Request) -> Response:
        from toolkit.serve import pcap

        found = _element(s.lab, request.path_params["ident"])
        if found is None:
            return _Json({"error": "no such element in the graph"}, status_code=404)
        try:
            count = int(request.query_params.get("count", "100"))
            seconds = float(request.query_params.get("seconds", "5"))
        except ValueError:
            return _Json({"error": "count and seconds are numbers"}, status_code=400)
        try:
            data, _n = pcap.capture(s.lab, found, count, seconds)
        except OvlabError as exc:
            return _error(exc)
        name = f"{s.lab}-{found.name.split(' ')[0]}-{found.iface}.pcap".replace(":", "_")
        return Response(
            data,
            media_type="application/vnd.tcpdump.pcap",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def events(request: Request) -> Response:
        q = s.live.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                if s.live.doctor is not None and not exercising():
                    yield sse("doctor", s.live.doctor)
                while True:
                    try:
                        text = await asyncio.wait_for(q.get(), KEEPALIVE)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if text is None:
                        return
                    if text.startswith("event: doctor") and exercising():
                        text = sse("doctor", {"hidden": HIDDEN, "findings": []})
                    yield text
            finally:
                s.live.unsubscribe(q)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def walk(request: Request) -> Response:
        return ok("walk", s.walk.to_dict() if s.walk else None)

    def walk_step(request: Request) -> Response:
        if s.walk is None:
            return _Json({"error": "no walkthrough: start with --walk"}, status_code=404)
        try:
            return ok("walk step", s.walk.run(int(request.path_params["number"])))
        except OvlabError as exc:
            return _error(exc)

    return [
        Route("/api/graph", graph),
        Route("/api/tables", tables),
        Route("/api/doctor", doctor),
        Route("/api/exercise", exercise),
        Route("/api/element/{ident:path}", element),
        Route("/api/capture/{ident:path}", capture),
        Route("/api/events", events),
        Route("/api/walk", walk),
        Route("/api/walk/{number:int}", walk_step, methods=["POST"]),
    ]
