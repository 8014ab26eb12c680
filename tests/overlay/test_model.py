"""remotes_for: the one pure answer to "what should vxlan0 of a network hold on a host".

No root, no kernel: the agent programs with this function and the doctor judges with it,
so these tests pin the answer both of them give.
"""

from __future__ import annotations

import json

from toolkit.overlay.model import (
    Endpoint,
    Host,
    Network,
    Remote,
    Snapshot,
    container_mac,
    remotes_for,
)

NET = Network("n" * 64, "dev", "10.0.0.0/24", "10.0.0.1", 256)
OTHER = Network("m" * 64, "prod", "10.0.1.0/24", "10.0.1.1", 257)
VTEPS = {"vm1": "192.168.100.23", "vm2": "192.168.100.24", "vm3": "192.168.100.25"}


def ep(name: str, ip: str, host: str, net: Network = NET, vtep: str | None = None) -> Endpoint:
    return Endpoint(f"e-{name}", net.id, name, ip, container_mac(ip), host, vtep or VTEPS[host])


def snap(*eps: Endpoint, hosts: tuple[str, ...] = ("vm1", "vm2", "vm3")) -> Snapshot:
    s = Snapshot(index=7)
    s.networks = {NET.id: NET, OTHER.id: OTHER}
    s.endpoints = {e.id: e for e in eps}
    s.hosts = {h: Host(h, VTEPS[h]) for h in hosts}
    return s


def test_every_endpoint_on_another_host_sorted_by_ip():
    s = snap(ep("c3", "10.0.0.10", "vm3"), ep("c1", "10.0.0.2", "vm1"), ep("c2", "10.0.0.3", "vm2"))
    assert remotes_for(s, "vm1", NET.id) == [
        Remote("10.0.0.3", "02:42:0a:00:00:03", VTEPS["vm2"], "c2", "vm2"),
        Remote("10.0.0.10", "02:42:0a:00:00:0a", VTEPS["vm3"], "c3", "vm3"),
    ]


def test_local_endpoints_and_other_networks_are_left_out():
    s = snap(
        ep("c1", "10.0.0.2", "vm1"),
        ep("c1b", "10.0.0.5", "vm1"),
        ep("p2", "10.0.1.2", "vm2", OTHER),
        ep("c2", "10.0.0.3", "vm2"),
    )
    assert [r.name for r in remotes_for(s, "vm1", NET.id)] == ["c2"]
    assert [r.name for r in remotes_for(s, "vm1", OTHER.id)] == ["p2"]
    assert remotes_for(s, "vm2", OTHER.id) == []


def test_unknown_network_or_empty_store_hold_nothing():
    assert remotes_for(snap(ep("c2", "10.0.0.3", "vm2")), "vm1", "nope") == []
    assert remotes_for(Snapshot(), "vm1", NET.id) == []


def test_vtep_is_the_endpoint_records_even_when_the_host_key_is_gone():
    # vm2's liveness key expired (Consul reaps its endpoints a moment later): the endpoint
    # record still says where it lives, and that is what both agent and doctor program.
    s = snap(ep("c2", "10.0.0.3", "vm2"), hosts=("vm1", "vm3"))
    assert [r.vtep for r in remotes_for(s, "vm1", NET.id)] == [VTEPS["vm2"]]


def test_vtep_is_the_endpoint_records_even_when_the_host_key_disagrees():
    s = snap(ep("c2", "10.0.0.3", "vm2", vtep="192.168.100.99"))
    assert [r.vtep for r in remotes_for(s, "vm1", NET.id)] == ["192.168.100.99"]


def test_same_answer_from_the_agent_api_json():
    # The doctor reads the snapshot through the agent's API (JSON); it must judge with
    # exactly what the agent programmed from its own Snapshot.
    s = snap(ep("c1", "10.0.0.2", "vm1"), ep("c2", "10.0.0.3", "vm2"), ep("c3", "10.0.0.4", "vm3"))
    wire = json.loads(json.dumps(s.to_wire()))
    back = Snapshot.from_wire(wire)
    for host in VTEPS:
        assert remotes_for(back, host, NET.id) == remotes_for(s, host, NET.id)
    assert back.index == 7 and back.hosts == s.hosts
