"""`ovlab lab graph`: the model's DOT read back by Graphviz itself, Mermaid, SVG, no-graphviz.

The unit tests draw a model built from a made-up state and store; the last ones
draw a real provisioned two-VM lab (the seed demo's shape) and check the picture
against `ovlab ps` and `ovlab network ls`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ovlab, provisioned_lab
from tests.jsonout import data as json_data
from toolkit.graph import dot, mermaid
from toolkit.graph.model import build
from toolkit.lab.records import LabRecord, UnderlayRecord, VmRecord
from toolkit.overlay.model import Snapshot

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")

NET = "4328f325a02e5e6d69a35eb76d982f1f6fd169191a091e721e30a955ab25dec9"
STATE = LabRecord(
    "seed",
    "up",
    underlay=UnderlayRecord("ovlab-seed-ul", "", "br-underlay", "192.168.100.0/24", 1500),
    nodes=(
        VmRecord("lab-vm-1", eth1="192.168.100.23/24", groups=("consul_servers",)),
        VmRecord("lab-vm-2", eth1="192.168.100.24/24", groups=("consul_clients",)),
        VmRecord("lab-vm-3", eth1="192.168.100.25/24", groups=("consul_clients",)),
    ),
)


def endpoint(name: str, host: str, ip: str, service: str | None = None) -> dict[str, Any]:
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))
    return {
        "id": name * 4,
        "network": NET,
        "name": name,
        "ip": ip,
        "mac": mac,
        "host": host,
        "vtep": "",
        "service": service,
        "container": "",
    }


WIRE = {
    "networks": [
        {
            "id": NET,
            "name": "dev",
            "subnet": "10.0.0.0/24",
            "gateway": "10.0.0.1",
            "vni": 256,
            "driver": "overlay",
        }
    ],
    "endpoints": [
        endpoint("container_node1", "lab-vm-1", "10.0.0.2", "svc1"),
        endpoint("container_node2", "lab-vm-2", "10.0.0.3", "svc2"),
        endpoint('we"ird', "lab-vm-3", "10.0.0.4"),
    ],
    "hosts": [
        {"host": f"lab-vm-{i}", "vtep": f"192.168.100.{22 + i}", "port": 4789} for i in (1, 2, 3)
    ],
}
SNAP = Snapshot.from_wire(WIRE)


def graphviz_json(dot_text: str) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    """Graphviz's own parse of DOT text: nodes by name, edges as (tail, head, label)."""
    proc = subprocess.run(
        ["dot", "-Tjson0"], input=dot_text, capture_output=True, text=True, check=True
    )
    g = json.loads(proc.stdout)
    objs = g.get("objects", [])
    nodes = {o["name"]: o for o in objs if "nodes" not in o and "subgraphs" not in o}
    by_id = {o["_gvid"]: o["name"] for o in objs}
    edges = {(by_id[e["tail"]], by_id[e["head"]], e.get("label", "")) for e in g.get("edges", [])}
    return nodes, edges


def test_model_has_one_tunnel_per_vm_pair_of_a_network():
    model = build("seed", STATE, SNAP)
    pairs = {(t.a, t.b) for t in model.tunnels}
    assert pairs == {("lab-vm-1", "lab-vm-2"), ("lab-vm-1", "lab-vm-3"), ("lab-vm-2", "lab-vm-3")}
    assert [v.role for v in model.vms] == ["consul server", "consul client", "consul client"]
    assert {c.service for c in model.containers} == {"svc1", "svc2", None}


def test_vm_without_endpoints_gets_no_tunnel():
    snap = Snapshot.from_wire({**WIRE, "endpoints": WIRE["endpoints"][:2]})
    model = build("seed", STATE, snap)
    assert [(t.a, t.b) for t in model.tunnels] == [("lab-vm-1", "lab-vm-2")]
    assert {a.vm for a in model.attachments} == {"lab-vm-1", "lab-vm-2"}


@needs_dot
def test_dot_parses_with_expected_nodes_and_edges():
    model = build("seed", STATE, SNAP)
    nodes, edges = graphviz_json(dot.render(model))
    ns1, ns2 = dot.ns_id("lab-vm-1", NET), dot.ns_id("lab-vm-2", NET)
    assert {"underlay", "vm:lab-vm-1", ns1, "ct:container_node1", 'ct:we"ird'} <= set(nodes)
    assert "10.0.0.2" in nodes["ct:container_node1"]["label"]
    assert "02:42:0a:00:00:02" in nodes["ct:container_node1"]["label"]
    assert "svc1" in nodes["ct:container_node1"]["label"]
    assert "VTEP 192.168.100.23:4789" in nodes["vm:lab-vm-1"]["label"]
    assert (ns1, ns2, "VXLAN VNI 256\\nUDP 4789") in edges
    assert ("underlay", "vm:lab-vm-3", "") in edges


@needs_dot
def test_dot_draws_svg(tmp_path: Path):
    out = tmp_path / "g.svg"
    subprocess.run(
        ["dot", "-Tsvg", "-o", str(out)],
        input=dot.render(build("seed", STATE, SNAP)),
        text=True,
        check=True,
    )
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_mermaid_names_every_node():
    text = mermaid.render(build("seed", STATE, SNAP))
    assert text.splitlines()[3] == "flowchart TB"
    for ident in ("underlay", "vm_lab_vm_1", "ct_container_node1", "ns_lab_vm_2_4328f325a02e"):
        assert ident in text
    assert '<-. "VXLAN VNI 256 UDP 4789" .->' in text
    assert "we#quot;ird" in text and 'we"ird' not in text


# --- a real lab ------------------------------------------------------------------------------

TOPOLOGY = """\
name: {name}
underlay:
  subnet: 192.168.100.0/24
nodes:
  lab-vm-1:
    eth1: 192.168.100.23
    groups: [consul_servers]
  lab-vm-2:
    eth1: 192.168.100.24
    groups: [consul_clients]
"""


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory, _clean_labs: None) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("graph")
    with provisioned_lab(directory, text=lambda name: TOPOLOGY.format(name=name)) as name:
        for i in (1, 2):
            ovlab(
                "run",
                "-d",
                "--name",
                f"container_node{i}",
                "--publish-service",
                f"svc{i}.dev.overlay",
                "--node",
                f"{name}/lab-vm-{i}",
            )
        yield name


@pytest.mark.root
@needs_dot
def test_real_lab_graph_matches_ps_and_network_ls(seed_lab: str, tmp_path: Path):
    nodes, edges = graphviz_json(ovlab("lab", "graph", seed_lab).stdout)
    ps = json_data(ovlab("ps", "--lab", seed_lab, "--json").stdout, "ps")
    (net,) = json_data(ovlab("network", "ls", "--lab", seed_lab, "--json").stdout, "network ls")
    for row in ps:
        label = nodes[f"ct:{row['name']}"]["label"]
        assert row["ip"] in label and row["mac"] in label and f"service {row['service']}" in label
    ns1, ns2 = dot.ns_id("lab-vm-1", net["id"]), dot.ns_id("lab-vm-2", net["id"])
    assert (ns1, ns2, f"VXLAN VNI {net['vni']}\\nUDP 4789") in edges
    assert "eth1 192.168.100.24/24" in nodes["vm:lab-vm-2"]["label"]
    svg = tmp_path / "lab.svg"
    assert ovlab("lab", "graph", seed_lab, "-o", str(svg)).returncode == 0
    assert "<svg" in svg.read_text() and "container_node2" in svg.read_text()
    text = ovlab("lab", "graph", seed_lab, "--format", "mermaid").stdout
    assert "ct_container_node1" in text and "ct_container_node2" in text


@pytest.mark.root
def test_without_graphviz_images_fail_in_one_line_and_dot_works(seed_lab: str, tmp_path: Path):
    no_dot = {"PATH": "/nonexistent"}
    proc = ovlab("lab", "graph", seed_lab, "-o", str(tmp_path / "x.svg"), check=False, env=no_dot)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "apt-get install graphviz" in proc.stderr
    proc = ovlab("lab", "graph", seed_lab, "--format", "dot", env=no_dot)
    assert proc.stdout.startswith('graph "ovlab_') and "ct:container_node1" in proc.stdout
