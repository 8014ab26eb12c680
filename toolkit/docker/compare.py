"""Judge Docker hosts with ovlab's doctor: the control plane (classic store or NetworkDB)
becomes the doctor's store snapshot, each Docker host a VM, its overlay namespaces the
VM's; then the doctor's own checks run unchanged (toolkit.doctor.tables: FDB and
neighbour entries against ``overlay.model.remotes_for``; toolkit.doctor.vni: vxlan0;
toolkit.doctor.mtu: the MTU chain). Their fix commands, written for lab VMs, are turned
into commands for the Docker host (``nsenter --net=<its overlay namespace> …``).

Two things differ from an ovlab lab, both from libnetwork: vxlan0 has no ``local`` (the
route to each peer VTEP picks the source, moby/moby#53004), and the VTEP is the daemon's
advertise address, not an ``eth1``.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field, replace
from typing import Any

from toolkit.docker.discover import DockerHost
from toolkit.docker.kernel import HostKernel
from toolkit.doctor import mtu, tables, vni
from toolkit.doctor.findings import Finding, exit_code, sort_key
from toolkit.doctor.view import LabView, VmView
from toolkit.host import paths
from toolkit.overlay.model import Snapshot, netns_name

LAB = "docker"  # the label the doctor's checks put in Finding.lab; replaced by host names


@dataclass(frozen=True)
class DockerReport:
    """Findings over a set of Docker hosts, what was looked at, and the kernel tables read."""

    hosts: tuple[str, ...]
    source: str  # where the control plane came from: "etcd://…", "consul://…", "networkdb"
    findings: tuple[Finding, ...]
    checked: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    kernel: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = field(default_factory=dict)
    networks: tuple[dict[str, Any], ...] = ()

    @property
    def lab(self) -> str:
        """How the text renderer names what was checked."""
        return "docker " + ", ".join(self.hosts)

    @property
    def exit_code(self) -> int:
        """0 clean (or info only), 1 warnings, 4 errors, 5 critical."""
        return exit_code(list(self.findings))

    def to_dict(self) -> dict[str, Any]:
        """JSON twin: hosts, source, networks, findings, and per host and namespace the
        kernel tables as ``ovlab netns`` records (links, vxlan, neigh, fdb)."""
        return {
            "hosts": list(self.hosts),
            "source": self.source,
            "exit_code": self.exit_code,
            "checked": self.checked,
            "seconds": round(self.seconds, 3),
            "networks": list(self.networks),
            "findings": [f.to_dict() for f in self.findings],
            "kernel": self.kernel,
        }


def build_view(hosts: list[DockerHost], kernels: dict[str, HostKernel], snap: Snapshot) -> LabView:
    """The doctor's LabView of Docker hosts: one VM per daemon (node = its Name)."""
    vms = []
    containers = []
    for h in hosts:
        k = kernels[h.name]
        vm = VmView(h.name, h.pid, True, f"{h.vtep}/32", (), k.vtep_if, None, None)
        vm.overlay = dict(k.overlay)
        vms.append(vm)
        containers += [c for c in k.containers if c.eth0 is not None and _on_overlay(c, snap)]
    return LabView(LAB, None, vms, snap, None, containers, None)


def _on_overlay(c: Any, snap: Snapshot) -> bool:
    """Only containers with an endpoint in a checked overlay network are on its MTU chain."""
    return any(e.name == c.name and e.host == c.host for e in snap.endpoints.values())


def _vxlan_source(
    view: LabView, hosts: dict[str, DockerHost], kernels: dict[str, HostKernel], f: Finding
) -> list[Finding]:
    """vxlan0 without ``local`` is how Docker makes it: the route to each peer VTEP picks
    the outer source. Fine while that source is the host's VTEP (peers' FDB entries name
    it); an error where routing picks another address."""
    h = hosts[f.vm or ""]
    out = []
    for peer, src in sorted(kernels[h.name].route_src.items()):
        if src == h.vtep:
            continue
        out.append(
            replace(
                f,
                severity="error",
                check="vxlan-source",
                summary=f"VXLAN to {peer} leaves with source {src or 'none'}, not the VTEP "
                f"{h.vtep} the peers know: vxlan0 has no local, the route decides",
                expected=f"route to {peer} src {h.vtep}",
                found=f"src {src or 'none'}",
                fix=_in_host(
                    h,
                    "ip",
                    "route",
                    "replace",
                    f"{peer}/32",
                    "dev",
                    _dev(kernels[h.name]),
                    "src",
                    str(h.vtep),
                ),
            )
        )
    if not out:
        peers = ", ".join(sorted(kernels[h.name].route_src)) or "no peers"
        out.append(
            replace(
                f,
                severity="info",
                check="vxlan-no-local",
                summary=f"vxlan0 has no local (as Docker makes it); routing picks {h.vtep} "
                f"toward {peers}",
                expected=None,
                found=None,
                fix=None,
            )
        )
    return out


def _dev(k: HostKernel) -> str:
    return k.vtep_if.name if k.vtep_if else "eth0"


def _in_host(h: DockerHost, *argv: str) -> str:
    """A command run in the Docker host's own network namespace."""
    if h.same_mntns and h.pid and _root_netns(h):
        return shlex.join(argv)
    return shlex.join(["nsenter", f"--net={h.netns_path}", *argv])


def _root_netns(h: DockerHost) -> bool:
    import os

    try:
        return os.stat(h.netns_path).st_ino == os.stat(paths.proc_ns("self", "net")).st_ino
    except OSError:
        return False


def _in_overlay(h: DockerHost, ns: str, *argv: str) -> str:
    """A command run inside one of the host's overlay namespaces (path openable here)."""
    return shlex.join(["nsenter", f"--net={h.reach(f'{h.netns_dir}/{ns}')}", *argv])


def _rejoin(h: DockerHost, view: LabView, netns: str | None) -> str:
    """Docker's way to rebuild an overlay namespace: the last local endpoint leaves, the
    next join makes it anew (restart that network's containers on the host)."""
    net = next((n for n in view.networks if netns_name(n.id) == netns), None)
    names = sorted(
        {
            e.name
            for e in view.endpoints
            if e.host == h.name and (net is None or e.network == net.id)
        }
    )
    cli = (
        ["docker", "-H", f"unix://{h.sock}", "restart", *names]
        if names
        else ["docker", "-H", f"unix://{h.sock}", "network", "ls"]
    )
    return shlex.join(cli)


def translate(
    f: Finding,
    hosts: dict[str, DockerHost],
    view: LabView,
    container_ns: dict[tuple[str, str], str] | None = None,
) -> Finding:
    """A doctor finding with its lab-VM fix turned into a command for the Docker host."""
    h = hosts.get(f.vm or "")
    fix = f.fix
    if h is None or not fix:
        return f
    argv = shlex.split(fix)
    if " ".join(argv[:2]) == "ovlab exec" and "--" in argv:  # the doctor's in_vm form
        cmd = argv[argv.index("--") + 1 :]
        if "supervisorctl" in (cmd[0] if cmd else ""):
            fix = _rejoin(h, view, f.netns)
        elif cmd[:1] == ["nsenter"] and cmd[1].startswith(f"--net={paths.DOCKER_NETNS_DIR}/"):
            fix = _in_overlay(h, cmd[1].rsplit("/", 1)[1], *cmd[2:])
        elif argv[2] == "--lab":  # a container's own command (mtu-container)
            where = (container_ns or {}).get((h.name, argv[4]))  # --lab LAB NAME
            if where:
                fix = shlex.join(["nsenter", f"--net={where}", *cmd])
        else:
            cmd = [_dev_of(h, view) if a == "eth1" else a for a in cmd]
            fix = _in_host(h, *cmd)
    return replace(f, fix=fix)


def _dev_of(h: DockerHost, view: LabView) -> str:
    vm = view.vm(h.name)
    return vm.eth1.name if vm and vm.eth1 else "eth0"


def judge(
    hosts: list[DockerHost],
    kernels: dict[str, HostKernel],
    snap: Snapshot,
    source: str,
    t0: float | None = None,
) -> DockerReport:
    """Run the doctor's checks over the Docker hosts and return the report."""
    t0 = time.monotonic() if t0 is None else t0
    view = build_view(hosts, kernels, snap)
    by_name = {h.name: h for h in hosts}
    found: list[Finding] = []
    for f in vni.check(view) + tables.check(view) + mtu.check(view):
        if f.check == "vxlan-local" and f.found == "no local":
            found += _vxlan_source(view, by_name, kernels, f)
        elif f.check == "vxlan-learning":
            # libnetwork creates vxlan0 with learning on (ov_utils.go, createVxlan): as made.
            found.append(
                replace(
                    f,
                    severity="info",
                    summary="vxlan0 learns source MACs from the wire (as Docker makes it)",
                    fix=None,
                )
            )
        elif f.check == "vxlan-local":
            continue  # a local other than the advertise address: the route check judges it
        else:
            found.append(f)
    boxes = {(h, n): p for h, k in kernels.items() for n, p in k.container_ns.items()}
    findings = [translate(f, by_name, view, boxes) for f in found]
    unique = list(dict.fromkeys(findings))
    kernel = {
        h.name: {
            ns.name: {
                "links": [r.to_dict() for r in ns.links],
                "vxlan": [r.to_dict() for r in ns.vxlan],
                "neigh": [r.to_dict() for r in ns.neigh],
                "fdb": [r.to_dict() for r in ns.fdb],
            }
            for ns in kernels[h.name].overlay.values()
        }
        for h in hosts
    }
    checked = {
        "vms": len(hosts),
        "containers": len(view.containers),
        "networks": len(view.networks),
        "endpoints": len(view.endpoints),
        "overlay_namespaces": sum(len(k.overlay) for k in kernels.values()),
    }
    nets = tuple(
        {"id": n.id, "name": n.name, "subnet": n.subnet, "gateway": n.gateway, "vni": n.vni}
        for n in view.networks
    )
    return DockerReport(
        tuple(h.name for h in hosts),
        source,
        tuple(sorted(unique, key=sort_key)),
        checked,
        time.monotonic() - t0,
        kernel,
        nets,
    )
