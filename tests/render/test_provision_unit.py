"""The provisioning recap table (Ansible's PLAY RECAP)."""

from __future__ import annotations

from tests.helpers import rendered
from toolkit.provision.runner import HostRecap, ProvisionResult
from toolkit.render.provision import recap_table


def test_recap_one_row_per_host():
    result = ProvisionResult(
        "ovn-a",
        "site",
        False,
        12.34,
        [HostRecap("vm1", ok=10, changed=2), HostRecap("vm2", ok=8, failures=1, skipped=3)],
    )
    lines = rendered(recap_table(result))
    assert lines[0] == "site on ovn-a (12.3s)"
    assert [line.split() for line in lines[1:2] + lines[3:]] == [
        ["HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", "SKIPPED"],
        ["vm1", "10", "2", "0", "0", "0"],
        ["vm2", "8", "0", "1", "0", "3"],
    ]
