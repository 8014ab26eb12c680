"""No IP, MAC or VTEP twice in the lab; every container's eth0 is what its endpoint says."""

from __future__ import annotations

from collections import defaultdict

from toolkit.doctor.findings import Finding
from toolkit.doctor.view import LabView


def check(view: LabView) -> list[Finding]:
    """Duplicates in the store and in the kernel, and eth0s that differ from the store."""
    lab, out = view.lab, []
    by_ip: dict[str, list[str]] = defaultdict(list)
    by_mac: dict[str, list[str]] = defaultdict(list)
    for ep in view.endpoints:
        by_ip[ep.ip].append(f"{ep.name}@{ep.host}")
        by_mac[ep.mac].append(f"{ep.name}@{ep.host}")
    # What the containers really carry: a hand-set address collides although the store is clean.
    for c in view.containers:
        if c.eth0 is None:
            continue
        tag = f"{c.name}@{c.host} (eth0)"
        if c.eth0.ipv4:
            by_ip[c.eth0.ipv4].append(tag)
        by_mac[c.eth0.mac].append(tag)
    for kind, table in (("IP", by_ip), ("MAC", by_mac)):
        for value, users in sorted(table.items()):
            names = {u.split(" ")[0] for u in users}
            if len(names) > 1:
                out.append(
                    Finding(
                        "error",
                        f"duplicate-{kind.lower()}",
                        f"{kind} {value} is used twice",
                        lab,
                        expected="one owner",
                        found=", ".join(sorted(users)),
                        fix=f"ovlab rm {sorted(names)[-1].split('@')[0]} --lab {lab}",
                    )
                )
    vteps: dict[str, list[str]] = defaultdict(list)
    for vm in view.live_vms:
        vteps[vm.ip].append(vm.node)
    for ip, nodes in vteps.items():
        if len(nodes) > 1:
            out.append(
                Finding(
                    "critical",
                    "duplicate-vtep",
                    f"VTEP {ip} is used by several VMs",
                    lab,
                    expected="one VM per underlay address",
                    found=", ".join(nodes),
                )
            )
    for ep in view.endpoints:
        ctr = view.container(ep.host, ep.name)
        if ctr is None or ctr.eth0 is None:
            continue
        if (ctr.eth0.ipv4, ctr.eth0.mac) != (ep.ip, ep.mac):
            out.append(
                Finding(
                    "error",
                    "eth0-mismatch",
                    f"container {ctr.name}'s eth0 differs from its endpoint",
                    lab,
                    ctr.host,
                    f"container {ctr.name}",
                    "eth0",
                    f"{ep.ip} {ep.mac}",
                    f"{ctr.eth0.ipv4} {ctr.eth0.mac}",
                    f"ovlab exec --lab {lab} {ctr.name} -- ip link set eth0 address {ep.mac}",
                )
            )
    return out
