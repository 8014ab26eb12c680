"""verify's verdict: the checks as a table, then PASS, or FAIL with each distinct hint once."""

from __future__ import annotations

import io

from toolkit.capture.verify import Check, Verdict
from toolkit.render.capture import print_verdict


def verdict(*checks: Check) -> Verdict:
    return Verdict("ovn-a", "c1", "c2", "vm1", "vm2", "dev", 256, checks=list(checks))


def lines_of(v: Verdict) -> list[str]:
    out = io.StringIO()
    print_verdict(v, out)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]


def test_a_pass_is_the_table_and_one_line():
    lines = lines_of(verdict(Check("request leaves vm1", "1 frame", "1 frame", True)))
    assert lines[0] == "verify ovn-a: c1 (vm1) → c2 (vm2), network dev vni 256"
    assert lines[1].split() == ["check", "expected", "observed", "result"]
    assert lines[3].split() == ["request", "leaves", "vm1", "1", "frame", "1", "frame", "ok"]
    assert lines[-1] == "PASS: echo requests and replies crossed the underlay as expected"


def test_a_fail_names_the_first_failed_check_and_each_hint_once():
    hint, fix = "look at vm1's vxlan0 FDB: no entry for c2", "bridge fdb append …"
    lines = lines_of(
        verdict(
            Check("request leaves vm1", "1 frame", "none", False, hint, fix),
            Check("reply leaves vm2", "1 frame", "none", False, hint, fix),
            Check("mtu", "-", "-", None),
        )
    )
    assert [line.split()[-1] for line in lines[3:6]] == ["FAIL", "FAIL", "-"]
    assert lines[6:] == [
        f"FAIL: request leaves vm1: expected 1 frame, observed none; {hint}",
        f"  request leaves vm1: {hint}",
        f"    fix: {fix}",
    ]
