"""Graphviz DOT text for a graph model, written by hand (no graphviz Python package)."""

from __future__ import annotations

from toolkit.graph.model import GraphModel

FONT = "Helvetica"
# One colour per overlay network, for its tunnels and its namespace boxes.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def quote(text: str) -> str:
    """A DOT string literal; a newline in text becomes a centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def attrs(**kv: str | int | float) -> str:
    """``[k="v", …]`` with every value quoted."""
    return "[" + ", ".join(f"{k}={quote(str(v))}" for k, v in kv.items()) + "]"


def colour_of(model: GraphModel) -> dict[str, str]:
    """Network id -> colour."""
    return {n.id: PALETTE[i % len(PALETTE)] for i, n in enumerate(model.networks)}


def vm_id(node: str) -> str:
    """Id of a VM's eth1/VTEP node."""
    return f"vm:{node}"


def ns_id(node: str, net_id: str) -> str:
    """Id of a VM's overlay namespace node (br0 + vxlan0) for a network."""
    return f"ns:{node}:{net_id[:12]}"


def ct_id(name: str) -> str:
    """Id of a container node."""
    return f"ct:{name}"


def _vm_block(model: GraphModel, vm_index: int, colours: dict[str, str]) -> list[str]:
    vm = model.vms[vm_index]
    nets = {n.id: n for n in model.networks}
    role = f" ({vm.role})" if vm.role else ""
    down = "" if vm.alive else " [down]"
    out = [
        f"  subgraph {quote('cluster_vm_' + vm.node)} {{",
        "    graph "
        + attrs(
            label=vm.node + role + down,
            fontsize=13,
            style="rounded,filled",
            fillcolor="#f3f6fa",
            color="#8899aa",
        )
        + ";",
        f"    {quote(vm_id(vm.node))} "
        + attrs(label=f"eth1 {vm.eth1}\nVTEP {vm.vtep}:{model.port}", fillcolor="#fdebc8")
        + ";",
    ]
    for a in (a for a in model.attachments if a.vm == vm.node):
        net, col = nets[a.network], colours[a.network]
        prefix = net.subnet.split("/")[-1]
        nid = ns_id(vm.node, net.id)
        out += [
            f"    subgraph {quote(f'cluster_ns_{vm.node}_{net.id[:12]}')} {{",
            "      graph "
            + attrs(
                label=f"netns {a.netns} ({net.name})",
                fontsize=10,
                style="rounded,dashed",
                color=col,
            )
            + ";",
            f"      {quote(nid)} "
            + attrs(label=f"vxlan0 VNI {net.vni}\nbr0 {net.gateway}/{prefix}", color=col)
            + ";",
        ]
        for c in (c for c in model.containers if c.vm == vm.node and c.network == net.id):
            svc = f"\nservice {c.service}" if c.service else ""
            label = f"{c.name}\neth0 {c.ip}\n{c.mac}{svc}"
            out.append(
                f"      {quote(ct_id(c.name))} "
                + attrs(label=label, shape="box3d", fillcolor="#e3f2e1")
                + ";"
            )
            out.append(f"      {quote(nid)} -- {quote(ct_id(c.name))} {attrs(label='veth')};")
        out.append("    }")
        out.append(f"    {quote(vm_id(vm.node))} -- {quote(nid)} {attrs(style='dotted')};")
    out.append("  }")
    return out


def render(model: GraphModel) -> str:
    """The whole graph as DOT."""
    colours = colour_of(model)
    mtu = f"  MTU {model.mtu}" if model.mtu else ""
    title = f"ovlab lab {model.lab}: VXLAN overlay over {model.subnet}"
    lines = [
        f"graph {quote('ovlab_' + model.lab)} {{",
        "  graph "
        + attrs(
            label=title,
            labelloc="t",
            fontsize=18,
            fontname=FONT,
            rankdir="TB",
            newrank="true",
            nodesep=1.0,
            ranksep=0.6,
            bgcolor="white",
        )
        + ";",
        "  node "
        + attrs(shape="box", style="rounded,filled", fillcolor="white", fontname=FONT, fontsize=11)
        + ";",
        f"  edge {attrs(fontname=FONT, fontsize=10)};",
        f"  {quote('underlay')} "
        + attrs(
            label=f"underlay {model.bridge}\n{model.subnet}{mtu}",
            style="filled",
            fillcolor="#e6e6e6",
        )
        + ";",
    ]
    for i, vm in enumerate(model.vms):
        lines += _vm_block(model, i, colours)
        lines.append(f"  {quote('underlay')} -- {quote(vm_id(vm.node))} {attrs(penwidth=2)};")
    for t in model.tunnels:
        col = colours[t.network]
        a, b = ns_id(t.a, t.network), ns_id(t.b, t.network)
        style = attrs(
            label=f"VXLAN VNI {t.vni}\nUDP {model.port}",
            color=col,
            fontcolor=col,
            style="dashed",
            penwidth=2,
            constraint="false",
        )
        lines.append(f"  {quote(a)} -- {quote(b)} {style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
