"""doctor --at's view of a recorded state (no root, no lab)."""

from __future__ import annotations

from toolkit.watch import schema
from toolkit.watch.atview import diagnose_at


def _ns(ns_id: str, vm: str, ns: str, kind: str) -> dict:
    return {
        "id": ns_id,
        "vm": vm,
        "ns": ns,
        "ns_kind": kind,
        "tables": {tb: {} for tb in schema.TABLES},
    }


def test_recorded_containers_are_counted() -> None:
    state = {
        "v": 1,
        "type": "snapshot",
        "t": 1.0,
        "lab": "x",
        "namespaces": [
            _ns("vm1/root", "vm1", "root", "vm"),
            _ns("vm1/c1", "vm1", "c1", "container"),
            _ns("vm1/c2", "vm1", "c2", "container"),
        ],
        "store": {},
        "store_index": 0,
    }
    report = diagnose_at(state)
    assert report.checked["containers"] == 2
    assert report.checked["vms"] == 1
