"""verify's judging of captured frames, built with scapy (an independent encoder), no root."""

from __future__ import annotations

from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from tests.capture.verify_samples import PLAN, A, B
from toolkit.capture.pcapio import LINKTYPE_ETHERNET
from toolkit.capture.verdict import Check, Verdict
from toolkit.capture.verify_judge import judge
from toolkit.capture.verify_probe import Frames, Observed, Ping

OK = Ping("10.0.0.3", "no answer", 3)


def echo(request: bool, seq: int = 1, vni: int = 256, dport: int = 4789, size: int = 0) -> bytes:
    """One VXLAN-carried ICMP echo between A and B, as the wire shows it."""
    s, d = (A, B) if request else (B, A)
    inner = (
        Ether(src=s.mac, dst=d.mac)
        / IP(src=s.ip, dst=d.ip)
        / ICMP(type=8 if request else 0, id=7, seq=seq)
        / Raw(b"x" * size)
    )
    return bytes(
        Ether(src="02:fc:00:00:00:01", dst="02:fc:00:00:00:02")
        / IP(src=s.vtep, dst=d.vtep)
        / UDP(sport=49152, dport=dport)
        / VXLAN(flags=0x08, vni=vni)
        / inner
    )


def seen(at_a: list[bytes], at_b: list[bytes], ping: Ping = OK, full: int = 1) -> Observed:
    def frames(vm: str, data: list[bytes]) -> Frames:
        return Frames(vm, LINKTYPE_ETHERNET, [(i, f) for i, f in enumerate(data)])

    return Observed(
        frames("vm1", at_a), frames("vm2", at_b), ping, Ping("10.0.0.3", "", full), 1450
    )


def healthy(n: int = 3) -> tuple[list[bytes], list[bytes]]:
    wire = [echo(r, seq) for seq in range(1, n + 1) for r in (True, False)]
    return wire, wire


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_healthy_exchange_passes_every_check_in_path_order() -> None:
    checks = judge(PLAN, seen(*healthy()), 3)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    fields = ["UDP port", "VNI", "VTEPs", "inner IPs", "inner MACs", "VXLAN header"]
    assert [c.name for c in checks] == [
        "name svc2 (in c1)",
        "echo requests leave vm1 eth1",
        *(f"request {f}" for f in fields),
        "request outer fragments",
        "echo requests reach vm2 eth1",
        "echo replies leave vm2 eth1",
        *(f"reply {f}" for f in fields),
        "reply outer fragments",
        "echo replies reach vm1 eth1",
        "ping svc2 from c1",
        "full-size ping (1450 bytes, DF off)",
    ]
    c = by_name(checks)
    assert c["request VTEPs"].observed == "192.168.100.23 → 192.168.100.24"
    assert c["reply inner MACs"].observed == "02:42:0a:00:00:03 → 02:42:0a:00:00:02"
    assert c["echo requests leave vm1 eth1"].observed == "3 VXLAN"
    assert [(x.step, x.direction) for x in checks[1:4]] == [
        ("leave", "request"),
        ("port", "request"),
        ("vni", "request"),
    ]


def test_a_wrong_vni_is_named_and_the_rest_still_compared() -> None:
    wire = [echo(True, vni=999), echo(False)]
    c = by_name(judge(PLAN, seen(wire, wire), 3))
    assert (c["request VNI"].ok, c["request VNI"].observed) == (False, "999")
    assert c["request UDP port"].ok and c["reply VNI"].ok


def test_an_undeclared_port_between_the_vteps_is_still_read_as_vxlan() -> None:
    assert 5555 not in PLAN.ports
    wire = [echo(True, dport=5555), echo(False)]
    c = by_name(judge(PLAN, seen(wire, wire), 3))
    assert (c["request UDP port"].ok, c["request UDP port"].observed) == (False, "5555")
    assert c["request VNI"].ok and c["echo requests leave vm1 eth1"].ok


def test_echoes_that_left_but_did_not_arrive() -> None:
    out = [echo(True, 1), echo(True, 2)]
    c = by_name(judge(PLAN, seen(out, [echo(True, 1)]), 3))
    reach = c["echo requests reach vm2 eth1"]
    assert (reach.ok, reach.observed) == (False, "1 VXLAN, 1 of 2 that left missing")
    none = by_name(judge(PLAN, seen(out, []), 3))["echo requests reach vm2 eth1"]
    assert (none.ok, none.observed) == (False, "none (missing on the wire)")
    # Nothing left the other way: "leave" fails, and "reach" has nothing to compare.
    assert by_name(judge(PLAN, seen(out, []), 3))["echo replies reach vm1 eth1"].ok is None


def test_outer_fragments_from_the_sender_fail_the_fragment_check() -> None:
    big = Ether(echo(True, size=1422))
    pieces = fragment(big[IP], fragsize=1376)  # what a 1400-byte underlay MTU makes of it
    assert len(pieces) == 2
    frames = [bytes(Ether(src=big.src, dst=big.dst) / f) for f in pieces]
    longest = max(IP(bytes(f)).len for f in pieces)  # scapy's own view, the oracle
    wire = [*healthy(1)[0], *frames]  # the small pings pass; the full-size one fragments
    c = by_name(judge(PLAN, seen(wire, wire), 3))
    frag = c["request outer fragments"]
    assert (frag.ok, frag.observed) == (False, f"2 IPv4 fragments of up to {longest} bytes")
    assert c["reply outer fragments"].ok


def test_name_and_ping_checks_read_what_ping_printed() -> None:
    ping = Ping(None, "ping: svc2: Name or service not known", 0)
    c = by_name(judge(PLAN, seen([], [], ping, full=0), 3))
    name = c["name svc2 (in c1)"]
    assert (name.ok, name.observed) == (False, "unresolved: ping: svc2: Name or service not known")
    assert (c["ping svc2 from c1"].ok, c["ping svc2 from c1"].observed) == (False, "0/3 replies")
    assert c["full-size ping (1450 bytes, DF off)"].ok is False


def test_verdict_json_keeps_its_fields_and_leaves_the_step_out() -> None:
    checks = judge(PLAN, seen(*healthy()), 3)
    v = Verdict("lab", "c1", "svc2", "vm1", "vm2", "dev", 256, 4789, "1-f0c4a767d6", tuple(checks))
    d = v.to_dict()
    assert list(d) == [
        "lab", "src", "dst", "src_vm", "dst_vm", "network", "vni", "port", "netns", "checks",
        "ok", "reason",
    ]  # fmt: skip
    assert list(d["checks"][0]) == ["name", "expected", "observed", "ok", "hint", "fix"]
    assert d["ok"] is True and d["reason"] is None
