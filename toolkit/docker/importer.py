"""``ovlab docker import``: write an ovlab lab that reproduces Docker hosts as found.

The lab directory holds:

    topology.yml   one VM per Docker host, eth1 = its VTEP, the VTEPs' subnet and MTU
                   as the underlay; the first host runs the Consul server
    docker.json    what was read: hosts, networks (subnet, gateway, VNI), endpoints
                   (container, host, IP, MAC), the doctor's findings, and every overlay
                   namespace's kernel tables (links, vxlan, neigh, fdb) as found
    setup.sh       after ``ovlab lab up DIR --provision``: the networks and containers
                   in Docker's order (so ovlab's allocators give the same VNI and IPs),
                   then ``ovlab docker replay DIR`` writes the kernel tables as found
                   (the fault comes along)

Read-only on the Docker hosts.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from pathlib import Path
from typing import Any

from toolkit.docker.compare import judge
from toolkit.docker.doctor import gather
from toolkit.errors import OvlabError, UsageError
from toolkit.overlay.model import Snapshot, netns_name


def _label(name: str) -> str:
    """A Docker host or container name as an ovlab node/container name."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return out[:40] or "host"


def _underlay(g: Any) -> tuple[str, int]:
    """The VTEPs' common subnet and the largest VTEP interface MTU."""
    from toolkit.netns.collect import collect
    from toolkit.netns.target import NsTarget

    nets = set()
    for h in g.hosts:
        if not h.vtep:
            raise UsageError(f"{h.name} has no VTEP (no advertise or swarm address)")
        addrs = collect("addrs", [NsTarget(h.name, h.netns_path)])
        plen = next((a.prefixlen for a in addrs if a.address == h.vtep), 24)
        nets.add(ipaddress.ip_interface(f"{h.vtep}/{plen}").network)
    if len(nets) != 1:
        raise UsageError(
            f"the VTEPs are on several subnets ({', '.join(sorted(map(str, nets)))})",
            hint="an ovlab lab has one underlay: import the hosts of one subnet",
        )
    mtus = [k.vtep_if.mtu for k in g.kernels.values() if k.vtep_if]
    return str(nets.pop()), max(mtus) if mtus else 1500


def topology(name: str, g: Any, subnet: str, mtu: int) -> str:
    """topology.yml for the hosts."""
    lines = [
        f"# Imported from Docker hosts {', '.join(h.name for h in g.hosts)} ({g.source})",
        f"name: {name}",
        "underlay:",
        f"  subnet: {subnet}",
        f"  mtu: {mtu}",
        "nodes:",
    ]
    for i, h in enumerate(g.hosts):
        group = "consul_servers" if i == 0 else "consul_clients"
        lines += [f"  {_label(h.name)}:", f"    eth1: {h.vtep}", f"    groups: [{group}]"]
    return "\n".join(lines) + "\n"


def _containers(snap: Snapshot, names: dict[str, str]) -> list[dict[str, str]]:
    """Endpoints that are containers (not swarm's load-balancer endpoints), by network
    then IP: the order that makes ovlab's IPAM hand out the same addresses."""
    out = []
    for net in sorted(snap.networks.values(), key=lambda n: n.vni):
        for e in snap.endpoints_of(net.id):
            if e.name.startswith("lb/") or e.host not in names:
                continue
            out.append(
                {
                    "name": _label(e.name),
                    "network": net.name,
                    "host": names[e.host],
                    "ip": e.ip,
                    "mac": e.mac,
                }
            )
    return out


def setup_script(lab: str, out: Path, snap: Snapshot, containers: list[dict[str, str]]) -> str:
    """setup.sh: networks, containers, then the kernel tables as found."""
    q = shlex.quote
    lines = ["#!/bin/sh", f"# Run after: ovlab lab up {q(str(out))} --provision", "set -e"]
    for net in sorted(snap.networks.values(), key=lambda n: n.vni):
        lines.append(
            f"ovlab network create {q(net.name)} --subnet {q(net.subnet)} --lab {q(lab)}"
            f"  # Docker's VNI {net.vni}"
        )
    for c in containers:
        lines.append(
            f"ovlab run -d --name {q(c['name'])} --net {q(c['network'])} "
            f"--node {q(c['host'])} --lab {q(lab)}  # {c['ip']} {c['mac']}"
        )
    lines.append(f"ovlab docker replay {q(str(out))}")
    return "\n".join(lines) + "\n"


def import_hosts(specs: list[str], out: Path, name: str | None = None) -> dict[str, Any]:
    """Read the Docker hosts and write the lab directory; a summary of what was written."""
    from toolkit.lab.names import validate_lab_name

    if name is not None:
        validate_lab_name(name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not an empty directory", hint="pass -o with a new directory")
    g = gather(specs)
    lab = validate_lab_name(name or _label(f"docker-{g.hosts[0].name}")[:20].rstrip("-"))
    subnet, mtu = _underlay(g)
    report = judge(g.hosts, g.kernels, g.snap, g.source)
    names = {h.name: _label(h.name) for h in g.hosts}
    containers = _containers(g.snap, names)
    doc = {
        "lab": lab,
        "source": g.source,
        "hosts": [
            {
                "name": names[h.name],
                "docker_name": h.name,
                "vtep": h.vtep,
                "version": h.version,
                "exec_root": h.exec_root,
            }
            for h in g.hosts
        ],
        "networks": [
            {
                "id": n.id,
                "name": n.name,
                "subnet": n.subnet,
                "gateway": n.gateway,
                "vni": n.vni,
                "netns": netns_name(n.id),
            }
            for n in g.snap.networks.values()
        ],
        "containers": containers,
        "findings": [f.to_dict() for f in report.findings],
        "kernel": {names[h]: tables for h, tables in report.kernel.items()},
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "topology.yml").write_text(topology(lab, g, subnet, mtu))
        (out / "docker.json").write_text(json.dumps(doc, indent=1) + "\n")
        script = out / "setup.sh"
        script.write_text(setup_script(lab, out, g.snap, containers))
        script.chmod(0o755)
    except OSError as exc:
        raise OvlabError(f"cannot write the lab to {out}: {exc.strerror}") from None
    return {
        "lab": lab,
        "dir": str(out),
        "vms": list(names.values()),
        "networks": doc["networks"],
        "containers": containers,
        "findings": len(report.findings),
    }


def _vxlan0_tables(
    t: dict[str, list[dict[str, Any]]],
) -> tuple[set[tuple[str, str, str]], dict[str, str], dict[str, int]]:
    """An overlay namespace's vxlan0 FDB (mac, dst, state), PERMANENT neighbours
    (ip -> mac) and the MTUs of vxlan0 and br0, from netns records as dicts."""
    fdb = {
        (f["mac"], f.get("dst") or "", f.get("state") or "")
        for f in t.get("fdb", [])
        if f.get("dev") == "vxlan0"
        and "self" in f.get("flags", [])
        and f.get("dst")
        and f["mac"] != "00:00:00:00:00:00"
    }
    neigh = {
        n["dst"]: n["lladdr"]
        for n in t.get("neigh", [])
        if n.get("dev") == "vxlan0" and n.get("lladdr") and "PERMANENT" in n.get("state", [])
    }
    mtu = {
        x["name"]: int(x["mtu"]) for x in t.get("links", []) if x.get("name") in ("vxlan0", "br0")
    }
    return fdb, neigh, mtu


def replay_commands(
    found: dict[str, list[dict[str, Any]]], now: dict[str, list[dict[str, Any]]]
) -> list[list[str]]:
    """Commands that turn one namespace's vxlan0 tables from ``now`` into ``found``."""
    want_fdb, want_neigh, want_mtu = _vxlan0_tables(found)
    have_fdb, have_neigh, have_mtu = _vxlan0_tables(now)
    cmds: list[list[str]] = []
    for mac, dst, _state in sorted(have_fdb - want_fdb):
        cmds.append(["bridge", "fdb", "del", mac, "dev", "vxlan0", "dst", dst, "self"])
    for mac, dst, state in sorted(want_fdb - have_fdb):
        cmds.append(
            [
                "bridge",
                "fdb",
                "append",
                mac,
                "dev",
                "vxlan0",
                "dst",
                dst,
                "self",
                *(["permanent"] if state == "permanent" else []),
            ]
        )
    for ip in sorted(set(have_neigh) - set(want_neigh)):
        cmds.append(["ip", "neigh", "del", ip, "dev", "vxlan0"])
    for ip, mac in sorted(want_neigh.items()):
        if have_neigh.get(ip) != mac:
            cmds.append(
                ["ip", "neigh", "replace", ip, "lladdr", mac, "dev", "vxlan0", "nud", "permanent"]
            )
    for dev in ("vxlan0", "br0"):  # vxlan0 first: br0 cannot exceed its ports
        if dev in want_mtu and want_mtu[dev] != have_mtu.get(dev):
            cmds.append(["ip", "link", "set", dev, "mtu", str(want_mtu[dev])])
    return cmds


def replay(out: Path) -> list[str]:
    """Write an imported lab's kernel tables as found into the running lab: per VM and
    network, vxlan0's FDB and neighbour entries and the MTUs of vxlan0 and br0. The
    commands run, as shell lines."""
    import subprocess

    from toolkit.docker.kernel import overlay_ns
    from toolkit.lab import registry
    from toolkit.overlay import client

    try:
        doc = json.loads((out / "docker.json").read_text())
    except (OSError, ValueError):
        raise UsageError(
            f"{out} holds no docker import (no readable docker.json)",
            hint="write one with 'ovlab docker import -o DIR'",
        ) from None
    lab = doc["lab"]
    snap = client.snapshot(lab, timeout=20.0)
    vms = {vm.node: vm for vm in registry.vms(lab)}
    done: list[str] = []
    for net in doc["networks"]:
        mine = snap.network_by_name(net["name"])
        if mine is None:
            raise UsageError(
                f"lab {lab} has no network {net['name']!r}", hint=f"run {out}/setup.sh"
            )
        for node, tables in doc["kernel"].items():
            found = tables.get(net["netns"])
            vm = vms.get(node)
            if found is None or vm is None:
                continue
            path = vm.overlay_ns(mine.ns)
            now = overlay_ns(node, mine.ns, path)
            if now.error:
                raise OvlabError(f"{lab}/{node}: cannot read {mine.ns}: {now.error}")
            now_d = {k: [r.to_dict() for r in getattr(now, k)] for k in ("links", "neigh", "fdb")}
            for cmd in replay_commands(found, now_d):
                argv = ["nsenter", f"--net={path}", *cmd]
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                if p.returncode != 0:
                    raise OvlabError(f"replay on {node}: {shlex.join(cmd)}: {p.stderr.strip()}")
                done.append(f"{node} {mine.ns}: {shlex.join(cmd)}")
    return done
