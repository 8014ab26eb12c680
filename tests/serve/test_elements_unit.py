"""Elements of the page: ids as Graphviz names them, findings placed on the element they
concern, capture targets. Pure: a graph model built from a made-up state and store."""

from __future__ import annotations

from tests.graph.test_graph import NET, STATE, WIRE
from toolkit.graph import dot
from toolkit.graph.model import build
from toolkit.overlay.model import Snapshot
from toolkit.serve.elements import UNDERLAY, concerns, elements, placed


def model():  # type: ignore[no-untyped-def]
    return build("seed", STATE, Snapshot.from_wire(WIRE))


def test_every_drawn_node_is_an_element_with_the_dot_name() -> None:
    m = model()
    els = elements(m)
    assert UNDERLAY in els
    assert {dot.vm_id(v.node) for v in m.vms} <= set(els)
    assert {dot.ns_id(a.vm, a.network) for a in m.attachments} <= set(els)
    assert {dot.ct_id(c.name) for c in m.containers} <= set(els)
    dot_text = dot.render(m)
    for ident in els:
        assert dot.quote(ident) in dot_text  # the SVG <title> the page clicks on


def test_capture_targets_are_the_interface_of_each_element() -> None:
    els = elements(model())
    vm = els[dot.vm_id("lab-vm-1")]
    assert (vm.kind, vm.target, vm.iface) == ("vm", "lab-vm-1", "eth1")
    ns = els[dot.ns_id("lab-vm-1", NET)]
    assert (ns.kind, ns.target, ns.iface, ns.network) == (
        "overlay", f"lab-vm-1:1-{NET[:10]}", "vxlan0", "dev",
    )  # fmt: skip
    ct = next(e for e in els.values() if e.kind == "container")
    assert (ct.target, ct.iface) == (ct.name, "eth0")
    assert els[UNDERLAY].target is None


def test_a_finding_lands_on_the_namespace_then_the_vm_then_the_underlay() -> None:
    els = elements(model())
    ns = f"1-{NET[:10]}"
    assert concerns({"vm": "lab-vm-1", "netns": ns}, els) == dot.ns_id("lab-vm-1", NET)
    assert concerns({"vm": "lab-vm-2", "netns": "1-0000000000"}, els) == "vm:lab-vm-2"
    assert concerns({"vm": "lab-vm-3"}, els) == "vm:lab-vm-3"
    assert concerns({"vm": "gone"}, els) == UNDERLAY
    assert concerns({}, els) == UNDERLAY
    (one,) = placed([{"check": "fdb-missing", "vm": "lab-vm-1", "netns": ns}], els)
    assert one == {"check": "fdb-missing", "vm": "lab-vm-1", "netns": ns,
                   "element": dot.ns_id("lab-vm-1", NET)}  # fmt: skip
