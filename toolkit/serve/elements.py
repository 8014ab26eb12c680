"""The page's elements: one id per thing drawn, what a finding concerns, where to capture.

Ids are the node names of the Graphviz drawing (toolkit.graph.dot: ``vm:NODE``,
``ns:NODE:NETID12``, ``ct:NAME``, ``underlay``), which Graphviz keeps as each SVG node's
``<title>``: a click on the picture names the element the API knows. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.graph import dot
from toolkit.graph.model import GraphModel

UNDERLAY = "underlay"


@dataclass(frozen=True)
class Element:
    """One element of the graph: its id, kind (vm | overlay | container | underlay), what
    the page shows as its name, and where a capture of it listens (TARGET and interface, in
    the forms ``ovlab capture`` takes)."""

    id: str
    kind: str
    name: str
    vm: str | None
    target: str | None  # for toolkit.capture.live.resolve, within the lab
    iface: str | None
    netns: str | None = None  # an overlay namespace's name (1-<nid>)
    network: str | None = None  # network name

    def to_dict(self) -> dict[str, Any]:
        """JSON twin."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def elements(model: GraphModel) -> dict[str, Element]:
    """Every element of a graph model, by id."""
    nets = {n.id: n for n in model.networks}
    out = {UNDERLAY: Element(UNDERLAY, "underlay", f"underlay {model.bridge}", None, None, None)}
    for vm in model.vms:
        out[dot.vm_id(vm.node)] = Element(
            dot.vm_id(vm.node), "vm", vm.node, vm.node, vm.node, "eth1"
        )
    for a in model.attachments:
        i = dot.ns_id(a.vm, a.network)
        name = nets[a.network].name if a.network in nets else a.network[:12]
        out[i] = Element(
            i, "overlay", f"{a.vm} · {a.netns} ({name})", a.vm, f"{a.vm}:{a.netns}", "vxlan0",
            a.netns, name,
        )  # fmt: skip
    for c in model.containers:
        i = dot.ct_id(c.name)
        net = nets[c.network].name if c.network in nets else None
        out[i] = Element(i, "container", c.name, c.vm, c.name, "eth0", None, net)
    return out


def concerns(finding: dict[str, Any], known: dict[str, Element]) -> str:
    """The element a doctor finding (its JSON twin) is about: the overlay namespace, else
    the VM, else the underlay (a lab-wide finding)."""
    vm, netns = finding.get("vm"), finding.get("netns")
    if vm and netns:
        for e in known.values():
            if e.kind == "overlay" and e.vm == vm and e.netns == netns:
                return e.id
        for e in known.values():
            if e.kind == "container" and e.vm == vm and e.name == netns:
                return e.id
    if vm and dot.vm_id(vm) in known:
        return dot.vm_id(vm)
    return UNDERLAY


def placed(findings: list[dict[str, Any]], known: dict[str, Element]) -> list[dict[str, Any]]:
    """Each finding with ``element``: the id it concerns."""
    return [{**f, "element": concerns(f, known)} for f in findings]
