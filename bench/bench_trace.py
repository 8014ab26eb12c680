"""`ovlab trace` (no --confirm) on the ten-VM lab against a shell script of iproute2 commands
that gathers the same facts in the same namespaces: whole-process time, median of 7.

The lab is a renamed copy of labs/ten-vm (3 Consul servers, 7 clients), provisioned here
and taken down here, with 20 containers on one overlay network spread round-robin over the
VMs. The trace goes from a container on lab-vm-1 to one on lab-vm-2 and back. The baseline
is what a person types for that path (`nsenter --net=… ip route get`, `ip neigh get`,
`bridge fdb get`, `ip -d link show vxlan0`, the underlay `ip route get`, `nft -j list
ruleset`, the UDP sockets), both directions, as one bash script. Target: trace < 300 ms.

ovlab runs with byte-code caching on (as an installed wheel has it): with
PYTHONDONTWRITEBYTECODE every run compiles every module again, which alone costs more
than the trace.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import OVLAB, ROOT, members_alive, ovlab, renamed_topology, wait_until

from toolkit.lab import registry
from toolkit.overlay import api
from toolkit.overlay.locate import containers
from toolkit.overlay.model import netns_name

TARGET = 0.300
N_CONTAINERS = 20
RUNS = 7


def start_containers(lab: str) -> None:
    vms = [v for v in registry.vms(lab) if v.alive]

    def run(i: int) -> None:
        api.call(vms[i % len(vms)].agent_socket, "run", name=f"bt-{i:03d}", network="dev", cmd=[])

    run(0)  # creates the network
    with ThreadPoolExecutor(len(vms)) as pool:
        list(pool.map(run, range(1, N_CONTAINERS)))


def baseline_script(lab: str, a: str, b: str) -> str:
    """The same facts by hand: iproute2 in each namespace the path crosses, both ways."""
    snap = api.call(next(v for v in registry.vms(lab) if v.alive).agent_socket, "snapshot")
    eps = {e["name"]: e for e in snap["endpoints"]}
    vms = {v.node: v for v in registry.vms(lab)}
    pids = {c.name: c.pid for c in containers() if c.lab == lab}
    port = 4789
    lines = ["set +e"]
    for src, dst in ((a, b), (b, a)):
        s, d = eps[src], eps[dst]
        sv, dv = vms[s["host"]], vms[d["host"]]
        ns = netns_name(s["network"])
        ctr = f"nsenter --net=/proc/{pids[src]}/ns/net"
        ovl = f"nsenter --net={sv.overlay_ns(ns)}"
        far = f"nsenter --net={dv.overlay_ns(ns)}"
        lines += [
            f"{ctr} ip route get {d['ip']} from {s['ip']}",
            f"{ctr} ip neigh get {d['ip']} dev eth0",
            f"{ovl} ip neigh get {d['ip']} dev vxlan0",
            f"{ovl} bridge fdb get {d['mac']} br br0",
            f"{ovl} ip -d link show vxlan0",
            f"{ovl} bridge fdb get {d['mac']} dev vxlan0 self",
            f"nsenter --net={sv.netns_path} ip route get {d['vtep']} from {s['vtep']}",
            f"nsenter --net={sv.netns_path} ip link show eth1",
            f"nsenter --net={sv.netns_path} nft -j list ruleset",
            f"nsenter --net={dv.netns_path} ip route get {d['vtep']}",
            f"nsenter --net={dv.netns_path} ip link show eth1",
            f"nsenter --net={dv.netns_path} nft -j list ruleset",
            f"grep -i ':{port:04X} ' /proc/{dv.pid}/net/udp",
            f"{far} ip -d link show vxlan0",
            f"{far} bridge fdb get {d['mac']} br br0",
            f"nsenter --net=/proc/{pids[dst]}/ns/net ip link show eth0",
        ]
    return "\n".join(lines) + "\n"


def cpu() -> float:
    """CPU seconds (user + system) of every child waited for so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(
    argv: list[str], stdin: str | None = None
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, CPU seconds (the process and its children), and the result."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    c0, t0 = cpu(), time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env)
    return time.perf_counter() - t0, cpu() - c0, proc


def main() -> None:
    with renamed_topology("ten-vm", "bt") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 10), 120)
        start_containers(lab)
        a, b = "bt-000", "bt-001"  # lab-vm-1 and lab-vm-2: the path crosses the underlay
        script = baseline_script(lab, a, b)
        trace_argv = [*OVLAB, "trace", lab, a, b, "--json"]
        ours, base, ours_cpu, base_cpu = [], [], [], []
        timed(trace_argv)  # warm the page cache (and write the byte-code cache)
        for _ in range(RUNS):
            took, spent, proc = timed(trace_argv)
            if proc.returncode != 0:
                raise SystemExit(f"ovlab trace failed ({proc.returncode}): {proc.stderr.strip()}")
            ours.append(took)
            ours_cpu.append(spent)
            took, spent, _proc = timed(["bash"], script)
            base.append(took)
            base_cpu.append(spent)
        t = json.loads(proc.stdout)
        med, ref = statistics.median(ours), statistics.median(base)
        print(
            f"ovlab trace ({len(t['hops'])} hops, {t['src_vm']} ⇄ {t['dst_vm']}, "
            f"{N_CONTAINERS} containers on 10 VMs)  median {med * 1e3:.0f} ms"
            f"  (min {min(ours) * 1e3:.0f})  target {TARGET * 1e3:.0f} ms: "
            f"{'OK' if med < TARGET else 'MISSED'}"
        )
        print(
            f"baseline: {script.count(chr(10)) - 1} iproute2/nft commands by hand  median "
            f"{ref * 1e3:.0f} ms  →  baseline/trace {ref / med:.2f}x"
        )
        mc, rc = statistics.median(ours_cpu), statistics.median(base_cpu)
        print(
            f"CPU (user+sys, less swayed by a busy machine): trace {mc * 1e3:.0f} ms, "
            f"baseline {rc * 1e3:.0f} ms  →  {rc / mc:.1f}x"
        )


if __name__ == "__main__":
    main()
