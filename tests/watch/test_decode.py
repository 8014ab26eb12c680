"""The struct fast path for neighbour/FDB messages equals pyroute2's parse (real kernel)."""

from __future__ import annotations

import os
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.helpers import delete_netns, run
from toolkit.watch.decode import decode, neigh_fast
from toolkit.watch.nswatch import NsWatch

NS = "ovt-watch-decode"
CHANGES = [
    "bridge -n {ns} fdb add 02:42:0a:00:00:05 dev vxb dst 192.168.1.2 self permanent",
    "bridge -n {ns} fdb add 00:00:00:00:00:00 dev vxb dst 192.168.1.3 self permanent",
    "bridge -n {ns} fdb add 02:42:0a:00:00:07 dev vxb dst 192.168.1.4 vni 77 self permanent",
    "bridge -n {ns} fdb add 02:42:0a:00:00:08 dev vxb master static",
    "ip -n {ns} neigh replace 10.9.0.5 lladdr 02:42:0a:00:00:05 dev vxb nud permanent",
    "ip -n {ns} neigh replace 2001:db8::5 lladdr 02:42:0a:00:00:05 dev vxb nud permanent",
    "ip -n {ns} neigh del 10.9.0.5 dev vxb",
    "bridge -n {ns} fdb del 02:42:0a:00:00:05 dev vxb dst 192.168.1.2 self",
]


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    delete_netns(NS)
    run("ip", "netns", "add", NS)
    run("ip", "-n", NS, "link", "add", "br0", "type", "bridge")
    run("ip", "-n", NS, "link", "add", "vxb", "type", "vxlan", "id", "9", "dstport", "4790",
        "nolearning", "l2miss", "l3miss")  # fmt: skip
    run("ip", "-n", NS, "link", "set", "vxb", "master", "br0", "up")
    run("ip", "-n", NS, "link", "set", "br0", "up")
    try:
        yield f"/run/netns/{NS}"
    finally:
        delete_netns(NS)


def test_fast_path_equals_pyroute2(netns: str) -> None:
    w = NsWatch(netns)
    try:
        for cmd in CHANGES:
            p = subprocess.run(
                cmd.format(ns=NS).split(), capture_output=True, text=True, timeout=30
            )
            assert p.returncode == 0, f"{cmd}: {p.stderr}"
        time.sleep(0.2)
        compared = set()
        while True:
            try:
                data = w.mcast.recv(1 << 20)
            except BlockingIOError:
                break
            msgs = list(w.marshal.parse(data))
            off = i = 0
            while off < len(data):
                length, mtype = struct.unpack_from("=IH", data, off)
                if mtype in (28, 29, 30):
                    fast = neigh_fast(data, off, off + length, mtype, w.names)
                    assert fast == decode(msgs[i], w.names)
                    compared.add((fast[0], fast[1]))
                i += 1
                off += (length + 3) & ~3
        assert {("fdb", "new"), ("fdb", "del"), ("neigh", "new"), ("neigh", "del")} <= compared
    finally:
        w.close()
