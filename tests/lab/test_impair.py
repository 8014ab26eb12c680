"""Link impairment: measurable on real pings, changeable on a running lab."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ovlab, ovlab_json
from toolkit.lab.underlay import netem_supported

pytestmark = pytest.mark.root


def avg_rtt_ms(lab: str, src: str, dst_ip: str, size: int = 1400, count: int = 8) -> float:
    # -l: send the pings back to back, so a rate limit queues them (a lone ping
    # fits in the token bucket and passes at once).
    out = ovlab(
        "exec",
        f"{lab}/{src}",
        "--",
        "ping",
        "-q",
        "-c",
        str(count),
        "-l",
        str(count),
        "-s",
        str(size),
        "-W",
        "2",
        dst_ip,
    ).stdout
    m = re.search(r"= [\d.]+/([\d.]+)/", out)
    assert m, out
    return float(m.group(1))


def test_rate_limit_measurably_delays_pings(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    base = avg_rtt_ms(lab, "vm2", "192.168.100.11")
    ovlab("lab", "impair", lab, "vm1", "--rate", "1mbit")
    # 1442-byte frames at 1 Mbit/s take ~11.5 ms each to serialise: a burst of 8 queues.
    slow = avg_rtt_ms(lab, "vm2", "192.168.100.11")
    assert slow > base + 15, (base, slow)
    rows = {r["node"]: r for r in ovlab_json("lab", "status", lab)}
    assert rows["vm1"]["impair"] == {"rate": "1mbit"}
    ovlab("lab", "impair", lab, "vm1", "--clear")
    assert avg_rtt_ms(lab, "vm2", "192.168.100.11") < base + 5


def test_impairment_from_topology_applies_at_up(make_lab):
    lab, topo = make_lab(2, impair="rate: 1mbit")
    ovlab("lab", "up", str(topo))
    assert avg_rtt_ms(lab, "vm2", "192.168.100.11") > 15


@pytest.mark.skipif(not netem_supported(), reason="kernel has no netem qdisc")
def test_delay_measurably_delays_pings(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    ovlab("lab", "impair", lab, "vm1", "--delay", "20ms")
    assert avg_rtt_ms(lab, "vm2", "192.168.100.11", size=56) > 35


@pytest.mark.skipif(netem_supported(), reason="kernel has netem")
def test_delay_without_netem_is_one_clear_line(make_lab):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    proc = ovlab("lab", "impair", lab, "vm1", "--delay", "20ms", check=False)
    assert proc.returncode == 3
    assert "netem" in proc.stderr and proc.stderr.count("\n") == 1


def test_impair_unknown_node_suggests(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    proc = ovlab("lab", "impair", lab, "vm3", "--rate", "1mbit", check=False)
    assert proc.returncode == 2
    assert "did you mean" in proc.stderr and proc.stderr.count("\n") == 1
