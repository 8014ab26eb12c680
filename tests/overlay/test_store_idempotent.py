"""A request repeated after an unclear failure never allocates twice (a real Consul, -dev).

Consul runs in dev mode inside a throwaway network namespace, on its loopback; the
store is driven through its own client from inside that namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import dev_consul
from toolkit.overlay import model
from toolkit.overlay.store import Store

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def store(make_module_netns) -> Iterator[Store]:
    with dev_consul(make_module_netns(), timeout=5.0) as consul:
        yield Store(consul)


def keys(store: Store, prefix: str) -> list[str]:
    return sorted(store.consul.get_json("/v1/kv/" + model.ROOT + prefix, {"keys": "true"}) or [])


def session(store: Store) -> str:
    return store.session_create("h1", 30)


def test_a_repeated_network_create_returns_the_network_the_first_attempt_made(store: Store):
    first = store.create_network("rep-net", net_id="a" * 64)
    again = store.create_network("rep-net", net_id="a" * 64)
    assert again == first
    assert keys(store, "names/network/rep-net") == [model.k_network_name("rep-net")]
    assert len([k for k in keys(store, "idm/vxlan-id/") if k.endswith(f"/{first.vni}")]) == 1
    with pytest.raises(Exception, match="already exists"):
        store.create_network("rep-net", net_id="b" * 64)  # another request: refused


def test_a_repeated_endpoint_create_returns_the_committed_endpoint(store: Store):
    net = store.create_network("rep-ep", net_id="c" * 64)
    sid = session(store)
    first = store.create_endpoint(sid, net, "rep-c1", "h1", "192.0.2.1", eid="d" * 64)
    again = store.create_endpoint(sid, net, "rep-c1", "h1", "192.0.2.1", eid="d" * 64)
    assert again == first  # same IP, same record: nothing allocated twice
    assert keys(store, f"ipam/{net.id}/") == [model.k_ip(net.id, first.ip)]
    with pytest.raises(Exception, match="already in use"):
        store.create_endpoint(sid, net, "rep-c1", "h1", "192.0.2.1", eid="e" * 64)


def test_withdrawing_a_stale_record_leaves_the_republished_ones_keys(store: Store):
    net = store.create_network("rep-stale", net_id="f" * 64)
    old_sid = session(store)
    old = store.create_endpoint(old_sid, net, "rep-c2", "h1", "192.0.2.1")
    store.session_destroy(old_sid)  # session lost: Consul deletes its keys
    new = store.create_endpoint(session(store), net, "rep-c2", "h1", "192.0.2.1", prefer_ip=old.ip)
    assert new.ip == old.ip and new.id != old.id
    store.remove_endpoint(old)  # from a stale snapshot
    assert keys(store, f"ipam/{net.id}/") == [model.k_ip(net.id, new.ip)]
    assert keys(store, "names/container/rep-c2") == [model.k_container_name("rep-c2")]
    assert keys(store, f"endpoint/{net.id}/") == [model.k_endpoint(net.id, new.id)]
    store.remove_endpoint(new)
    store.remove_endpoint(new)  # again: a no-op
    assert keys(store, f"ipam/{net.id}/") == [] and keys(store, "names/container/rep-c2") == []
