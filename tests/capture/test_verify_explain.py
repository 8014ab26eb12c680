"""verify's hints for failed checks: the doctor's finding when it has one, else the object
to look at (pure: findings are passed in, no root)."""

from __future__ import annotations

from tests.capture.verify_samples import PLAN
from toolkit.capture.verdict import Check, Direction, Step
from toolkit.capture.verify_explain import explain
from toolkit.doctor.findings import Finding

NS = PLAN.netns


def failed(name: str, step: Step, direction: Direction | None = None, observed: str = "x") -> Check:
    return Check(name, "y", observed, False, step=step, direction=direction)


def test_passing_checks_are_left_as_they_are() -> None:
    ok = Check("request VNI", "256", "256", True, step="vni", direction="request")
    assert explain(PLAN, (ok,), 1450, []) == (ok,)


def test_fallbacks_name_the_kernel_object() -> None:
    checks = (
        failed("name svc2 (in c1)", "name"),
        failed("echo requests leave vm1 eth1", "leave", "request"),
        failed("request outer fragments", "fragments", "request"),
        failed("echo replies reach vm1 eth1", "reach", "reply"),
        failed("ping svc2 from c1", "ping"),
    )
    hints = [c.hint for c in explain(PLAN, checks, 1450, [])]
    assert hints == [
        "look at /etc/hosts in container c1 (its agent on vm1 writes it)",
        f"look at vxlan0's FDB entry for MAC 02:42:0a:00:00:03 in lab/vm1:{NS}",
        "look at eth1's MTU on vm1: a full-size overlay frame needs 1500 bytes on the underlay",
        "look at the underlay from vm2's eth1 to vm1's: UDP 4789 to 192.168.100.23 "
        "(an MTU below 1500, a firewall in vm1?)",
        None,
    ]


def test_a_receiver_that_drops_a_wrong_vni_is_explained_by_the_request() -> None:
    checks = (
        failed("request VNI", "vni", "request", observed="999"),
        failed("echo replies leave vm2 eth1", "leave", "reply"),
    )
    out = explain(PLAN, checks, 1450, [])
    assert out[1].hint == (
        "vm2 received the requests with VNI 999, which its vxlan0 (VNI 256, port 4789) "
        "does not serve: the kernel drops them"
    )


def test_the_doctors_finding_wins_with_its_fix() -> None:
    fdb = Finding(
        "error", "fdb-missing", "no FDB entry for c2 on vm2: traffic to it is dropped", "lab",
        vm="vm1", netns=NS, device="vxlan0", expected="02:42:0a:00:00:03 dst 192.168.100.24",
        fix="ovlab exec lab/vm1 -- bridge fdb replace …",
    )  # fmt: skip
    mtu = Finding("error", "mtu-underlay", "underlay MTU 1400 on vm1", "lab", vm="vm1",
                  device="eth1", fix="ovlab exec lab/vm1 -- ip link set eth1 mtu 1500")  # fmt: skip
    checks = (
        failed("echo requests leave vm1 eth1", "leave", "request"),
        failed("request outer fragments", "fragments", "request"),
    )
    leave, frag = explain(PLAN, checks, 1450, [fdb, mtu])
    assert (leave.hint, leave.fix) == (f"look at {fdb.where}: {fdb.summary}", fdb.fix)
    assert (frag.hint, frag.fix) == (f"look at lab/vm1 · eth1: {mtu.summary}", mtu.fix)
