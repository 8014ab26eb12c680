"""The agent API's typed wire: Snapshot and AgentInfo to JSON and back, no root, no lab.

The JSON is the contract with agents already deployed and with ``--json`` readers, so
the encoding is pinned against the shape the agent sent before it was typed; a record
that lacks a field gives one line naming it, never a KeyError traceback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from toolkit.errors import EXIT_RUNTIME
from toolkit.overlay import api
from toolkit.overlay.model import (
    AgentInfo,
    Endpoint,
    Host,
    Network,
    Snapshot,
    WireError,
    container_mac,
    parse_tree,
)

NET = Network("n" * 64, "dev", "10.0.0.0/24", "10.0.0.1", 256, created=1.5)
EPS = [
    Endpoint("e1", NET.id, "c1", "10.0.0.2", container_mac("10.0.0.2"), "vm1", "192.168.100.23"),
    Endpoint(
        "e2", NET.id, "c2", "10.0.0.3", container_mac("10.0.0.3"), "vm2", "192.168.100.24",
        service="web", container="f" * 64, created=2.0,
    ),
]  # fmt: skip
HOSTS = [Host("vm1", "192.168.100.23"), Host("vm2", "192.168.100.24", 8472)]


def snapshot() -> Snapshot:
    return Snapshot(
        index=42,
        networks={NET.id: NET},
        endpoints={e.id: e for e in EPS},
        hosts={h.host: h for h in HOSTS},
    )


def test_round_trip_through_json_is_lossless():
    s = snapshot()
    assert Snapshot.from_wire(json.loads(json.dumps(s.to_wire()))) == s


def test_the_wire_is_the_shape_the_untyped_agent_sent():
    # Before the wire was typed the agent answered with this, built by hand; clients
    # already deployed and `ovlab network ls --json` readers depend on it, key order too.
    s = snapshot()
    old = json.dumps(
        {
            "index": s.index,
            "networks": list(s.networks.values()),
            "endpoints": list(s.endpoints.values()),
            "hosts": list(s.hosts.values()),
        },
        default=lambda o: o.to_dict(),
    )
    assert json.dumps(s.to_wire()) == old


def test_a_missing_field_is_one_line_naming_record_and_field():
    wire = snapshot().to_wire()
    del wire["endpoints"][1]["host"]
    with pytest.raises(WireError) as err:
        Snapshot.from_wire(wire)
    assert err.value.message == "agent snapshot: endpoint #1 has no 'host'"
    assert "\n" not in str(err.value) and err.value.exit_code == EXIT_RUNTIME
    assert err.value.hint and "version" in err.value.hint


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([], "agent snapshot is not a JSON object but list"),
        ({"networks": {}}, "agent snapshot: networks is not a list"),
        ({"hosts": ["vm1"]}, "agent snapshot: host #0 is not a JSON object but str"),
        (
            {"networks": [{**NET.to_dict(), "vni": "x"}]},
            "network 'dev': vni is not a number: 'x'",
        ),
    ],
)
def test_malformed_answers_are_one_line(wire: object, message: str):
    with pytest.raises(WireError) as err:
        Snapshot.from_wire(wire)
    assert err.value.message == message


def test_fields_a_newer_agent_adds_are_left_out_and_defaults_fill_older_ones():
    wire = snapshot().to_wire()
    wire["endpoints"][0]["ipv6"] = "fd00::2"
    del wire["hosts"][0]["port"]
    back = Snapshot.from_wire(wire)
    assert back.endpoints["e1"] == EPS[0]
    assert back.hosts["vm1"].port == 4789


def test_an_empty_answer_is_an_empty_store():
    assert Snapshot.from_wire({}) == Snapshot()


def test_vxlan_port_is_the_one_most_hosts_published():
    s = snapshot()
    s.hosts["vm3"] = Host("vm3", "192.168.100.25", 8472)
    assert s.vxlan_port == 8472
    assert Snapshot().vxlan_port is None


def test_the_store_and_the_wire_decode_records_alike():
    # parse_tree reads Consul's KV records with the same decoder; a corrupt one is skipped.
    import base64

    def kv(key: str, value: object) -> dict[str, str]:
        raw = json.dumps(value).encode()
        return {"Key": f"docker/network/v1.0/{key}", "Value": base64.b64encode(raw).decode()}

    entries = [kv(f"network/{NET.id}", NET.to_dict())]
    entries += [kv(f"endpoint/{NET.id}/{e.id}", e.to_dict()) for e in EPS]
    entries += [kv(f"hosts/{h.host}", h.to_dict()) for h in HOSTS]
    entries.append(kv(f"endpoint/{NET.id}/bad", {"id": "bad"}))
    assert parse_tree(entries, 42) == snapshot()


def test_agent_info_round_trip():
    info = AgentInfo("vm1", "192.168.100.23", "lab", 4789, 1450, "s1", True, 9, ("c1",), 3, 77)
    wire = json.loads(json.dumps(info.to_dict()))
    assert wire["containers"] == ["c1"]
    assert AgentInfo.from_wire(wire) == info
    with pytest.raises(WireError, match="agent info has no 'vtep'"):
        AgentInfo.from_wire({"host": "vm1"})


class _Agent:
    """Answers the two typed reads as a real agent's API does."""

    def fresh_snapshot(self) -> Snapshot:
        return snapshot()

    def info(self) -> AgentInfo:
        return AgentInfo("vm9", "192.168.100.29", port=8472)


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "agent.sock")
    server = api.Server(path, _Agent())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_over_a_real_socket_the_reader_gets_what_the_agent_holds(sock: str):
    assert Snapshot.from_wire(api.call(sock, "snapshot", timeout=5)) == snapshot()
    assert api.info(sock) == AgentInfo("vm9", "192.168.100.29", port=8472)


def test_frozen_records_compare_by_value():
    assert replace(EPS[0], host="vm3") != EPS[0]
