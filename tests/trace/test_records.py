"""Pure parts of trace, no root: SRC/DST resolution against a snapshot, the records' JSON,
the text renderer, and the probe's lengths."""

from __future__ import annotations

import pytest

from toolkit.errors import NotFound, UsageError
from toolkit.overlay.model import Endpoint, Host, Network, Snapshot
from toolkit.render.trace import text
from toolkit.trace.ends import pick
from toolkit.trace.records import Hop, Tap, Trace
from toolkit.trace.run import inner_length


def snapshot() -> Snapshot:
    snap = Snapshot(index=7)
    snap.networks["n1"] = Network("n1", "dev", "10.0.0.0/24", "10.0.0.1", 256)
    snap.networks["n2"] = Network("n2", "other", "10.1.0.0/24", "10.1.0.1", 257)
    for eid, name, ip, host, net, svc in (
        ("e1", "container_node1", "10.0.0.2", "vm1", "n1", "svc1"),
        ("e2", "container_node2", "10.0.0.3", "vm2", "n1", "svc2"),
        ("e3", "loner", "10.1.0.2", "vm1", "n2", None),
        ("e4", "neighbour", "10.0.0.4", "vm1", "n1", None),
    ):
        vtep = {"vm1": "192.168.100.23", "vm2": "192.168.100.24"}[host]
        snap.endpoints[eid] = Endpoint(eid, net, name, ip, "02:42:00:00:00:00", host, vtep, svc)
    snap.hosts["vm1"] = Host("vm1", "192.168.100.23")
    return snap


def test_pick_resolves_containers_services_and_ips():
    ends = pick(snapshot(), "container_node2", "svc1")
    assert (ends.src.name, ends.dst.name, ends.network.vni) == (
        "container_node2",
        "container_node1",
        256,
    )
    assert pick(snapshot(), "svc2", "10.0.0.2").dst.name == "container_node1"


def test_pick_takes_the_published_service_name():
    # The demo publishes with --publish-service svc1.dev.overlay; users trace that name.
    assert pick(snapshot(), "svc2", "svc1.dev.overlay").dst.name == "container_node1"
    assert pick(snapshot(), "svc2.dev", "svc1").src.name == "container_node2"
    with pytest.raises(NotFound):
        pick(snapshot(), "svc2", "svc1.other.overlay")
    with pytest.raises(NotFound):
        pick(snapshot(), "svc2", "svc1.dev.bridge")


def test_port_with_icmp_is_refused():
    from toolkit.trace.run import trace as run_trace

    with pytest.raises(UsageError, match="--port applies to udp and tcp"):
        run_trace("nolab", "a", "b", "icmp", 80)


def test_pick_refuses_with_one_line_reasons():
    with pytest.raises(NotFound) as exc:
        pick(snapshot(), "container_nod2", "svc1")
    assert exc.value.hint == "did you mean 'container_node2' or 'container_node1'?"
    with pytest.raises(UsageError, match="same container"):
        pick(snapshot(), "svc1", "container_node1")
    with pytest.raises(
        UsageError, match=r"share no network \(container_node2: dev; loner: other\)"
    ):
        pick(snapshot(), "container_node2", "loner")


def trace(broken: bool) -> Trace:
    t = Trace(
        "lab",
        "c2",
        "svc1",
        "c2",
        "c1",
        "10.0.0.3",
        "10.0.0.2",
        "vm2",
        "vm1",
        "dev",
        256,
        4789,
        "icmp",
        None,
        56,
    )
    t.hops.append(
        Hop(
            "request",
            "route",
            "vm2",
            "container c2",
            "routing table",
            "10.0.0.2 dev eth0",
            "10.0.0.2 dev eth0",
            "network dev",
            tap=Tap("container c2", "/x", "eth0"),
        )
    )
    hop = Hop(
        "request",
        "vxlan0 FDB",
        "vm2",
        "vm2 · 1-abc",
        "vxlan0 FDB",
        "no entry",
        "02:42:0a:00:00:02 dst 192.168.100.23 self permanent",
        "endpoint/" + "a" * 64,
    )
    if broken:
        hop.status, hop.reason = "broken", "no FDB entry"
        hop.finding = {
            "check": "fdb-missing",
            "expected": hop.expected,
            "found": "no entry",
            "fix": "ovlab exec lab/vm2 -- bridge fdb replace …",
        }
    t.hops.append(hop)
    return t


def test_json_names_the_first_broken_hop_and_its_finding():
    d = trace(True).to_dict()
    assert (d["ok"], d["first_broken"], d["reason"]) == (False, 1, "no FDB entry")
    assert d["finding"]["check"] == "fdb-missing" and d["hops"][0]["tap"] == "container c2 eth0"
    assert "first_unseen" not in d and "seen" not in d["hops"][0]
    healthy = trace(False)
    healthy.confirmed, healthy.hops[0].seen = True, False
    d = healthy.to_dict()
    assert d["ok"] and d["first_broken"] is None and d["first_unseen"] == 0


def test_text_marks_hops_and_shortens_store_ids():
    out = text(trace(True))
    assert "✓ container c2" in out and "✗ vm2 · 1-abc" in out
    assert "a" * 12 + "…" in out and "a" * 13 not in out
    assert "verdict: broken at the request's vxlan0 FDB hop on vm2 · 1-abc" in out
    assert "fix       ovlab exec lab/vm2 -- bridge fdb replace …" in out
    assert "verdict: the path holds both ways" in text(trace(False))


def test_probe_lengths():
    assert inner_length("icmp", 56) == 84  # ping's default: 84-byte IPv4 packet
    assert inner_length("udp", 1400) == 1428 and inner_length("tcp", 999) == 60


def test_svg_overlay_draws_the_path_green_then_red_at_the_break():
    from toolkit.render.trace import dot_overlay

    base = 'graph "ovlab_lab" {\n  "underlay";\n}\n'
    out = dot_overlay(trace(True), base, "n" * 64)
    assert out.startswith('graph "ovlab_lab" {\n  "underlay";') and out.rstrip().endswith("}")
    req = [line for line in out.splitlines() if "--" in line and 'style="solid"' in line]
    # container → namespace is green (route held), namespace → vm2 red (vxlan0 FDB), rest grey.
    assert len(req) == 5 and "#2e7d32" in req[0] and "#c62828" in req[1] and "#9e9e9e" in req[4]
    assert 'label="request ✗ fdb-missing"' in req[1]
    assert '"ns:vm2:nnnnnnnnnnnn" [color="#c62828", penwidth="3"];' in out


def test_a_drop_rule_with_more_conditions_is_not_judged():
    from toolkit.trace.firewall import narrowed

    dport = {
        "match": {
            "op": "==",
            "left": {"payload": {"protocol": "udp", "field": "dport"}},
            "right": 4789,
        }
    }
    saddr = {
        "match": {
            "op": "==",
            "left": {"payload": {"protocol": "ip", "field": "saddr"}},
            "right": "192.168.100.50",
        }
    }
    objs = [
        {
            "rule": {
                "family": "inet",
                "table": "t",
                "chain": "in",
                "handle": 2,
                "expr": [saddr, dport, {"drop": None}],
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "t",
                "chain": "in",
                "handle": 3,
                "expr": [dport, {"drop": None}],
            }
        },
    ]
    assert narrowed(objs, "rule inet t in handle 2 (udp dport 4789 drop)", 4789)
    assert not narrowed(objs, "rule inet t in handle 3 (udp dport 4789 drop)", 4789)
    assert not narrowed(objs, "chain inet t in (hook input, policy drop)", 4789)


def test_fast_path_takes_only_what_it_fully_understands(monkeypatch):
    from toolkit.cli import trace_run

    calls = []
    monkeypatch.setattr(trace_run, "run_trace", lambda *a, **kw: calls.append((a, kw)) or 0)
    argv = ["lab", "c2", "svc1", "--json", "--proto", "udp", "--port", "53", "--confirm"]
    assert trace_run.fast_trace(argv) == 0
    assert calls == [
        (("lab", "c2", "svc1"), {"json_out": True, "proto": "udp", "port": 53, "confirm": True})
    ]
    for argv in (
        ["lab", "c2"],
        ["lab", "c2", "svc1", "--svg", "x.svg"],
        ["--help"],
        ["lab", "c2", "svc1", "--port", "x"],
        ["lab", "c2", "svc1", "--size"],
    ):
        assert trace_run.fast_trace(argv) is None, argv
    assert len(calls) == 1


def test_outer_length_is_capped_by_the_overlay_mtu() -> None:
    # The container's eth0 (underlay - 50) fragments a larger probe before the tunnel:
    # a healthy 1500-byte underlay never sees more than 1500 (the review's false break).
    from toolkit.overlay.model import Network
    from toolkit.trace.context import Context

    net = Network("n" * 32, "dev", "10.0.0.0/24", "10.0.0.1", 256)
    small = Context("lab", net, 4789, 84, 1500, {}, {})
    big = Context("lab", net, 4789, 1528, 1500, {}, {})
    assert (small.outer, big.outer) == (134, 1500)
    assert Context("lab", net, 4789, 1528, 9000, {}, {}).outer == 1578
