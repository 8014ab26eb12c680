"""toolkit.host.ifaces: ioctl reads of an interface in a namespace equal iproute2's JSON."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from tests.conftest import run
from toolkit.host import ifaces, ns, paths

pytestmark = pytest.mark.root


def path(name: str) -> str:
    return os.path.join(paths.NAMED_NETNS_DIR, name)


def ip_link(netns: str, ifname: str) -> dict:
    return json.loads(run("ip", "-n", netns, "-j", "addr", "show", "dev", ifname))[0]


def test_ifinfo_matches_ip_addr(netns):
    name = netns()
    run("ip", "-n", name, "link", "add", "br7", "mtu", "1400", "type", "bridge")
    run("ip", "-n", name, "link", "set", "br7", "address", "02:42:0a:00:00:07")
    run("ip", "-n", name, "addr", "add", "10.9.8.7/24", "dev", "br7")
    got = ifaces.ifinfo(path(name), "br7")
    theirs = ip_link(name, "br7")
    assert got is not None
    assert (got.name, got.mtu, got.mac) == (theirs["ifname"], theirs["mtu"], theirs["address"])
    assert got.ipv4 == next(a["local"] for a in theirs["addr_info"] if a["family"] == "inet")


def test_ifinfo_without_address_or_interface(netns):
    name = netns()
    run("ip", "-n", name, "link", "add", "br8", "type", "bridge")
    got = ifaces.ifinfo(path(name), "br8")
    assert got is not None and got.ipv4 is None and got.mtu == ip_link(name, "br8")["mtu"]
    assert ifaces.ifinfo(path(name), "nope0") is None
    assert ifaces.ifinfo("/nonexistent/ovh", "lo") is None


def test_hw_type_and_set_up(netns):
    name = netns()
    run("ip", "-n", name, "link", "add", "br9", "type", "bridge")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with ns.inside(path(name)):
                ifaces.set_up("br9")
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    assert ifaces.hw_type(s, "lo") == 772  # ARPHRD_LOOPBACK
                    assert ifaces.hw_type(s, "br9") == 1  # ARPHRD_ETHER
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert not errors, errors
    assert "UP" in ip_link(name, "br9")["flags"]
