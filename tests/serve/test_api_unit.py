"""The API's answers are --json envelopes; while an exercise runs, the doctor's findings
are never sent (they would give the answer away). Route functions called directly, a
made-up lab state under OVLAB_STATE_ROOT; no lab, no root."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from toolkit.serve.api import HIDDEN, Served, routes

FINDING = {"severity": "error", "check": "fdb-missing", "vm": "vm1", "element": "ns:vm1:abc"}


def envelope(kind: str, data: Any) -> dict[str, Any]:
    return {"ovlab": 1, "kind": kind, "data": data}


def get(served: Served, path: str) -> dict[str, Any]:
    route = next(r for r in routes(served) if r.path == path)
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    resp = route.endpoint(Request(scope))
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    return dict(json.loads(resp.body))


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path))
    live = SimpleNamespace(doctor={"exit_code": 4, "findings": [FINDING]})
    return Served("ovn-x", live, envelope)  # type: ignore[arg-type]


def test_the_doctor_s_findings_go_out_in_their_envelope(served: Served) -> None:
    doc = get(served, "/api/doctor")
    assert doc == envelope("doctor", {"exit_code": 4, "findings": [FINDING]})


def test_while_an_exercise_runs_no_finding_is_sent(served: Served, tmp_path: Path) -> None:
    from toolkit.exercise import record

    record.path("ovn-x").parent.mkdir(parents=True)
    record.save("ovn-x", {"exercise": "rebuilt-by-hand", "started": 0, "faults": ["secret"]})
    doc = get(served, "/api/doctor")
    assert doc == envelope("doctor", {"hidden": HIDDEN, "findings": []})
    assert "fdb-missing" not in json.dumps(doc) and "secret" not in json.dumps(doc)
    # The student's view says what the exercise is, never which faults it injected.
    status = get(served, "/api/exercise")
    assert status["kind"] == "exercise status" and "secret" not in json.dumps(status)


def test_without_a_walkthrough_the_walk_is_null(served: Served) -> None:
    assert get(served, "/api/walk") == envelope("walk", None)


def test_a_collector_s_error_is_one_json_line_not_a_traceback() -> None:
    from toolkit.errors import NotFound, OvlabError
    from toolkit.serve.api import error_response

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    resp = error_response(
        Request(scope), NotFound("no lab named 'x' is up", hint="see 'ovlab lab ls'")
    )
    assert resp.status_code == 400
    assert json.loads(resp.body) == {"error": "no lab named 'x' is up — see 'ovlab lab ls'"}
    assert error_response(Request(scope), OvlabError("dot failed")).status_code == 500
