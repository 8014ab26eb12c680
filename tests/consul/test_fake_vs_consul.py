"""The fake Consul (tests/consul/fake.py) answers as a real one does, for what the store uses.

One scenario (allocation, exhaustion, name clashes, a lost session, failed checks worded
by Consul, delete-cas on a stale index, a blocking read) runs through the overlay store
against a real ``consul agent -dev`` (in a throwaway namespace, on its loopback) and
against the fake; the two outcomes must be equal. Random ids are given or normalised.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.consul.fake import FakeConsul
from tests.helpers import dev_consul
from toolkit.consul.client import Consul, ConsulError
from toolkit.errors import UsageError
from toolkit.overlay import model
from toolkit.overlay.store import Conflict, SessionInvalid, Store

pytestmark = pytest.mark.root

R = model.ROOT


@pytest.fixture(scope="module")
def real(make_module_netns) -> Iterator[Consul]:
    with dev_consul(make_module_netns(), timeout=10.0) as consul:
        yield consul


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def scenario(store: Store) -> dict[str, Any]:
    """Drive the store through what the agents do; everything observable, ids normalised."""
    out: dict[str, Any] = {}
    sids: dict[str, str] = {}

    def norm(text: str) -> str:
        for name, sid in sids.items():
            text = text.replace(sid, f"<{name}>")
        return text

    def err(call: Any) -> str:
        try:
            call()
        except (UsageError, Conflict, ConsulError) as exc:
            return f"{type(exc).__name__}: {norm(str(exc))}"
        return "no error"

    a = store.create_network("a", net_id="a" * 64)
    b = store.create_network("b", net_id="b" * 64)
    tiny = store.create_network("tiny", subnet="10.9.0.0/29", net_id="c" * 64)
    store.remove_network(b, store.snapshot())
    d = store.create_network("d", net_id="d" * 64)
    out["networks"] = [(n.name, n.vni, n.subnet, n.gateway) for n in (a, tiny, d)]
    out["taken name"] = err(lambda: store.create_network("a"))

    sids["s1"] = store.session_create("vm1", 15)
    sids["s2"] = store.session_create("vm2", 15)
    store.register_host(sids["s1"], "vm1", "192.0.2.1", 4789)
    store.register_host(sids["s2"], "vm2", "192.0.2.2", 4789)
    ips = []
    for i in range(5):
        sid = sids["s1"] if i % 2 else sids["s2"]
        host = "vm1" if i % 2 else "vm2"
        ep = store.create_endpoint(sid, tiny, f"c{i}", host, "192.0.2.9", eid=f"{i}" * 64)
        ips.append((ep.name, ep.ip, ep.host))
    out["endpoints"] = ips
    out["exhausted"] = err(
        lambda: store.create_endpoint(sids["s1"], tiny, "c9", "vm1", "192.0.2.1", eid="9" * 64)
    )
    out["name clash"] = err(
        lambda: store.create_endpoint(sids["s2"], a, "c1", "vm2", "192.0.2.2", eid="8" * 64)
    )

    # Consul's own words for failed checks, as the store sees them (Conflict's text).
    name_key = model.k_container_name("c0")
    out["check-not-exists"] = err(
        lambda: store.txn([{"Verb": "check-not-exists", "Key": name_key}])
    )
    out["lock held"] = err(
        lambda: store.txn(
            [{"Verb": "lock", "Key": name_key, "Value": b64("x"), "Session": sids["s1"]}]
        )
    )
    entry = store.consul.get_json("/v1/kv/" + name_key)[0]
    out["lock by the holder"] = err(
        lambda: store.txn(
            [{"Verb": "lock", "Key": name_key, "Value": entry["Value"], "Session": sids["s2"]}]
        )
    )
    out["lock index kept"] = store.consul.get_json("/v1/kv/" + name_key)[0]["LockIndex"]
    out["delete-cas stale"] = err(
        lambda: store.txn(
            [{"Verb": "delete-cas", "Key": name_key, "Index": entry["ModifyIndex"] - 1}]
        )
    )
    out["delete-cas missing"] = err(
        lambda: store.txn([{"Verb": "delete-cas", "Key": R + "nosuch", "Index": 5}])
    )
    out["get missing"] = store.consul.get_json("/v1/kv/" + R + "nosuch")
    out["keys missing"] = store.consul.get_json("/v1/kv/" + R + "nosuch/", {"keys": "true"})

    # A blocking read returns when the store changes, with a larger index.
    first = store.snapshot()
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(store.snapshot(first.index, "5s").index))
    t.start()
    time.sleep(0.3)
    blocked = not seen
    store.remove_endpoint(store.snapshot().endpoint_by_name("c4")[0])
    t.join(10)
    out["blocking read"] = (blocked, bool(seen) and seen[0] > first.index)

    # vm1's session ends: its endpoints, names, addresses and host key go with it.
    store.session_destroy(sids["s1"])
    snap = store.snapshot()
    out["after loss"] = (
        sorted(e.name for e in snap.endpoints.values()),
        sorted(snap.hosts),
        store.session_renew(sids["s1"]),
        store.session_renew(sids["s2"]),
    )
    out["invalid session"] = err(
        lambda: store.create_endpoint(sids["s1"], a, "c7", "vm1", "192.0.2.1", eid="7" * 64)
    )
    out["invalid session type"] = type(
        pytest.raises(
            SessionInvalid, store.register_host, sids["s1"], "vm1", "192.0.2.1", 4789
        ).value
    ).__name__
    out["keys"] = sorted(
        norm(k) for k in store.consul.get_json("/v1/kv/" + R, {"keys": "true"}) or []
    )
    return out


def test_the_fake_answers_as_consul_does(real: Consul) -> None:
    want = scenario(Store(real))
    with FakeConsul().serve() as fake:
        got = scenario(Store(dataclasses.replace(fake, where=real.where)))
    assert got == want
