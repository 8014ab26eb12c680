"""Pure logic of the journal and of looking back (no root, no lab)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.errors import UsageError
from toolkit.watch import history, journal, schema


def _snap(t: float, fdb: dict[str, dict]) -> dict:
    ns = {
        "id": "vm1/1-abc",
        "vm": "vm1",
        "ns": "1-abc",
        "ns_kind": "overlay",
        "tables": {tb: {} for tb in schema.TABLES},
    }
    ns["tables"]["fdb"] = dict(fdb)
    return {
        "v": 1,
        "type": "snapshot",
        "t": t,
        "lab": "x",
        "namespaces": [ns],
        "store": {"hosts/vm1": {"host": "vm1"}},
        "store_index": 5,
    }


def _ev(t: float, kind: str, op: str, key: str, after: object = None, **kw: object) -> dict:
    return {
        "v": 1,
        "type": "event",
        "seq": int(t),
        "t": t,
        "lab": "x",
        "kind": kind,
        "op": op,
        "vm": "vm1",
        "ns": "1-abc",
        "key": key,
        "after": after,
        **kw,
    }


ENTRY = {"mac": "02:42:0a:00:00:03", "dev": "vxlan0", "dst": "192.168.100.24"}


def _write(path: Path, recs: list[dict]) -> None:
    path.mkdir(exist_ok=True)
    (path / journal.segment_name(1)).write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_state_at_applies_events_up_to_the_time(tmp_path: Path) -> None:
    _write(
        tmp_path / "j",
        [
            {"v": 1, "type": "header", "lab": "x", "t": 0.5, "segment": 1},
            _snap(1.0, {"k": ENTRY}),
            _ev(2.0, "fdb", "del", "k"),
            _ev(3.0, "fdb", "add", "k", ENTRY),
            _ev(3.5, "store", "add", "endpoint/n/e", {"name": "c2"}, index=9),
        ],
    )
    at2, problem = history.state_at(str(tmp_path / "j"), 2.5)
    assert problem is None and at2["namespaces"][0]["tables"]["fdb"] == {}
    at4, _ = history.state_at(str(tmp_path / "j"), 4.0)
    assert at4["namespaces"][0]["tables"]["fdb"] == {"k": ENTRY}
    assert at4["store"]["endpoint/n/e"] == {"name": "c2"} and at4["store_index"] == 9
    rows = history.diff(at2, at4)
    assert [(r.ns, r.table, r.op, r.key) for r in rows] == [
        ("vm1/1-abc", "fdb", "added", "k"),
        ("store", "store", "added", "endpoint/n/e"),
    ]
    assert history.diff(at4, at4) == []


def test_truncated_journal_gives_prefix_and_one_problem(tmp_path: Path) -> None:
    j = tmp_path / "j"
    _write(j, [_snap(1.0, {}), _ev(2.0, "fdb", "add", "k", ENTRY)])
    with open(j / journal.segment_name(1), "a") as fh:
        fh.write('{"v":1,"type":"event","t":3')  # a recorder killed mid-line
    reading = journal.Reading()
    recs = list(journal.read(str(j), reading))
    assert len(recs) == 2 and "line 3 is cut short" in str(reading.problem)


def test_corrupt_line_stops_the_reading(tmp_path: Path) -> None:
    j = tmp_path / "j"
    _write(j, [_snap(1.0, {}), _ev(2.0, "fdb", "add", "k", ENTRY)])
    seg = j / journal.segment_name(1)
    seg.write_text(seg.read_text() + "garbage\n" + json.dumps(_ev(4.0, "fdb", "del", "k")) + "\n")
    reading = journal.Reading()
    assert len(list(journal.read(str(j), reading))) == 2
    assert "line 3 is not JSON" in str(reading.problem)


def test_writer_rotates_and_keeps_a_bounded_number_of_segments(tmp_path: Path) -> None:
    w = journal.Writer(str(tmp_path / "j"), "x", max_bytes=2000, keep=2)
    w.open(_snap(1.0, {}))
    for i in range(200):
        w.event(_ev(2.0 + i, "fdb", "add", f"k{i}", ENTRY))
        if w.full():
            w.snapshot(_snap(2.0 + i, {}))
    w.close()
    segs = journal.segments(str(tmp_path / "j"))
    assert len(segs) == 2
    first = [json.loads(line) for line in Path(segs[0]).read_text().splitlines()[:2]]
    assert [r["type"] for r in first] == ["header", "snapshot"]


def test_bad_inputs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        history.parse_time("yesterday-ish")
    with pytest.raises(UsageError):
        list(journal.read(str(tmp_path / "nope")))
    with pytest.raises(ValueError, match="unknown kind 'fbd'"):
        schema.parse_kinds("fdb,fbd")
    assert history.parse_time("2026-11-29T20:30:05") == history.parse_time("2026-11-29T20:30:05Z")


def test_diff_shows_namespace_rows_only_when_ns_is_asked() -> None:
    a = _snap(1.0, {})
    b = _snap(2.0, {})
    b["namespaces"] = b["namespaces"] + [{**b["namespaces"][0], "id": "vm2/c9", "vm": "vm2"}]
    assert [r.table for r in history.diff(a, b)] == ["ns"]
    assert [r.table for r in history.diff(a, b, frozenset({"ns"}))] == ["ns"]
    assert history.diff(a, b, frozenset({"fdb"})) == []
