"""One namespace's watcher on the real kernel: an overrun is detected, resynced, reported."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers import delete_netns, run
from toolkit.watch import nswatch

NS = "ovt-watch-overrun"


@pytest.fixture
def netns() -> Iterator[str]:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root")
    delete_netns(NS)
    run("ip", "netns", "add", NS)
    run("ip", "-n", NS, "link", "add", "vxb", "type", "vxlan", "id", "9", "dstport", "4790",
        "nolearning")  # fmt: skip
    run("ip", "-n", NS, "link", "set", "vxb", "up")
    try:
        yield f"/run/netns/{NS}"
    finally:
        delete_netns(NS)


def test_overrun_is_resynced_and_nothing_is_lost(
    netns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nswatch, "RCVBUF", 4096)  # a socket the burst must overflow
    w = nswatch.NsWatch(netns)
    try:
        macs = [f"02:99:00:{i >> 8:02x}:{i & 255:02x}:01" for i in range(3000)]
        batch = "".join(f"fdb add {m} dev vxb dst 192.168.100.99 self permanent\n" for m in macs)
        subprocess.run(["ip", "netns", "exec", NS, "bridge", "-batch", "-"], input=batch,
                       text=True, check=True, timeout=60)  # fmt: skip
        changes = w.read()
        assert w.overruns >= 1
        assert changes[-1].table == "overrun" and changes[-1].via == "resync"
        seen = {c.after["mac"] for c in changes if c.table == "fdb" and c.after}
        assert set(macs) <= seen
        held = {o["mac"] for o in w.tables["fdb"].values() if o.get("dst")}
        oracle = run("ip", "netns", "exec", NS, "bridge", "fdb", "show", "dev", "vxb")
        assert held == {line.split()[0] for line in oracle.splitlines() if " dst " in line}
    finally:
        w.close()
