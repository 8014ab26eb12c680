"""`ovlab capture` on real kernel VXLAN between two throwaway namespaces (no lab needed):
the file opens in tshark with the count we reported and decodes field by field alike,
Ctrl-C ends it cleanly; bad targets, interfaces and privileges give one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.capture.oracle import compare, need_tshark, tshark_count
from tests.helpers import ovlab, run, start_capture

pytestmark = pytest.mark.root


def sh(ns: str, *argv: str) -> str:
    return run("ip", "netns", "exec", ns, *argv)


@pytest.fixture(scope="module")
def pair(make_module_netns: Callable[[], str]) -> tuple[str, str]:
    """Two namespaces joined by a veth "underlay", with VXLAN on 4789 (VNI 42, IPv4 and IPv6)
    and on 8472 (VNI 43). (No inner VLAN: this kernel has no 8021q; the generated edge cases
    cover tags.)"""
    a, b = make_module_netns(), make_module_netns()
    run("ip", "-n", a, "link", "add", "ul", "type", "veth", "peer", "name", "ul", "netns", b)
    for ns, me, peer in ((a, 1, 2), (b, 2, 1)):
        ip = ("ip", "-n", ns)
        run(*ip, "addr", "add", f"10.200.0.{me}/24", "dev", "ul")
        run(*ip, "link", "set", "ul", "up")
        for dev, vni, port, net in (("vx0", 42, 4789, 42), ("vx8", 43, 8472, 43)):
            run(
                *ip,
                "link",
                "add",
                dev,
                "type",
                "vxlan",
                "id",
                str(vni),
                "dstport",
                str(port),
                "local",
                f"10.200.0.{me}",
                "remote",
                f"10.200.0.{peer}",
                "dev",
                "ul",
            )
            run(*ip, "addr", "add", f"10.{net}.0.{me}/24", "dev", dev)
            run(*ip, "link", "set", dev, "up")
        run(*ip, "-6", "addr", "add", f"fd42::{me}/64", "dev", "vx0", "nodad")
    return a, b


def traffic(ns: str) -> None:
    """ARP, ICMP echo, ICMPv6 (ND + echo), TCP and UDP over the tunnels, from ``ns``."""
    for dst in ("10.42.0.2", "10.43.0.2"):
        sh(ns, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", dst)
    sh(ns, "ping", "-n", "-6", "-c", "1", "-W", "2", "fd42::2")
    code = (
        "import socket\n"
        "s = socket.socket(); s.settimeout(2)\n"
        "try: s.connect(('10.42.0.2', 9))\n"
        "except OSError: pass\n"
        "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'q', ('10.42.0.2', 53))\n"
    )
    sh(ns, sys.executable, "-c", code)


def stop_capture(proc: subprocess.Popen[str]) -> tuple[str, str]:
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out, err


def test_capture_on_kernel_vxlan_matches_tshark(pair, tmp_path):
    need_tshark()
    a, _b = pair
    pcap = tmp_path / "kernel.pcap"
    proc = start_capture(a, "-i", "ul", "-w", str(pcap), "--vxlan-port", "8472")
    try:
        traffic(a)
    finally:
        out, err = stop_capture(proc)
    reported = int(err.strip().splitlines()[-1].split()[0])
    assert reported == len(out.splitlines()) > 0
    assert tshark_count(pcap) == reported
    ours = compare(pcap, ports=(8472,))
    vx = [o for o in ours if o["kind"] == "vxlan"]
    kinds = {(o["vni"], o["vlan"], o["proto"]) for o in vx}
    assert {(42, None, "ICMP"), (43, None, "ICMP"), (42, None, "ARP")} <= kinds
    assert {(42, None, "ICMPv6"), (42, None, "TCP"), (42, None, "UDP")} <= kinds
    assert all(o["outer_dport"] in (4789, 8472) for o in vx)
    assert not Path(f"{pcap}.ovlab.json").exists()  # not a lab: no names to keep
    live = [line for line in out.splitlines() if "vni 42" in line and "echo request" in line]
    assert live and "10.200.0.1 → 10.200.0.2" in live[0]


def test_kernel_fragments_vxlan_like_tshark(pair, tmp_path):
    """The kernel fragments a VXLAN datagram larger than the route MTU to the remote VTEP
    (DF is clear by default): live and from the file, the first fragment is a fragment and
    the datagram is decoded where it completes, where tshark reassembles it."""
    need_tshark()
    a, _b = pair
    run("ip", "-n", a, "route", "replace", "10.200.0.2/32", "dev", "ul", "mtu", "1000")
    pcap = tmp_path / "frag.pcap"
    try:
        proc = start_capture(a, "-i", "ul", "-w", str(pcap))
        try:
            sh(a, "ping", "-n", "-c", "2", "-i", "0.2", "-s", "1300", "-W", "2", "10.42.0.2")
        finally:
            out, _err = stop_capture(proc)
    finally:
        run("ip", "-n", a, "route", "del", "10.200.0.2/32", "dev", "ul")
    ours = compare(pcap)
    requests = [o for o in ours if o["vni"] == 42 and "echo request" in o["summary"]]
    assert len(requests) == 2 and all(r["kind"] == "vxlan" for r in requests)
    # The first request leaves as outer fragments; once the device learned the path MTU
    # (Linux vxlan's PMTU handling) it may fragment the inner packet instead.
    first = requests[0]
    assert first["note"].startswith("reassembled from 2 IPv4 fragments (packets 1, 2)")
    assert ours[0]["kind"] == "fragment" and ours[0]["outer_dport"] == 4789
    assert all(r["note"] for r in requests)  # each came in pieces, one way or the other
    replies = [o for o in ours if o["vni"] == 42 and "echo reply" in o["summary"]]
    assert len(replies) == 2 and all(o["note"] is None for o in replies)  # b has no small MTU
    assert "IPv4 fragment of UDP" in out and "[reassembled from 2 IPv4 fragments" in out


def test_capture_json_count_and_vxlan_only(pair, tmp_path):
    a, _b = pair
    pcap = tmp_path / "two.pcap"
    proc = start_capture(a, "-i", "ul", "--vxlan-only", "--json", "-c", "2", "-w", str(pcap))
    sh(a, "ping", "-n", "-c", "3", "-i", "0.2", "10.42.0.2")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and all(r["kind"] == "vxlan" and r["vni"] == 42 for r in rows)
    need_tshark()
    assert tshark_count(pcap) == 2


def test_capture_duration_ends_by_itself(pair):
    a, _b = pair
    proc = ovlab("capture", a, "-i", "ul", "--duration", "0.5", "-q", timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip().endswith("packets")


def test_path_and_pid_targets(pair):
    a, _b = pair
    assert (
        ovlab("capture", f"/run/netns/{a}", "-i", "ul", "--duration", "0.3", "-q").returncode == 0
    )
    sleeper = subprocess.Popen(["ip", "netns", "exec", a, "sleep", "60"])
    try:
        proc = ovlab("capture", f"pid:{sleeper.pid}", "-i", "ul", "--duration", "0.3", "-q")
        assert proc.returncode == 0 and proc.stderr.startswith(
            f"capturing on ul in pid:{sleeper.pid}"
        )
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unknown_interface(pair):
    a, _b = pair
    proc = ovlab("capture", a, "-i", "eth9", "-c", "1", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"no interface 'eth9' in {a}" in proc.stderr
    assert "ul" in proc.stderr  # the hint lists what there is


def test_unknown_target():
    proc = ovlab("capture", "ovt-no-such-ns", "-i", "eth1", "-c", "1", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no namespace or lab node named 'ovt-no-such-ns'" in proc.stderr


def test_no_permission(pair, tmp_path):
    a, _b = pair
    proc = ovlab(
        "capture", a, "-i", "ul", "-c", "1", env={"OVLAB_FAKE_UNPRIVILEGED": "1"}, check=False
    )
    assert proc.returncode == 3 and "needs root" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_unwritable_output(pair, tmp_path):
    a, _b = pair
    proc = ovlab(
        "capture", a, "-i", "ul", "-c", "1", "-w", str(tmp_path / "no/dir/x.pcap"), check=False
    )
    assert proc.returncode == 2 and "cannot write" in proc.stderr
