"""Swarm's NetworkDB through the diagnostic server, on answers recorded from a real Docker
20.10 swarm of two lab VMs (tests/docker/recorded/: network swnet, containers s1 on vm1
and s2 on vm2, and each node's load-balancer endpoint). No root, no daemon."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from toolkit.docker import diag, discover, store
from toolkit.docker.discover import DockerHost
from toolkit.errors import EXIT_ENV, EXIT_RUNTIME
from toolkit.overlay.model import remotes_for

REC = Path(__file__).parent / "recorded"
HOSTS = {"192.168.100.23": "vm1", "192.168.100.24": "vm2"}


def _load(name: str) -> object:
    return json.loads((REC / name).read_text())


def snapshot(node: str = "vm1"):  # type: ignore[no-untyped-def]
    net = diag.network_of(_load("vm1-network.json"))  # type: ignore[arg-type]
    assert net is not None
    tables = {
        net.id: {
            t: diag.entries(_load(f"{node}-{t}.json"))
            for t in ("overlay_peer_table", "endpoint_table")
        }
    }
    return net, diag.parse([net], tables, HOSTS)


def test_peer_records_become_endpoints_with_their_vtep() -> None:
    net, snap = snapshot()
    assert (net.name, net.subnet, net.gateway, net.vni) == (
        "swnet",
        "10.0.9.0/24",
        "10.0.9.1",
        4097,
    )
    got = sorted((e.ip, e.mac, e.host, e.name) for e in snap.endpoints.values())
    assert got == [
        ("10.0.9.2", "02:42:0a:00:09:02", "vm1", "s1"),
        ("10.0.9.3", "02:42:0a:00:09:03", "vm1", "lb/1cfd43fe36bd"),
        ("10.0.9.4", "02:42:0a:00:09:04", "vm2", "s2"),
        ("10.0.9.5", "02:42:0a:00:09:05", "vm2", "lb/0d81549fa0ea"),
    ]
    # what vm1's vxlan0 held in that swarm (bridge fdb show dev vxlan0, recorded with it)
    want = {("02:42:0a:00:09:05", "192.168.100.24"), ("02:42:0a:00:09:04", "192.168.100.24")}
    assert {(r.mac, r.vtep) for r in remotes_for(snap, "vm1", net.id)} == want


def test_both_nodes_hold_the_same_tables() -> None:
    a, b = snapshot("vm1")[1], snapshot("vm2")[1]
    assert a.endpoints == b.endpoints
    peers = diag.entries(_load("vm1-networkpeers.json"))
    assert sorted(p["ip"] for p in peers) == sorted(HOSTS)


def test_protobuf_reader_skips_varints_and_refuses_groups() -> None:
    assert diag.fields(b"\x08\x96\x01\x12\x02hi") == {2: [b"hi"]}
    with pytest.raises(ValueError):
        diag.fields(b"\x0b")  # wire type 3: a group


def _host(port: int | None) -> DockerHost:
    return DockerHost(
        "unix:///x",
        "/x",
        os.getpid(),
        "vm1",
        "20.10",
        "/run/docker",
        "/run/docker/netns",
        True,
        None,
        None,
        "active",
        "192.168.100.23",
        port,
    )


def test_closed_diagnostic_port_is_one_line_exit_4() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(diag.DiagUnreachable) as exc:
        diag.get(_host(port), "/help")
    assert exc.value.exit_code == EXIT_RUNTIME
    assert exc.value.message.startswith(
        f"vm1: the diagnostic server on 127.0.0.1:{port} does not answer"
    )
    assert "kill -HUP" in str(exc.value.hint)


def test_swarm_without_diagnostic_port_says_how_to_turn_it_on() -> None:
    with pytest.raises(diag.EnvError) as exc:
        diag.get(_host(None), "/help")
    assert exc.value.exit_code == EXIT_ENV
    assert '"network-diagnostic-port": 2000' in str(exc.value.hint)


def test_dockerd_options_and_host_specs() -> None:
    opts = discover._args(
        [
            "-H",
            "unix:///run/d.sock",
            "--exec-root=/run/x",
            "--iptables=false",
            "--cluster-store",
            "etcd://h:2379",
        ]
    )
    assert opts == {
        "host": ["unix:///run/d.sock"],
        "exec-root": ["/run/x"],
        "iptables": ["false"],
        "cluster-store": ["etcd://h:2379"],
    }
    assert discover.parse_spec("unix:///a.sock") == ("unix", "/a.sock")
    assert discover.parse_spec("ssh://root@h") == ("ssh", "root@h")


def test_classic_store_keys_parse() -> None:
    nid, eid = "8a6c" * 16, "0366" * 16
    keys = {
        f"network/{nid}": json.dumps(
            {"id": nid, "name": "ovnet", "networkType": "overlay"}
        ).encode(),
        f"overlay/network/{nid}": json.dumps(
            {"mtu": 0, "subnets": [{"SubnetIP": "10.0.0.0/24", "GwIP": "10.0.0.1/24", "Vni": 256}]}
        ).encode(),
        f"endpoint/{nid}/{eid}": json.dumps(
            {
                "name": "c1",
                "locator": "192.168.100.23",
                "ep_iface": {"addr": "10.0.0.2/24", "mac": "02:42:0a:00:00:02"},
            }
        ).encode(),
        "idm/vxlan-id": b"not json {",
    }
    snap = store.parse(keys, {"192.168.100.23": "vm1"})
    net = snap.networks[nid]
    assert (net.name, net.subnet, net.gateway, net.vni) == ("ovnet", "10.0.0.0/24", "10.0.0.1", 256)
    e = snap.endpoints[eid]
    assert (e.name, e.ip, e.mac, e.host, e.vtep) == (
        "c1",
        "10.0.0.2",
        "02:42:0a:00:00:02",
        "vm1",
        "192.168.100.23",
    )


def test_consul_store_is_read_like_etcd() -> None:
    """The classic store in Consul's KV (base64 values under docker/network/v1.0/), served
    by a stand-in on loopback: the same Snapshot as from etcd."""
    import base64
    import http.server
    import threading

    nid, eid = "ab" * 32, "cd" * 32
    kv = {
        f"network/{nid}": {"id": nid, "name": "dev", "networkType": "overlay"},
        f"overlay/network/{nid}": {
            "subnets": [{"SubnetIP": "10.0.1.0/24", "GwIP": "10.0.1.1/24", "Vni": 257}]
        },
        f"endpoint/{nid}/{eid}": {
            "name": "web",
            "locator": "192.168.100.24",
            "ep_iface": {"addr": "10.0.1.2/24", "mac": "02:42:0a:00:01:02"},
        },
    }
    body = json.dumps(
        [
            {"Key": store.ROOT + k, "Value": base64.b64encode(json.dumps(v).encode()).decode()}
            for k, v in kv.items()
        ]
    ).encode()
    asked: list[str] = []

    class Kv(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: object) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Kv)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        keys = store.read_keys(f"consul://127.0.0.1:{srv.server_port}")
    finally:
        srv.shutdown()
        srv.server_close()
    assert asked == [f"/v1/kv/{store.ROOT}?recurse=true"]
    snap = store.parse(keys, {"192.168.100.24": "vm2"})
    assert [(n.name, n.vni) for n in snap.networks.values()] == [("dev", 257)]
    assert [(e.name, e.ip, e.host) for e in snap.endpoints.values()] == [("web", "10.0.1.2", "vm2")]


def test_unreachable_store_is_exit_4() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(store.StoreUnreachable) as exc:
        store.read_keys(f"etcd://127.0.0.1:{port}")
    assert exc.value.exit_code == EXIT_RUNTIME
    assert (
        exc.value.message
        == f"cluster store etcd://127.0.0.1:{port} does not answer: Connection refused"
    )
