"""The incremental reconcile's pure parts: the endpoint diff, the remote diff and its plan,
and the watcher's decode cache. No root, no kernel.

Oracle: ``remotes_for`` (what the full path programs, and what the doctor judges by).
Tables equal to the old snapshot's remotes, changed by ``plan_changes`` of
``remote_changes``, must be the new snapshot's remotes, for random pairs of snapshots.
"""

from __future__ import annotations

import base64
import json
import random

from toolkit.overlay.dataplane import RemotePlan, plan_changes
from toolkit.overlay.model import (
    ROOT,
    Endpoint,
    Network,
    Snapshot,
    container_mac,
    endpoint_changes,
    parse_tree,
    remote_changes,
    remotes_for,
)

NET = Network("ab" * 32, "dev", "10.0.0.0/24", "10.0.0.1", 256)
OTHER = Network("cd" * 32, "web", "10.0.1.0/24", "10.0.1.1", 257)
HOSTS = {"vm1": "192.168.100.23", "vm2": "192.168.100.24", "vm3": "192.168.100.25"}


def ep(i: int, host: str, net: Network = NET, ip_last: int | None = None) -> Endpoint:
    ip = f"{net.subnet.rsplit('.', 1)[0]}.{ip_last or i + 2}"
    return Endpoint(f"{i:064x}", net.id, f"c{i}", ip, container_mac(ip), host, HOSTS[host])


def snap(index: int, eps: list[Endpoint]) -> Snapshot:
    return Snapshot(index, {NET.id: NET, OTHER.id: OTHER}, {e.id: e for e in eps})


def tables(remotes: list) -> tuple[dict[str, str], dict[str, str]]:
    """Neighbours ip -> mac and FDB mac -> vtep, as vxlan0 holds them."""
    return {r.ip: r.mac for r in remotes}, {r.mac: r.vtep for r in remotes}


def applied(have: tuple[dict[str, str], dict[str, str]], plan: RemotePlan) -> tuple:
    """vxlan0's tables after the plan, in its order (FDB append on a fresh entry)."""
    neigh, fdb = dict(have[0]), dict(have[1])
    for mac in plan.fdb_del:
        fdb.pop(mac, None)
    for ip, _mac in plan.neigh_del:
        neigh.pop(ip, None)
    for mac, vtep in plan.fdb_add:
        assert mac not in fdb, "an append on a live entry would add a second destination"
        fdb[mac] = vtep
    for ip, mac in plan.neigh_add:
        neigh[ip] = mac
    return neigh, fdb


def test_the_diff_names_added_changed_and_removed_endpoints():
    a, b, c = ep(1, "vm2"), ep(2, "vm3"), ep(3, "vm2")
    moved = Endpoint(**{**b.to_dict(), "host": "vm2", "vtep": HOSTS["vm2"]})
    ch = endpoint_changes(snap(1, [a, b]), snap(2, [moved, c]))
    assert (ch.added, ch.changed, ch.removed) == ((c.id,), (b.id,), (a.id,))
    assert len(endpoint_changes(snap(1, [a, b]), snap(2, [a, b]))) == 0


def test_random_changes_take_the_tables_from_the_old_to_the_new_snapshot():
    rnd = random.Random(12)
    for _ in range(300):
        pool = [ep(i, rnd.choice(list(HOSTS)), rnd.choice([NET, OTHER])) for i in range(12)]
        old = snap(1, rnd.sample(pool, rnd.randint(0, 12)))
        new_eps = rnd.sample(pool, rnd.randint(0, 12))
        # Moves and IP reuse: some endpoints change host, some take a freed IP.
        for k, e in enumerate(new_eps):
            if rnd.random() < 0.2:
                host = rnd.choice(list(HOSTS))
                new_eps[k] = Endpoint(**{**e.to_dict(), "host": host, "vtep": HOSTS[host]})
            elif rnd.random() < 0.1:
                reuse = rnd.choice(pool)
                new_eps[k] = Endpoint(**{**e.to_dict(), "ip": reuse.ip, "mac": reuse.mac})
        new = snap(2, list({e.ip: e for e in new_eps}.values()))
        ch = endpoint_changes(old, new)
        for net in (NET, OTHER):
            gone, wanted = remote_changes(old, new, "vm1", net.id, ch.ids)
            after = applied(tables(remotes_for(old, "vm1", net.id)), plan_changes(gone, wanted))
            assert after == tables(remotes_for(new, "vm1", net.id))


def test_one_change_costs_the_same_at_any_size():
    for size in (20, 200, 1000):
        net = Network(NET.id, "dev", "10.0.0.0/16", "10.0.0.1", 256)
        ips = [f"10.0.{i // 250}.{i % 250 + 2}" for i in range(size)]
        base = [
            Endpoint(f"{i:064x}", net.id, f"c{i}", ip, container_mac(ip), "vm2", HOSTS["vm2"])
            for i, ip in enumerate(ips)
        ]
        old = Snapshot(1, {net.id: net}, {e.id: e for e in base})
        mac = container_mac("10.0.9.9")
        extra = Endpoint(f"{size + 1:064x}", net.id, "new", "10.0.9.9", mac, "vm3", HOSTS["vm3"])
        new = Snapshot(2, old.networks, {**old.endpoints, extra.id: extra})
        ch = endpoint_changes(old, new)
        plan = plan_changes(*remote_changes(old, new, "vm1", net.id, ch.ids))
        assert (len(ch), plan.ops) == (1, 2)  # one FDB append, one neighbour replace


def kv(key: str, record: dict, modify: int) -> dict:
    value = base64.b64encode(json.dumps(record).encode()).decode()
    return {"Key": ROOT + key, "Value": value, "ModifyIndex": modify}


def test_the_cache_decodes_only_the_keys_that_changed():
    cache: dict = {}
    entries = [kv(f"endpoint/{NET.id}/{i}", ep(i, "vm2").to_dict(), 10 + i) for i in range(50)]
    entries.append(kv(f"network/{NET.id}", NET.to_dict(), 5))
    first = parse_tree(entries, 100, cache)
    assert first.decoded == 51
    entries[3] = kv(f"endpoint/{NET.id}/3", ep(3, "vm3").to_dict(), 200)
    second = parse_tree(entries[:-2] + entries[-1:], 200, cache)  # one changed, one gone
    assert second.decoded == 1
    assert second == parse_tree(entries[:-2] + entries[-1:], 200)  # the same as no cache
    ch = endpoint_changes(first, second)
    assert (ch.added, ch.changed, ch.removed) == ((), (ep(3, "vm3").id,), (ep(49, "vm2").id,))
    stale = {f"{ROOT}endpoint/x/{i}": (i, None) for i in range(200)}
    cache.update(stale)
    parse_tree(entries[:1], 300, cache)  # far fewer keys than the cache: it is pruned
    assert set(cache) == {entries[0]["Key"]}
