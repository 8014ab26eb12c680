"""The overlay store's logic against an in-memory Consul (tests/consul/fake.py): no root, no lab.

Planning (VNI and subnet), IP allocation, the exact transactions sent, races between two
writers, idempotent repeats and what a lost session takes with it. The real client code
runs: the fake is an HTTP server on 127.0.0.1. tests/consul/test_fake_vs_consul.py runs
a scenario against both the fake and a real Consul and compares the outcomes.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.consul.fake import FakeConsul
from toolkit.consul.client import ConsulError
from toolkit.errors import UsageError
from toolkit.overlay import model
from toolkit.overlay.model import Network, Snapshot
from toolkit.overlay.store import SessionInvalid, Store

R = model.ROOT


@pytest.fixture
def fake() -> FakeConsul:
    return FakeConsul()


@pytest.fixture
def store(fake: FakeConsul) -> Iterator[Store]:
    with fake.serve() as consul:
        yield Store(consul)


def racing(fake: FakeConsul, writers: int = 2) -> None:
    """Hold the first ``writers`` transactions until all have arrived: each writer planned
    from the same snapshot, so exactly one can win and the others must see a conflict."""
    gate = threading.Barrier(writers, timeout=10)
    seen = [0]

    def before(ops: list[dict[str, Any]]) -> None:
        seen[0] += 1
        if seen[0] <= writers:
            gate.wait()

    fake.before_txn = before


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run calls in threads; each result, or the exception it raised."""

    def guard(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(guard, calls))


# -- planning (pure: Store._plan_network) ------------------------------------------------


def net(name: str, subnet: str, vni: int) -> Network:
    return Network(name * 8, name, subnet, subnet.rsplit(".", 1)[0] + ".1", vni)


def snap_of(*nets: Network) -> Snapshot:
    return Snapshot(networks={n.id: n for n in nets})


def test_plan_picks_the_lowest_free_vni_from_256_and_fills_holes():
    assert Store._plan_network(Snapshot(), "a", None, "i").vni == model.VNI_MIN == 256
    holes = snap_of(net("a", "10.0.0.0/24", 256), net("c", "10.0.2.0/24", 258))
    assert Store._plan_network(holes, "b", None, "i").vni == 257


def test_plan_picks_the_first_free_10_0_x_0_24_and_its_first_host_as_gateway():
    first = Store._plan_network(Snapshot(), "a", None, "id-a")
    assert (first.subnet, first.gateway, first.id, first.name) == (
        "10.0.0.0/24",
        "10.0.0.1",
        "id-a",
        "a",
    )
    # A user-given subnet overlapping 10.0.1.0/24 pushes the next automatic one past it.
    taken = snap_of(net("a", "10.0.0.0/24", 256), net("u", "10.0.1.128/25", 257))
    assert Store._plan_network(taken, "b", None, "i").subnet == "10.0.2.0/24"


def test_plan_takes_a_given_subnet_and_its_first_host():
    planned = Store._plan_network(Snapshot(), "a", "192.168.7.0/28", "i")
    assert (planned.subnet, planned.gateway, planned.prefixlen) == (
        "192.168.7.0/28",
        "192.168.7.1",
        28,
    )


@pytest.mark.parametrize(
    ("subnet", "message"),
    [
        ("10.0.0.128/25", "subnet 10.0.0.128/25 overlaps network subnet 10.0.0.0/24"),
        ("10.0.9.0/30", "subnet 10.0.9.0/30 is too small"),
        ("10.0.9.1/24", "subnet '10.0.9.1/24' is invalid: 10.0.9.1/24 has host bits set"),
        ("nonsense", "subnet 'nonsense' is invalid: "),
    ],
)
def test_plan_refuses_a_bad_subnet_in_one_line(subnet: str, message: str):
    with pytest.raises(UsageError) as err:
        Store._plan_network(snap_of(net("a", "10.0.0.0/24", 256)), "b", subnet, "i")
    assert err.value.message.startswith(message)
    assert "\n" not in err.value.message


# -- networks through the store ---------------------------------------------------------


def test_create_network_sends_one_guarded_txn(store: Store, fake: FakeConsul):
    n = store.create_network("dev", net_id="a" * 64)
    assert (n.name, n.vni, n.subnet) == ("dev", 256, "10.0.0.0/24")
    assert [(op["Verb"], op["Key"]) for op in fake.txns[-1]] == [
        ("check-not-exists", f"{R}names/network/dev"),
        ("check-not-exists", f"{R}idm/vxlan-id/256"),
        ("set", f"{R}names/network/dev"),
        ("set", f"{R}idm/vxlan-id/256"),
        ("set", f"{R}network/{'a' * 64}"),
    ]
    assert fake.stored() == [
        f"{R}idm/vxlan-id/256",
        f"{R}names/network/dev",
        f"{R}network/{'a' * 64}",
    ]
    assert store.snapshot().networks == {n.id: n}  # what was stored reads back equal


def test_vnis_count_up_and_a_removed_networks_vni_is_reused_without_collision(store: Store):
    a, b, c = (store.create_network(x) for x in ("a", "b", "c"))
    assert [a.vni, b.vni, c.vni] == [256, 257, 258]
    assert [a.subnet, b.subnet, c.subnet] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    store.remove_network(b, store.snapshot())
    d = store.create_network("d")
    assert (d.vni, d.subnet) == (257, "10.0.1.0/24")
    vnis = [n.vni for n in store.snapshot().networks.values()]
    assert sorted(vnis) == [256, 257, 258]


def test_a_taken_network_name_is_refused(store: Store):
    store.create_network("dev")
    with pytest.raises(UsageError, match="^network 'dev' already exists$"):
        store.create_network("dev")


def test_only_the_overlay_driver(store: Store):
    with pytest.raises(UsageError) as err:
        store.create_network("dev", driver="bridge")
    assert (err.value.message, err.value.hint) == (
        "driver 'bridge' is not supported",
        "use -d overlay",
    )


def test_two_creates_racing_for_one_vni_both_succeed_with_different_vnis(
    store: Store, fake: FakeConsul
):
    racing(fake)
    a, b = concurrently(lambda: store.create_network("a"), lambda: store.create_network("b"))
    assert isinstance(a, Network) and isinstance(b, Network)
    assert sorted([a.vni, b.vni]) == [256, 257]  # the loser looked again and took the next
    assert a.subnet != b.subnet
    # The loser's first txn failed on the VNI check, so nothing of it was written.
    assert len(fake.txns) == 3
    assert sorted(k for k in fake.stored() if "/idm/" in k) == [
        f"{R}idm/vxlan-id/256",
        f"{R}idm/vxlan-id/257",
    ]


def test_two_creates_racing_for_one_name_one_wins(store: Store, fake: FakeConsul):
    racing(fake)
    got = concurrently(lambda: store.create_network("same"), lambda: store.create_network("same"))
    wins = [g for g in got if isinstance(g, Network)]
    losses = [g for g in got if isinstance(g, UsageError)]
    assert len(wins) == 1 and len(losses) == 1, got
    assert losses[0].message == "network 'same' already exists"
    assert list(store.snapshot().networks) == [wins[0].id]


def test_a_network_with_endpoints_is_not_removed(store: Store):
    n = store.create_network("dev")
    sid = store.session_create("vm1", 10)
    store.create_endpoint(sid, n, "c2", "vm1", "192.0.2.1")
    store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1")
    with pytest.raises(UsageError) as err:
        store.remove_network(n, store.snapshot())
    assert err.value.message == "network 'dev' has active endpoints (c1, c2)"


def test_remove_network_deletes_its_keys_and_its_ipam_tree(store: Store, fake: FakeConsul):
    n = store.create_network("dev", net_id="a" * 64)
    store.remove_network(n, store.snapshot())
    assert [(op["Verb"], op["Key"]) for op in fake.txns[-1]] == [
        ("delete", f"{R}network/{'a' * 64}"),
        ("delete", f"{R}names/network/dev"),
        ("delete", f"{R}idm/vxlan-id/256"),
        ("delete-tree", f"{R}ipam/{'a' * 64}/"),
    ]
    assert fake.stored() == []


# -- endpoints: IP allocation --------------------------------------------------------------


def test_create_endpoint_locks_name_ip_and_record_with_the_session(store: Store, fake: FakeConsul):
    n = store.create_network("dev", net_id="a" * 64)
    sid = store.session_create("vm1", 10)
    ep = store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1", service="web", eid="e" * 64)
    assert (ep.ip, ep.mac, ep.host, ep.vtep) == (
        "10.0.0.2",
        "02:42:0a:00:00:02",
        "vm1",
        "192.0.2.1",
    )
    ops = fake.txns[-1]
    assert [(op["Verb"], op["Key"]) for op in ops] == [
        ("check-not-exists", f"{R}names/container/c1"),
        ("check-not-exists", f"{R}ipam/{'a' * 64}/10.0.0.2"),
        ("lock", f"{R}names/container/c1"),
        ("lock", f"{R}ipam/{'a' * 64}/10.0.0.2"),
        ("lock", f"{R}endpoint/{'a' * 64}/{'e' * 64}"),
    ]
    assert {op.get("Session") for op in ops[2:]} == {sid}
    values = [base64.b64decode(op["Value"]).decode() for op in ops[2:]]
    assert values[:2] == [f"{'a' * 64}/{'e' * 64}", "e" * 64]
    assert json.loads(values[2]) == ep.to_dict()
    assert store.snapshot().endpoints == {ep.id: ep}


def test_the_gateway_is_skipped_and_addresses_run_up(store: Store):
    n = store.create_network("dev", subnet="10.9.0.0/29")
    sid = store.session_create("vm1", 10)
    ips = [store.create_endpoint(sid, n, f"c{i}", "vm1", "192.0.2.1").ip for i in range(5)]
    assert n.gateway == "10.9.0.1"
    assert ips == ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]


def test_an_exhausted_network_is_one_line(store: Store):
    n = store.create_network("tiny", subnet="10.9.0.0/29")
    sid = store.session_create("vm1", 10)
    for i in range(5):  # a /29 has 6 hosts; the gateway takes one
        store.create_endpoint(sid, n, f"c{i}", "vm1", "192.0.2.1")
    with pytest.raises(UsageError) as err:
        store.create_endpoint(sid, n, "c-last", "vm1", "192.0.2.1")
    assert err.value.message == "network 'tiny' (10.9.0.0/29) has no free address"
    assert err.value.exit_code == 2


def test_a_freed_address_is_reused_and_a_preferred_free_one_is_honoured(store: Store):
    n = store.create_network("dev")
    sid = store.session_create("vm1", 10)
    a, _b = (store.create_endpoint(sid, n, x, "vm1", "192.0.2.1") for x in ("a", "b"))
    store.remove_endpoint(a)
    assert store.create_endpoint(sid, n, "c", "vm1", "192.0.2.1").ip == a.ip
    assert store.create_endpoint(sid, n, "d", "vm1", "192.0.2.1", prefer_ip="10.0.0.77").ip == (
        "10.0.0.77"
    )
    # A preferred address in use is not taken twice: the lowest free one instead.
    assert store.create_endpoint(sid, n, "e", "vm1", "192.0.2.1", prefer_ip=a.ip).ip == "10.0.0.4"


def test_an_ipam_key_without_an_endpoint_still_holds_its_address(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    fake.txn([{"Verb": "set", "Key": model.k_ip(n.id, "10.0.0.2"), "Value": None}])
    sid = store.session_create("vm1", 10)
    assert store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1").ip == "10.0.0.3"


def test_two_endpoints_racing_for_one_address_get_two(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    s1, s2 = store.session_create("vm1", 10), store.session_create("vm2", 10)
    racing(fake)
    a, b = concurrently(
        lambda: store.create_endpoint(s1, n, "a", "vm1", "192.0.2.1"),
        lambda: store.create_endpoint(s2, n, "b", "vm2", "192.0.2.2"),
    )
    # The winner has the lowest address; the loser retries on one of the 8 lowest free ones
    # (at random, so that many racing clients do not all retry on the same one).
    low, other = sorted([a.ip, b.ip], key=lambda ip: int(ip.rsplit(".", 1)[1]))
    assert low == "10.0.0.2"
    assert other in {f"10.0.0.{i}" for i in range(3, 11)}
    ipam = [k for k in fake.stored() if "/ipam/" in k]
    assert len(ipam) == 2


def test_two_endpoints_racing_for_one_name_one_wins(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    other = store.create_network("other")
    s1, s2 = store.session_create("vm1", 10), store.session_create("vm2", 10)
    racing(fake)
    got = concurrently(
        lambda: store.create_endpoint(s1, n, "web", "vm1", "192.0.2.1"),
        lambda: store.create_endpoint(s2, other, "web", "vm2", "192.0.2.2"),
    )
    losses = [g for g in got if isinstance(g, UsageError)]
    assert len(losses) == 1, got
    assert losses[0].message == "container name 'web' is already in use in the lab"
    assert [e.name for e in store.snapshot().endpoints.values()] == ["web"]
    assert len([k for k in fake.stored() if "/ipam/" in k]) == 1  # the loser left nothing


def test_an_endpoint_in_a_removed_network_is_refused(store: Store):
    n = store.create_network("dev")
    store.remove_network(n, store.snapshot())
    with pytest.raises(UsageError, match="^network 'dev' was removed$"):
        store.create_endpoint(store.session_create("vm1", 10), n, "c1", "vm1", "192.0.2.1")


# -- idempotent repeats after an unclear failure ------------------------------------------


def test_a_network_create_whose_answer_was_lost_is_found_on_repeat(store: Store, fake: FakeConsul):
    fake.fail_next_txn(500, "No cluster leader", commit=True)
    with pytest.raises(ConsulError) as err:
        store.create_network("dev", net_id="a" * 64)
    assert err.value.transient and err.value.status == 500
    again = store.create_network("dev", net_id="a" * 64)  # the caller repeats with one id
    assert again.id == "a" * 64 and len(store.snapshot().networks) == 1
    assert len([k for k in fake.stored() if "/idm/" in k]) == 1


def test_an_endpoint_create_whose_answer_was_lost_is_found_on_repeat(
    store: Store, fake: FakeConsul
):
    n = store.create_network("dev")
    sid = store.session_create("vm1", 10)
    fake.fail_next_txn(500, "rpc error: No cluster leader", commit=True)
    with pytest.raises(ConsulError):
        store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1", eid="e" * 64)
    again = store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1", eid="e" * 64)
    assert again.id == "e" * 64 and again.ip == "10.0.0.2"
    assert len([k for k in fake.stored() if "/ipam/" in k]) == 1  # not allocated twice
    with pytest.raises(UsageError, match="already in use"):
        store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1", eid="f" * 64)


# -- sessions --------------------------------------------------------------------------------


def test_a_lost_session_takes_its_endpoints_names_addresses_and_host_key(
    store: Store, fake: FakeConsul
):
    n = store.create_network("dev")
    s1, s2 = store.session_create("vm1", 10), store.session_create("vm2", 10)
    store.register_host(s1, "vm1", "192.0.2.1", 4789)
    store.register_host(s2, "vm2", "192.0.2.2", 4789)
    gone = store.create_endpoint(s1, n, "c1", "vm1", "192.0.2.1")
    kept = store.create_endpoint(s2, n, "c2", "vm2", "192.0.2.2")
    fake.invalidate(s1)  # vm1 stopped renewing: Consul ends the session (behaviour delete)
    snap = store.snapshot()
    assert list(snap.endpoints) == [kept.id]
    assert list(snap.hosts) == ["vm2"]
    assert n.id in snap.networks  # the network is not any session's
    assert model.k_ip(n.id, gone.ip) not in fake.stored()
    assert model.k_container_name("c1") not in fake.stored()
    assert store.session_renew(s1) is False and store.session_renew(s2) is True
    # The name and the address are free again for whoever asks next.
    again = store.create_endpoint(s2, n, "c1", "vm2", "192.0.2.2")
    assert again.ip == gone.ip


def test_a_lock_with_a_gone_session_is_session_invalid(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    sid = store.session_create("vm1", 10)
    store.session_destroy(sid)
    with pytest.raises(SessionInvalid) as err:
        store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1")
    assert err.value.transient and err.value.status == 409
    assert "invalid session" in err.value.message
    with pytest.raises(SessionInvalid):
        store.register_host(sid, "vm1", "192.0.2.1", 4789)


def test_the_session_asks_for_delete_behaviour_and_the_ttl(store: Store, fake: FakeConsul):
    sid = store.session_create("vm1", 12)
    sess = fake.sessions[sid]
    assert (sess.name, sess.ttl, sess.behavior) == ("ovlab-agent-vm1", "12s", "delete")


# -- withdrawing ---------------------------------------------------------------------------


def test_withdrawing_a_stale_record_leaves_the_republished_ones_keys(
    store: Store, fake: FakeConsul
):
    n = store.create_network("dev")
    old_sid = store.session_create("vm1", 10)
    old = store.create_endpoint(old_sid, n, "c2", "vm1", "192.0.2.1")
    store.session_destroy(old_sid)
    new_sid = store.session_create("vm1", 10)
    new = store.create_endpoint(new_sid, n, "c2", "vm1", "192.0.2.1", prefer_ip=old.ip)
    assert new.ip == old.ip and new.id != old.id
    store.remove_endpoint(old)  # from a stale snapshot: only its own record key is named
    assert [(op["Verb"], op["Key"]) for op in fake.txns[-1]] == [
        ("delete", model.k_endpoint(n.id, old.id))
    ]
    assert list(store.snapshot().endpoints) == [new.id]
    store.remove_endpoint(new)
    assert [op["Verb"] for op in fake.txns[-1]] == ["delete", "delete-cas", "delete-cas"]
    store.remove_endpoint(new)  # again: a no-op
    assert [k for k in fake.stored() if "/ipam/" in k or "/names/container/" in k] == []


def test_a_withdraw_that_loses_a_race_reads_again(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    sid = store.session_create("vm1", 10)
    ep = store.create_endpoint(sid, n, "c1", "vm1", "192.0.2.1")
    bumped = [False]

    def touch_once(ops: list[dict[str, Any]]) -> None:
        # Between the store's read and its txn, the IP key is rewritten (same value, new
        # index): the delete-cas must fail and the store must read again.
        if not bumped[0] and any(op["Verb"] == "delete-cas" for op in ops):
            bumped[0] = True
            fake.txn(
                [
                    {
                        "Verb": "lock",
                        "Key": model.k_ip(n.id, ep.ip),
                        "Value": base64.b64encode(ep.id.encode()).decode(),
                        "Session": sid,
                    }
                ]
            )

    fake.before_txn = touch_once
    store.remove_endpoint(ep)
    assert bumped[0]
    assert [op["Verb"] for op in fake.txns[-2]] == ["delete", "delete-cas", "delete-cas"]
    assert [op["Verb"] for op in fake.txns[-1]] == ["delete", "delete-cas", "delete-cas"]
    assert fake.stored() == sorted(k for k in fake.stored() if "/ipam/" not in k and "/c1" not in k)
    assert store.snapshot().endpoints == {}


# -- reading -------------------------------------------------------------------------------


def test_a_blocking_snapshot_returns_when_the_store_changes(store: Store):
    first = store.snapshot()
    got: list[Snapshot] = []
    t = threading.Thread(target=lambda: got.append(store.snapshot(index=first.index, wait="5s")))
    t0 = time.monotonic()
    t.start()
    time.sleep(0.2)
    assert not got  # still blocked: nothing changed
    n = store.create_network("dev")
    t.join(5)
    assert time.monotonic() - t0 < 4
    assert got and got[0].index > first.index and list(got[0].networks) == [n.id]


def test_a_blocking_snapshot_with_no_change_returns_after_the_wait(store: Store):
    first = store.snapshot()
    t0 = time.monotonic()
    again = store.snapshot(index=first.index, wait="300ms")
    assert 0.25 <= time.monotonic() - t0 < 3
    assert again.index == first.index and again.networks == {}


def test_an_empty_store_is_an_empty_snapshot(store: Store):
    snap = store.snapshot()
    assert (snap.networks, snap.endpoints, snap.hosts) == ({}, {}, {})
    assert snap.index >= 1


def test_a_corrupt_record_is_skipped_not_fatal(store: Store, fake: FakeConsul):
    n = store.create_network("dev")
    bad = base64.b64encode(b"{not json").decode()
    fake.txn([{"Verb": "set", "Key": model.k_network("junk"), "Value": bad}])
    assert list(store.snapshot().networks) == [n.id]


def test_a_consul_error_is_one_line(store: Store, fake: FakeConsul):
    fake.fail_next_txn(403, "Permission denied")
    with pytest.raises(ConsulError) as err:
        store.create_network("dev")
    assert err.value.message == "consul on fake consul: PUT /v1/txn -> 403 Permission denied"
    assert not err.value.transient
