"""Each kind of change appears in `ovlab watch --json` with the right VM, namespace and
object, and `ip monitor` / `bridge monitor` in the same namespace (the oracle) saw it too."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import one_line, ovlab
from tests.watch.conftest import Lab
from toolkit.watch.schema import KINDS

MAC99 = "02:42:0a:00:00:63"


def _is(e: dict[str, Any], kind: str, op: str | None = None, **where: Any) -> bool:
    if e.get("kind") != kind or (op and e.get("op") != op):
        return False
    return all(e.get(k) == v for k, v in where.items())


def _obj(e: dict[str, Any]) -> dict[str, Any]:
    return e.get("after") or e.get("before") or {}


def test_container_run_and_rm(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    n = len(w.lines)
    ovlab("run", "-d", "--name", "c3", "--net", "dev", "--node", f"{lab.name}/vm3")
    ns_new = w.wait(lambda e: _is(e, "ns", "add", vm="vm3", container="c3"), since=n)
    assert ns_new["ns_kind"] == "container"
    w.wait(lambda e: _is(e, "ns", "add", vm="vm3", ns=lab.ns, net="dev"), since=n)
    ep = w.wait(
        lambda e: (
            _is(e, "store", "add", net="dev")
            and e["key"].startswith("endpoint/")
            and e["after"]["name"] == "c3"
        ),
        since=n,
    )
    mac = ep["after"]["mac"]
    # vm1 learns c3's endpoint: an FDB entry to vm3's VTEP and a permanent neighbour.
    fdb = w.wait(
        lambda e: _is(e, "fdb", "add", vm="vm1", ns=lab.ns) and _obj(e).get("mac") == mac, since=n
    )
    assert fdb["after"]["dst"] == ep["after"]["vtep"] and "self" in fdb["after"]["flags"]
    w.wait(
        lambda e: _is(e, "neigh", vm="vm1", ns=lab.ns) and _obj(e).get("dst") == ep["after"]["ip"],
        since=n,
    )
    n = len(w.lines)
    ovlab("rm", "c3", "--lab", lab.name)
    w.wait(lambda e: _is(e, "ns", "del", vm="vm3", container="c3"), since=n)
    w.wait(lambda e: _is(e, "store", "del") and e["key"] == ep["key"], since=n)
    w.wait(
        lambda e: _is(e, "fdb", "del", vm="vm1", ns=lab.ns) and _obj(e).get("mac") == mac, since=n
    )


def test_network_create_and_rm(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    n = len(w.lines)
    ovlab("network", "create", "other", "--lab", lab.name)
    add = w.wait(
        lambda e: _is(e, "store", "add", net="other") and e["key"].startswith("network/"), since=n
    )
    assert add["after"]["name"] == "other" and add["index"] > 0
    ovlab("network", "rm", "other", "--lab", lab.name)
    w.wait(lambda e: _is(e, "store", "del") and e["key"] == add["key"], since=n)


def test_manual_fdb_del(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    fdb = json.loads(lab.in_ns("vm1", "bridge", "-j", "fdb", "show", "dev", "vxlan0").stdout)
    entry = next(f for f in fdb if f.get("dst") and f["mac"] != "00:00:00:00:00:00")
    oracle = lab.oracle("vm1", "bridge", "monitor", "fdb")
    n = len(w.lines)
    lab.in_ns(
        "vm1", "bridge", "fdb", "del", entry["mac"], "dev", "vxlan0", "dst", entry["dst"], "self"
    )
    got = w.wait(
        lambda e: (
            _is(e, "fdb", "del", vm="vm1", ns=lab.ns, ns_kind="overlay", net="dev")
            and _obj(e).get("mac") == entry["mac"]
        ),
        since=n,
    )
    assert got["before"]["dst"] == entry["dst"]
    oracle.wait(lambda line: line.startswith("Deleted") and entry["mac"] in line)


def test_manual_neigh_replace(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    oracle = lab.oracle("vm1", "ip", "monitor", "neigh")
    n = len(w.lines)
    lab.in_ns(
        "vm1",
        "ip",
        "neigh",
        "replace",
        "10.0.0.99",
        "lladdr",
        MAC99,
        "dev",
        "vxlan0",
        "nud",
        "permanent",
    )
    got = w.wait(
        lambda e: _is(e, "neigh", vm="vm1", ns=lab.ns) and _obj(e).get("dst") == "10.0.0.99",
        since=n,
    )
    assert got["after"]["lladdr"] == MAC99 and got["after"]["state"] == ["PERMANENT"]
    oracle.wait(lambda line: line.startswith("10.0.0.99") and MAC99 in line)
    lab.in_ns("vm1", "ip", "neigh", "del", "10.0.0.99", "dev", "vxlan0")
    w.wait(
        lambda e: _is(e, "neigh", "del", vm="vm1") and _obj(e).get("dst") == "10.0.0.99", since=n
    )


def test_link_down_in_container(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    pid = _container_pid(lab, "c1")
    oracle = lab.oracle("vm1", "ip", "monitor", "link", ns=f"/proc/{pid}/ns/net")
    n = len(w.lines)
    try:
        ovlab("exec", "--lab", lab.name, "c1", "ip", "link", "set", "eth0", "down")
        got = w.wait(
            lambda e: (
                _is(e, "link", "change", vm="vm1", container="c1")
                and _obj(e).get("name") == "eth0"
                and "UP" not in e["after"]["flags"]
            ),
            since=n,
        )
        assert "UP" in got["before"]["flags"] and got["net"] == "dev"
        oracle.wait(lambda line: "eth0" in line and "state DOWN" in line)
    finally:
        ovlab("exec", "--lab", lab.name, "c1", "ip", "link", "set", "eth0", "up")
        ovlab(
            "exec",
            "--lab",
            lab.name,
            "c1",
            "ip",
            "route",
            "replace",
            "default",
            "via",
            "10.0.0.1",
            check=False,
        )


def test_l3miss_from_ping_to_unknown_address(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    oracle = lab.oracle("vm1", "ip", "monitor", "neigh")
    n = len(w.lines)
    ovlab("exec", "--lab", lab.name, "c1", "ping", "-c", "1", "-W", "1", "10.0.0.200", check=False)
    got = w.wait(
        lambda e: (
            _is(e, "miss", "miss", vm="vm1", ns=lab.ns) and _obj(e).get("dst") == "10.0.0.200"
        ),
        since=n,
    )
    assert got["after"]["miss"] == "l3miss" and got["after"]["dev"] == "vxlan0"
    oracle.wait(lambda line: line.startswith("miss") and "10.0.0.200" in line)


def test_events_follow_the_schema(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    assert w.lines, "the watch streamed nothing"
    seqs = [e["seq"] for e in w.lines[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert w.lines[0]["type"] == "start"
    for e in w.lines[1:]:
        assert e["v"] == 1 and e["type"] == "event" and e["lab"] == lab.name
        assert e["kind"] in KINDS and e["kind"] != "end"
        if e["kind"] not in ("store", "overrun"):
            assert e.get("vm") or e.get("ns") == "underlay"


def _container_pid(lab: Lab, name: str) -> int:
    from toolkit.overlay.locate import containers

    return next(c.pid for c in containers() if c.lab == lab.name and c.name == name)


def test_endpoint_on_vm2_is_attributed_on_vm1(lab: Lab) -> None:
    w = lab.watch
    assert w is not None
    n = len(w.lines)
    ovlab("run", "-d", "--name", "c6", "--net", "dev", "--node", f"{lab.name}/vm2")
    try:
        ep = w.wait(
            lambda e: (
                _is(e, "store", "add")
                and e["key"].startswith("endpoint/")
                and e["after"]["name"] == "c6"
            ),
            since=n,
        )
        mac = ep["after"]["mac"]
        cause = w.wait(
            lambda e: (
                _is(e, "cause", "reconcile", vm="vm1", net="dev") and mac in e["after"]["added"]
            ),
            since=n,
        )
        assert ep["seq"] in cause["after"]["store_seqs"] and cause["index"] >= ep["index"]
        by_seq = {e["seq"]: e for e in w.lines if e.get("type") == "event"}
        made = [by_seq[s] for s in cause["after"]["kernel_seqs"]]
        assert {e["kind"] for e in made} == {"fdb", "neigh"}
        assert all(e["vm"] == "vm1" and e["ns"] == lab.ns for e in made)
        # The join comes after both (the two streams race each other: vm1's agent may read
        # the store before the watch's own blocking query returns).
        assert max(ep["seq"], *(e["seq"] for e in made)) < cause["seq"]
    finally:
        ovlab("rm", "c6", "--lab", lab.name)


def test_unknown_vm_and_network_are_refused_with_a_suggestion(lab: Lab) -> None:
    p = ovlab("watch", lab.name, "--vm", "vm11", check=False)
    assert p.returncode == 2
    assert one_line(p).startswith("error: no VM named 'vm11' in this lab — did you mean")
    p = ovlab("watch", lab.name, "--net", "deev", check=False)
    assert p.returncode == 2
    assert one_line(p) == "error: no network named 'deev' in this lab — did you mean 'dev'?"
