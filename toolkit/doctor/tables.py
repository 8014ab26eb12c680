"""Neighbour and FDB entries on vxlan0: one per remote endpoint, every attribute that
decides delivery (FDB: device, ``self``, dst, port, VNI, permanence; neighbour: lladdr,
PERMANENT), and no stale ones.

What the store implies for a VM comes from the same pure function the agent programs
the kernel with (``toolkit.overlay.model.remotes_for``): every endpoint of the network
on another host gets ``IP lladdr MAC PERMANENT`` and ``MAC dst VTEP self permanent``
on vxlan0 of the network's namespace.
"""

from __future__ import annotations

from toolkit.doctor.findings import Finding, in_overlay, supervisor
from toolkit.doctor.view import LabView, OverlayNs, VmView
from toolkit.host import paths
from toolkit.netns.records import Fdb, Vxlan
from toolkit.overlay.model import Network, Remote, netns_name, remotes_for

ZERO_MAC = "00:00:00:00:00:00"


def kernel_tables(ns: OverlayNs) -> tuple[dict[str, str], dict[str, set[str]]]:
    """vxlan0's permanent neighbours (ip -> mac) and FDB remotes (mac -> {dst})."""
    neigh = {
        n.dst: n.lladdr
        for n in ns.neigh
        if n.dev == "vxlan0" and n.dst and n.lladdr and "PERMANENT" in n.state
    }
    fdb: dict[str, set[str]] = {}
    for f in _remotes(ns):
        if f.dst:
            fdb.setdefault(str(f.mac), set()).add(f.dst)
    return neigh, fdb


def _remotes(ns: OverlayNs) -> list[Fdb]:
    """vxlan0's own FDB entries for unicast MACs (``self``: the tunnel's table, not br0's)."""
    return [
        f for f in ns.fdb if f.dev == "vxlan0" and "self" in f.flags and f.mac and f.mac != ZERO_MAC
    ]


def check(view: LabView) -> list[Finding]:
    """Missing, wrong and stale neighbour/FDB entries, and missing or stale namespaces."""
    if view.snapshot is None:
        return []
    out: list[Finding] = []
    eps = view.endpoints
    for vm in view.live_vms:
        mine = {ep.network for ep in eps if ep.host == vm.node}
        for net in view.networks:
            ns_name = netns_name(net.id)
            ns = vm.overlay.get(ns_name)
            if net.id not in mine:
                continue
            if ns is None:
                out.append(
                    Finding(
                        "error",
                        "netns-missing",
                        f"network {net.name} has local endpoints but no namespace",
                        view.lab,
                        vm.node,
                        ns_name,
                        expected=f"{paths.DOCKER_NETNS_DIR}/{ns_name}",
                        found="missing",
                        fix=supervisor(view.lab, vm.node, "restart", "ovlab-agent"),
                    )
                )
                continue
            if ns.error:
                out.append(
                    Finding(
                        "error",
                        "netns-unreadable",
                        "cannot read the overlay namespace",
                        view.lab,
                        vm.node,
                        ns_name,
                        found=ns.error,
                    )
                )
                continue
            vx = next((v for v in ns.vxlan if v.name == "vxlan0"), None)
            if vx is None or vx.id != net.vni or vx.port != view.vxlan_port:
                # The vxlan0 check reports it; its fix rebuilds vxlan0 with all its entries.
                continue
            out += _compare(view, vm, net, ns, vx)
        if vm.agent is None:
            continue  # its agent owns these namespaces; the agent finding says to start it
        known = {netns_name(n.id) for n in view.networks if n.id in mine}
        for name in sorted(set(vm.overlay) - known):
            out.append(
                Finding(
                    "warning",
                    "netns-stale",
                    "overlay namespace without a local endpoint (it may hold a VNI)",
                    view.lab,
                    vm.node,
                    name,
                    expected="no namespace",
                    found="present",
                    fix=f"ovlab exec {view.lab}/{vm.node} -- sh -c "
                    f"'umount {paths.DOCKER_NETNS_DIR}/{name}; rm {paths.DOCKER_NETNS_DIR}/{name}'",
                )
            )
    return out


def _compare(view: LabView, vm: VmView, net: Network, ns: OverlayNs, vx: Vxlan) -> list[Finding]:
    lab, out = view.lab, []
    want = remotes_for(view.store, vm.node, net.id)
    local_ips = {e.ip for e in view.store.endpoints_of(net.id) if e.host == vm.node}
    port, vni = view.vxlan_port, net.vni

    def finding(sev: str, check: str, summary: str, exp: str, found: str, *fix: str) -> None:
        out.append(_on_vxlan0(lab, vm, ns, sev, check, summary, exp, found, fix))

    entries = _remotes(ns)
    for r in want:
        out += _fdb_for(view, vm, ns, vx, r, [f for f in entries if f.mac == r.mac], port, vni)
    wanted_macs = {r.mac for r in want}
    for f in entries:
        if f.mac in wanted_macs or not f.dst:
            continue
        finding(
            "warning",
            "fdb-stale",
            f"stale FDB entry: no endpoint of {net.name} on another VM has MAC {f.mac}",
            "no entry",
            _entry(f),
            *_fdb_del(str(f.mac), f.dst, f.port, f.vni),
        )
    neigh = {n.dst: n for n in ns.neigh if n.dev == "vxlan0" and n.dst}
    for r in want:
        entry = f"{r.ip} lladdr {r.mac} PERMANENT"
        fix = ("ip", "neigh", "replace", r.ip, "lladdr", r.mac, "dev", "vxlan0", "nud", "permanent")
        n = neigh.get(r.ip)
        state = "/".join(n.state) if n else ""
        if n is None or not n.lladdr:
            finding(
                "error",
                "neigh-missing",
                f"no neighbour entry for {r.name} on {r.host}: ARP for {r.ip} goes unanswered",
                entry,
                f"{r.ip} {state}" if n else "no entry",
                *fix,
            )
        elif n.lladdr != r.mac:
            finding(
                "error",
                "neigh-wrong-mac",
                f"wrong neighbour entry for {r.name} on {r.host}: its frames get another MAC",
                entry,
                f"{r.ip} lladdr {n.lladdr} {state}",
                *fix,
            )
        elif "PERMANENT" not in n.state:
            # vxlan0's ARP proxy answers only from a connected entry (PERMANENT, NOARP,
            # REACHABLE: vxlan_core.c, arp_reduce); a REACHABLE one goes STALE within
            # reachable_time, and from then on the containers' ARP for it is unanswered.
            live = bool({"REACHABLE", "NOARP"} & set(n.state))
            finding(
                "warning" if live else "error",
                "neigh-not-permanent",
                f"neighbour entry for {r.name} on {r.host} is {state}, not PERMANENT: "
                + (
                    "once it goes STALE, vxlan0 stops answering ARP for it"
                    if live
                    else f"vxlan0 does not answer ARP for {r.ip}"
                ),
                entry,
                f"{r.ip} lladdr {n.lladdr} {state}",
                *fix,
            )
    wanted_ips = {r.ip for r in want}
    for ip, n in sorted(neigh.items()):
        if ip in wanted_ips or not n.lladdr or "PERMANENT" not in n.state:
            continue  # transient entries of unused IPs are the kernel's own (l3miss)
        # An IP now used by a container on this VM: vxlan0's ARP proxy answers for it too.
        sev = "error" if ip in local_ips else "warning"
        finding(
            sev,
            "neigh-stale",
            f"stale neighbour entry: no endpoint of {net.name} on another VM has {ip}",
            "no entry",
            f"{ip} lladdr {n.lladdr} PERMANENT",
            "ip",
            "neigh",
            "del",
            ip,
            "dev",
            "vxlan0",
        )
    return out


def _on_vxlan0(
    lab: str,
    vm: VmView,
    ns: OverlayNs,
    sev: str,
    check: str,
    summary: str,
    expected: str,
    found: str,
    fix: tuple[str, ...],
) -> Finding:
    """A finding about vxlan0 in ``ns`` on ``vm``; ``fix`` is run inside that namespace."""
    return Finding(
        sev,
        check,
        summary,
        lab,
        vm.node,
        ns.name,
        "vxlan0",
        expected,
        found,
        in_overlay(lab, vm.node, ns.name, *fix),
    )


def _entry(f: Fdb) -> str:
    """An FDB entry as ``bridge fdb show`` prints it (port/VNI only where not vxlan0's)."""
    parts = [str(f.mac), "dst", str(f.dst)]
    if f.port:
        parts += ["port", str(f.port)]
    if f.vni is not None:
        parts += ["vni", str(f.vni)]
    if f.via:
        parts += ["via", f.via]
    parts.append("self")
    parts.append(f.state or "dynamic")
    return " ".join(parts)


def _fdb_for(
    view: LabView,
    vm: VmView,
    ns: OverlayNs,
    vx: Vxlan,
    r: Remote,
    have: list[Fdb],
    port: int,
    vni: int,
) -> list[Finding]:
    """Findings for one remote endpoint's FDB entry: each destination, its port, its VNI,
    its state, and entries for its MAC on other devices.

    An entry's destination without NDA_PORT/NDA_VNI uses vxlan0's own dstport and VNI
    (the kernel leaves them out when equal: vxlan_core.c, vxlan_fdb_info).
    """
    lab, out = view.lab, []
    entry = f"{r.mac} dst {r.vtep} self permanent"
    replace = ("bridge", "fdb", "replace", r.mac, "dev", "vxlan0", "dst", r.vtep, "self")
    if len(have) > 1:
        # replace rewrites only the first destination: drop the entry whole and write it again.
        script = (
            f"bridge fdb del {r.mac} dev vxlan0 self; "
            f"bridge fdb append {r.mac} dev vxlan0 dst {r.vtep} self permanent"
        )
        fix: tuple[str, ...] = ("sh", "-c", script)
    else:
        fix = (*replace, "permanent")

    def finding(sev: str, check: str, summary: str, found: str, *cmd: str) -> None:
        out.append(_on_vxlan0(lab, vm, ns, sev, check, summary, entry, found, cmd or fix))

    def wrong(f: Fdb) -> list[tuple[str, str, str]]:
        """(check, what is wrong, what it does) for each attribute of a destination."""
        got = []
        if f.dst != r.vtep:
            got.append(("fdb-wrong-vtep", f"dst {f.dst}", f"for VTEP {f.dst} (not {r.vtep})"))
        if (f.vni if f.vni is not None else vx.id) != vni:
            got.append(("fdb-wrong-vni", f"vni {f.vni}", f"with VNI {f.vni} (not {vni})"))
        if (f.port or vx.port) != port:
            got.append(("fdb-wrong-port", f"port {f.port}", f"to UDP port {f.port} (not {port})"))
        return got

    for f in ns.fdb:
        # The MAC held by another device's table (a static entry on br0 or on a veth):
        # br0 delivers the frames there and vxlan0 never sees them.
        if f.mac == r.mac and f.dev != "vxlan0" and ("self" in f.flags or f.state):
            table = "self" if "self" in f.flags else "master"
            finding(
                "error",
                "fdb-wrong-device",
                f"{r.name}'s MAC sits on {f.dev} ({table}), not vxlan0: its frames never "
                "enter the tunnel",
                f"{f.mac} dev {f.dev} {table} {f.state or 'dynamic'}",
                "bridge",
                "fdb",
                "del",
                r.mac,
                "dev",
                str(f.dev),
                table,
            )
    if not have:
        finding(
            "error",
            "fdb-missing",
            f"no FDB entry for {r.name} on {r.host}: traffic to it is dropped",
            "no entry",
        )
        return out
    good = [f for f in have if not wrong(f)]
    if good:
        for f in have:
            if f in good:
                continue
            finding(
                "error",
                "fdb-extra-dst",
                f"FDB also sends {r.name}'s frames to {f.dst}"
                + (f" port {f.port}" if f.port else "")
                + (f" vni {f.vni}" if f.vni is not None else ""),
                _entry(f),
                *_fdb_del(r.mac, str(f.dst), f.port, f.vni),
            )
    else:
        bad = wrong(have[0])
        finding(
            "error",
            bad[0][0],
            f"FDB entry for {r.name} on {r.host} has {', '.join(b[1] for b in bad)}: "
            f"its frames leave {' '.join(b[2] for b in bad)}",
            "; ".join(_entry(f) for f in have),
        )
    state = have[0].state  # one state per entry, whatever its destinations
    if good and state != "permanent":
        ages = state in ("", "stale")
        finding(
            "warning",
            "fdb-not-permanent",
            f"FDB entry for {r.name} on {r.host} is {state or 'dynamic'}, not permanent: "
            + (
                f"it ages out after {vx.ageing or 300}s without traffic, then frames to it drop"
                if ages
                else "a flush of non-permanent entries removes it"
            ),
            "; ".join(_entry(f) for f in have),
        )
    return out


def _fdb_del(
    mac: str, dst: str, port: int | None = None, vni: int | None = None
) -> tuple[str, ...]:
    """The fix for one destination that must go: `bridge fdb del MAC dev vxlan0 dst VTEP
    [port P] [vni V] self` (the kernel matches a destination by all three)."""
    extra = (("port", str(port)) if port else ()) + (("vni", str(vni)) if vni is not None else ())
    return ("bridge", "fdb", "del", mac, "dev", "vxlan0", "dst", dst, *extra, "self")
