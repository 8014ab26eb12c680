"""The doctor's report as text: a tally, then one block per finding with its fix on one line."""

from __future__ import annotations

import io

from toolkit.doctor.findings import Finding
from toolkit.doctor.run import Report
from toolkit.render.doctor import print_report, text

FIX = "ovlab exec ovn-a/vm1 -- nsenter --net=/run/docker/netns/1-4ecc298dd1 bridge fdb append"


def test_a_clean_lab_is_one_line():
    report = Report("ovn-a", (), {"vms": 3, "containers": 1, "networks": 2}, 0.5)
    assert (
        text(report) == "lab ovn-a: no findings (3 VMs, 1 container, 2 networks checked in 0.50s)\n"
    )


def test_a_block_per_finding_in_report_order_with_expected_found_and_fix():
    findings = (
        Finding(
            "error", "fdb-missing", "no FDB entry for c2 on vm2", "ovn-a", "vm1",
            "1-4ecc298dd1", "vxlan0", "02:42:0a:00:00:03 dst 192.168.100.24", "no entry", FIX,
        ),
        Finding("warning", "mtu-low", "eth1 MTU is low", "ovn-a", "vm2"),
    )  # fmt: skip
    out = text(Report("ovn-a", findings, {"vms": 1}, 1.0))
    assert out.splitlines() == [
        "lab ovn-a: 1 error, 1 warning (1 VM, 0 containers, 0 networks checked in 1.00s)",
        "",
        "ERROR    ovn-a/vm1 · 1-4ecc298dd1 · vxlan0  [fdb-missing]",
        "         no FDB entry for c2 on vm2",
        "         expected  02:42:0a:00:00:03 dst 192.168.100.24",
        "         found     no entry",
        f"         fix       {FIX}",
        "",
        "WARNING  ovn-a/vm2  [mtu-low]",
        "         eth1 MTU is low",
    ]
    assert out.endswith("\n")


def test_no_colour_on_a_pipe():
    out = io.StringIO()
    print_report(Report("ovn-a", (Finding("critical", "x", "y", "ovn-a"),)), out)
    assert "\x1b[" not in out.getvalue() and out.getvalue().startswith("lab ovn-a: 1 critical")
