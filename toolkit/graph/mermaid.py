"""Mermaid flowchart text for a graph model (renders in GitHub Markdown and mermaid.live)."""

from __future__ import annotations

import re

from toolkit.graph.model import GraphModel


def ident(text: str) -> str:
    """A Mermaid node id: letters, digits and underscores only."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def label(*lines: str) -> str:
    """A quoted Mermaid label; lines joined with <br/>, quotes escaped as entities."""
    return '"' + "<br/>".join(s.replace('"', "#quot;") for s in lines) + '"'


def render(model: GraphModel) -> str:
    """The whole graph as a Mermaid flowchart."""
    nets = {n.id: n for n in model.networks}
    mtu = f" MTU {model.mtu}" if model.mtu else ""
    out = [
        "---",
        f"title: ovlab lab {model.lab} — VXLAN overlay over {model.subnet}",
        "---",
        "flowchart TB",
        f"  underlay[{label(f'underlay {model.bridge}', model.subnet + mtu)}]",
    ]
    for vm in model.vms:
        vid = ident(f"vm_{vm.node}")
        role = f" ({vm.role})" if vm.role else ""
        out.append(f"  subgraph {vid}_box[{label(vm.node + role)}]")
        out.append(f"    {vid}[{label(f'eth1 {vm.eth1}', f'VTEP {vm.vtep}:{model.port}')}]")
        for a in (a for a in model.attachments if a.vm == vm.node):
            net = nets[a.network]
            nid = ident(f"ns_{vm.node}_{net.id[:12]}")
            prefix = net.subnet.split("/")[-1]
            out.append(f"    subgraph {nid}_box[{label(f'netns {a.netns} ({net.name})')}]")
            out.append(
                f"      {nid}[{label(f'vxlan0 VNI {net.vni}', f'br0 {net.gateway}/{prefix}')}]"
            )
            for c in (c for c in model.containers if c.vm == vm.node and c.network == net.id):
                lines = [c.name, f"eth0 {c.ip}", c.mac] + (
                    [f"service {c.service}"] if c.service else []
                )
                cid = ident(f"ct_{c.name}")
                out.append(f"      {cid}[{label(*lines)}]")
                out.append(f"      {nid} ---|veth| {cid}")
            out.append("    end")
            out.append(f"    {vid} -.- {nid}")
        out.append("  end")
        out.append(f"  underlay === {vid}")
    for t in model.tunnels:
        left = ident(f"ns_{t.a}_{t.network[:12]}")
        right = ident(f"ns_{t.b}_{t.network[:12]}")
        out.append(f'  {left} <-. "VXLAN VNI {t.vni} UDP {model.port}" .-> {right}')
    return "\n".join(out) + "\n"
