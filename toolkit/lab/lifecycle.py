"""Lab lifecycle: bring a topology up as namespace VMs, report status, tear down.

``up`` records every object in the lab's state file before creating it, so a
crash at any point leaves enough for ``down`` to finish the job.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import OvlabError, UsageError
from toolkit.host import paths, procs
from toolkit.lab import capacity, cleanup, registry, state
from toolkit.lab.impair import Impairment
from toolkit.lab.model import Node, Topology
from toolkit.lab.names import ifname
from toolkit.lab.records import InstallRecord, LabRecord, UnderlayRecord, VmRecord
from toolkit.lab.state import install_bin  # noqa: F401  (re-exported)
from toolkit.lab.tags import vm_tag
from toolkit.lab.vm import LabVM

Progress = Callable[[str, int, int], None]  # message, steps done, steps total
BRIDGE = "br-underlay"
WIRE_THREADS = 8  # VMs wired at once (see _create)


@dataclass(frozen=True)
class UpResult:
    """Outcome of ``lab up``."""

    lab: str
    changed: bool
    seconds: float
    rebuilt: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON twin."""
        return {
            "lab": self.lab,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
        }


def _digest(topo: Topology) -> str:
    import json

    return hashlib.sha256(
        json.dumps(topo.to_dict(), sort_keys=True, default=str).encode()
    ).hexdigest()


def is_healthy(lab: LabRecord) -> bool:
    """True when the lab finished ``up`` and every VM's init still runs (a multi-host lab's
    VMs run on its hosts: ``lab status`` and the doctor ask them)."""
    return (
        lab.phase == "up"
        and bool(lab.nodes)
        and all(registry.alive(n) for n in lab.nodes if n.host is None)
    )


def up(topo: Topology, progress: Progress | None = None) -> UpResult:
    """Bring the lab up; a second call on a healthy lab changes nothing."""
    t0 = time.monotonic()
    say = progress or (lambda msg, done, total: None)
    digest = _digest(topo)
    where = str(topo.path.resolve()) if topo.path else "<string>"
    existing = state.load(topo.name)
    rebuilt = False
    if existing:
        if existing.topology not in (None, where) and existing.digest != digest:
            raise UsageError(
                f"lab name {topo.name!r} is already taken by {existing.topology}",
                hint=f"rename the lab in {where}, or run 'ovlab lab down {topo.name}' first",
            )
        if existing.digest == digest and is_healthy(existing):
            return UpResult(topo.name, changed=False, seconds=time.monotonic() - t0)
        if existing.digest not in (None, digest) and existing.phase == "up":
            raise UsageError(
                f"lab {topo.name!r} is up from an older version of {where}",
                hint=f"run 'ovlab lab down {topo.name}' and then 'up' again to apply the change",
            )
        capacity.check(topo)  # refuses (exit 3) before anything is cleared or made
        # Half-made or a VM died: clear what is there and build afresh.
        say("clearing a half-made lab", 0, 1)
        report = cleanup.teardown(topo.name)
        if report.errors:
            raise OvlabError(f"could not clear lab {topo.name}: {'; '.join(report.errors)}")
        rebuilt = True
    else:
        capacity.check(topo)
    _create(topo, where, digest, say)
    return UpResult(topo.name, changed=True, seconds=time.monotonic() - t0, rebuilt=rebuilt)


def _fault(point: str) -> None:
    """Die like a crash at a named point; tests use it to prove teardown copes."""
    if os.environ.get("OVLAB_FAULT_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _create(topo: Topology, where: str, digest: str, say: Progress) -> None:
    from toolkit.lab import underlay

    n = len(topo.nodes)
    total = 2 + 3 * n
    done = 0
    hosts = {node.name: str(node.eth1.ip) for node in topo.nodes}
    ul_name = cleanup.underlay_ns_name(topo.name)
    layers_root = state.lab_dir(topo.name) / "vms"
    with state.locked(topo.name, create=True) as st:
        st.data.update(
            topology=where,
            digest=digest,
            vars=topo.vars,  # Ansible variables for the lab's inventory
            # The install whose supervisord and agent the VMs run (visible inside them).
            install=InstallRecord(str(Path(sys.executable).parent)).to_json(),
            phase="creating",
            underlay=UnderlayRecord(
                ul_name,
                f"{paths.NAMED_NETNS_DIR}/{ul_name}",
                BRIDGE,
                str(topo.underlay.subnet),
                topo.underlay.mtu,
            ).to_json(),
            nodes={},
        )
        st.record("up-start")
        say(f"underlay namespace {ul_name}", done, total)
        ul_path = underlay.create_netns(ul_name)
        underlay.create_bridge(ul_path, BRIDGE, topo.underlay.mtu)
        done += 1
        _fault("underlay")

        vms: list[LabVM] = []
        records: dict[str, VmRecord] = {}
        # Every VM is recorded (name, tag, layers) in one write before any is started, and
        # the pids in one write after: teardown finds a VM's processes by the tag in their
        # command lines, so a crash in between leaves nothing it cannot name. One fsync'd
        # write per VM (twice) made a 100-VM 'up' spend seconds rewriting a growing file.
        for node in topo.nodes:
            vm = LabVM(topo.name, node.name, layers_root / node.name, hosts=hosts)
            records[node.name] = VmRecord(
                node.name,
                eth1=str(node.eth1),
                host_if=ifname("ul-", node.name),
                layers=str(vm.layers),
                tag=vm_tag(topo.name, node.name),
                groups=tuple(node.groups),
                impair=node.impair,
                vars=node.vars,
            )
            st.data["nodes"][node.name] = records[node.name].to_json()
            vms.append(vm)
        st.save()
        try:
            for vm in vms:
                vm.prepare()
                vm.start()
                records[vm.name] = records[vm.name]._replace(pid=vm.pid)
                done += 1
                say(f"started {vm.name}", done, total)
        finally:  # the pids of those started, even when a later start fails
            for vm in vms:
                st.data["nodes"][vm.name] = records[vm.name].to_json()
            st.save()
        for vm in vms:
            vm.wait_ready()
            records[vm.name] = rec = records[vm.name]._replace(
                starttime=vm.starttime,
                netns=procs.ns_inode(vm.pid, "net"),
                mntns=procs.ns_inode(vm.pid, "mnt"),
            )
            st.data["nodes"][vm.name] = rec.to_json()
        st.save()
        _fault("started")

        def wire(node_vm: tuple[Node, LabVM]) -> Node:
            node, vm = node_vm
            host_if = records[node.name].host_if
            underlay.attach_vm(ul_path, BRIDGE, vm.pid, host_if, node.eth1, topo.underlay.mtu)
            if not node.impair.is_empty:
                apply_impairment_sides(ul_path, vm.pid, host_if, node.impair)
            return node

        # Each netlink request waits a scheduler round trip for its answer, and a loaded
        # machine makes that ~20 ms: a 100-VM lab spent 20 s here one VM at a time. Each
        # thread opens its own sockets in the namespaces it wires (ns.inside moves only
        # the calling thread); the kernel serialises the changes themselves.
        with ThreadPoolExecutor(max_workers=min(WIRE_THREADS, n)) as pool:
            for node in pool.map(wire, zip(topo.nodes, vms, strict=True)):
                done += 1
                say(f"wired {node.name} eth1 {node.eth1}", done, total)
        _fault("wired")
        for vm in vms:
            vm.wait_services()
            done += 1
            say(f"{vm.name} service manager ready", done, total)
        st.data["phase"] = "up"
        st.record("up-done")
        say("lab up", total, total)


def apply_impairment_sides(ul_path: str, pid: int, host_if: str, imp: Impairment) -> None:
    """Impair both directions of a VM's link: the underlay side and the VM's eth1."""
    from toolkit.lab import underlay

    underlay.set_impairment(ul_path, host_if, imp)
    underlay.set_impairment(paths.proc_ns(pid, "net"), "eth1", imp)


def impair(lab: str, node: str, imp: Impairment) -> dict[str, object]:
    """Change the impairment of one VM's underlay link on a running lab."""
    from toolkit.suggest import did_you_mean

    record = require_up(lab)
    vm = record.node(node)
    if vm is None:
        raise UsageError(
            f"lab {lab!r} has no node {node!r}", hint=did_you_mean(node, record.node_names)
        )
    if record.underlay is None or not vm.pid:
        raise OvlabError(f"lab {lab!r} has no underlay link for {node!r}")  # not after `up`
    apply_impairment_sides(record.underlay.netns_path, vm.pid, vm.host_if, imp)
    with state.locked(lab) as st:
        st.data["nodes"][node]["impair"] = imp.to_dict()
        st.record("impair", node=node, impair=imp.to_dict())
    return {"lab": lab, "node": node, "impair": imp.to_dict()}


def require_up(lab: str) -> LabRecord:
    """The state of a lab that is up, or a one-line error saying what to do.

    Raises UsageError (no such lab), OvlabError (not healthy) or StateError (the state
    file is of another version, or damaged).
    """
    from toolkit.suggest import did_you_mean

    data = state.load(lab)
    if not data:
        raise UsageError(
            f"no lab named {lab!r} is up",
            hint=did_you_mean(lab, state.list_labs()) or "see 'ovlab lab ls'",
        )
    if not is_healthy(data):
        raise OvlabError(
            f"lab {lab!r} is not healthy (phase {data.phase})",
            hint=f"run 'ovlab lab up' on its topology again, or 'ovlab lab down {lab}'",
        )
    return data


def layers_path(lab: str, node: str) -> Path:
    """Where a VM's overlay layers live."""
    return state.lab_dir(lab) / "vms" / node
