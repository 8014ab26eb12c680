"""The data plane's diff (``dataplane.plan_remotes``): what vxlan0 must change. No root.

The tables are given in ``remote_state``'s shape (neighbours ip -> (mac, permanent); FDB
mac -> one item per destination, the VTEP when programmed as we program it, else None).
A model of the kernel's tables applies each plan, so the property tests check the
outcome (the tables equal what is wanted, and a second plan is empty), not the steps.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.overlay.dataplane import RemotePlan, plan_remotes
from toolkit.overlay.model import Remote, container_mac

VTEP1, VTEP2, VTEP3 = "192.168.100.23", "192.168.100.24", "192.168.100.25"

Neigh = dict[str, tuple[str, bool]]
Fdb = dict[str, list[str | None]]


def remote(ip: str, vtep: str) -> Remote:
    return Remote(ip, container_mac(ip), vtep)


def programmed(want: list[Remote]) -> tuple[Neigh, Fdb]:
    """The tables exactly as program_remotes leaves them for ``want``."""
    return {r.ip: (r.mac, True) for r in want}, {r.mac: [r.vtep] for r in want}


def apply(plan: RemotePlan, neigh: Neigh, fdb: Fdb) -> tuple[Neigh, Fdb]:
    """The kernel's tables after the plan's requests, as rtnetlink would leave them."""
    neigh, fdb = dict(neigh), {m: list(d) for m, d in fdb.items()}
    for mac in plan.fdb_del:  # del without NDA_DST: the whole entry goes
        fdb.pop(mac, None)
    for ip, mac in plan.neigh_del:
        if neigh.get(ip, ("", False))[0] == mac:
            del neigh[ip]
    for mac, dst in plan.fdb_add:  # append: one more destination
        fdb.setdefault(mac, []).append(dst)
    for ip, mac in plan.neigh_add:  # replace: permanent, this MAC
        neigh[ip] = (mac, True)
    return neigh, fdb


A, B, C = remote("10.0.0.2", VTEP2), remote("10.0.0.3", VTEP3), remote("10.0.0.4", VTEP2)


def test_empty_tables_get_every_remote():
    plan = plan_remotes({}, {}, [A, B])
    assert plan == RemotePlan(
        fdb_add=((A.mac, VTEP2), (B.mac, VTEP3)),
        neigh_add=((A.ip, A.mac), (B.ip, B.mac)),
    )
    assert plan.added == sorted([A.mac, B.mac]) and plan.removed == []


def test_tables_already_right_change_nothing():
    assert plan_remotes(*programmed([A, B]), [A, B]) == RemotePlan()


def test_a_remote_gone_from_the_store_is_removed_from_both_tables():
    plan = plan_remotes(*programmed([A, B]), [A])
    assert plan == RemotePlan(fdb_del=(B.mac,), neigh_del=((B.ip, B.mac),))
    assert plan.removed == [B.mac] and plan.added == []


def test_a_moved_endpoint_gets_its_fdb_entry_rewritten_whole():
    neigh, fdb = programmed([A])
    moved = Remote(A.ip, A.mac, VTEP1)
    plan = plan_remotes(neigh, fdb, [moved])
    assert plan == RemotePlan(fdb_del=(A.mac,), fdb_add=((A.mac, VTEP1),))


def test_an_fdb_entry_not_as_we_program_it_is_rewritten():
    # None: a destination with its own port or VNI, or not permanent (remote_state).
    plan = plan_remotes(programmed([A])[0], {A.mac: [None]}, [A])
    assert plan == RemotePlan(fdb_del=(A.mac,), fdb_add=((A.mac, VTEP2),))
    # An extra destination besides the right one: also rewritten whole.
    plan = plan_remotes(programmed([A])[0], {A.mac: [VTEP2, VTEP3]}, [A])
    assert plan == RemotePlan(fdb_del=(A.mac,), fdb_add=((A.mac, VTEP2),))


def test_an_unwanted_entry_not_as_we_program_it_is_removed_too():
    # Its one destination reads None (own port or VNI, not permanent): that is not "no
    # destination wanted". Found by the property test below; the old inline diff kept it.
    assert plan_remotes({}, {A.mac: [None]}, []) == RemotePlan(fdb_del=(A.mac,))


def test_a_neighbour_with_another_mac_is_replaced():
    neigh = {A.ip: ("02:42:0a:00:00:99", True)}
    plan = plan_remotes(neigh, {A.mac: [VTEP2]}, [A])
    assert plan == RemotePlan(neigh_del=((A.ip, "02:42:0a:00:00:99"),), neigh_add=((A.ip, A.mac),))
    assert plan.removed == ["02:42:0a:00:00:99"] and plan.added == [A.mac]


def test_transient_neighbours_are_left_to_the_kernel_unless_wanted():
    # l3miss makes the kernel add neighbours of its own; an unwanted transient one stays,
    # a wanted one is made permanent.
    neigh = {"10.0.0.77": ("02:42:0a:00:00:4d", False), A.ip: (A.mac, False)}
    plan = plan_remotes(neigh, {A.mac: [VTEP2]}, [A])
    assert plan == RemotePlan(neigh_add=((A.ip, A.mac),))


ips = st.sampled_from([f"10.0.0.{i}" for i in range(2, 8)])
vteps = st.sampled_from([VTEP1, VTEP2, VTEP3])
remotes = st.dictionaries(ips, vteps, max_size=5).map(
    lambda d: [remote(ip, vtep) for ip, vtep in sorted(d.items())]
)
neighs = st.dictionaries(
    ips,
    st.tuples(st.sampled_from([container_mac(f"10.0.0.{i}") for i in range(2, 9)]), st.booleans()),
)
fdbs = st.dictionaries(
    st.sampled_from([container_mac(f"10.0.0.{i}") for i in range(2, 9)]),
    st.lists(st.one_of(st.none(), vteps), min_size=1, max_size=3),
)


@settings(max_examples=150, deadline=None, database=None)
@given(want=remotes, neigh=neighs, fdb=fdbs)
def test_any_tables_end_equal_to_the_wanted_ones_and_stay_there(
    want: list[Remote], neigh: Neigh, fdb: Fdb
):
    after_neigh, after_fdb = apply(plan_remotes(neigh, fdb, want), neigh, fdb)
    want_neigh, want_fdb = programmed(want)
    # Every wanted entry is there, as programmed; no permanent neighbour or FDB entry is
    # left that nobody wants. Transient neighbours of unwanted IPs are the kernel's.
    assert after_fdb == want_fdb
    assert {ip: v for ip, v in after_neigh.items() if v[1]} == want_neigh
    assert {ip: v for ip, v in after_neigh.items() if not v[1]} == {
        ip: v for ip, v in neigh.items() if not v[1] and ip not in want_neigh
    }
    assert plan_remotes(after_neigh, after_fdb, want) == RemotePlan()  # idempotent
