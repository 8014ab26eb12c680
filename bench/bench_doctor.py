"""`ovlab doctor` on a ten-VM lab with 100 containers: whole-process time, median of 5.

The lab is a renamed copy of labs/ten-vm (3 Consul servers, 7 clients), provisioned
here and taken down here. 100 containers on one overlay network are spread round-robin
over the VMs (started through each VM's agent API, ten at a time). The doctor then
checks everything, including its traffic probes: 90 underlay datagrams each way-size
and 90 cross-VM pings. Target: under 3 s, and a clean report.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import OVLAB, ROOT, members_alive, ovlab, renamed_topology, wait_until

from toolkit.lab import registry
from toolkit.overlay import api

TARGET = 3.0
N_CONTAINERS = 100
RUNS = 5


def start_containers(lab: str) -> None:
    vms = [v for v in registry.vms(lab) if v.alive]

    def run(i: int) -> None:
        vm = vms[i % len(vms)]
        api.call(vm.agent_socket, "run", name=f"bd-{i:03d}", network="dev", cmd=[])

    api.call(vms[0].agent_socket, "run", name="bd-000", network="dev", cmd=[])
    with ThreadPoolExecutor(len(vms)) as pool:
        list(pool.map(run, range(1, N_CONTAINERS)))


def doctor(lab: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*OVLAB, "doctor", lab, "--json"], capture_output=True, text=True, cwd=ROOT
    )
    took = time.perf_counter() - t0
    if proc.returncode not in (0, 1, 4, 5):
        raise SystemExit(f"ovlab doctor failed: {proc.stderr.strip()}")
    return took, json.loads(proc.stdout)["data"]  # the --json envelope (README)


def main() -> None:
    with renamed_topology("ten-vm", "bd") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 10), 120)
        start_containers(lab)
        doctor(lab)  # warm the page cache
        times, report = [], {}
        for _ in range(RUNS):
            took, report = doctor(lab)
            times.append(took)
        med = statistics.median(times)
        c = report["checked"]
        print(
            f"ovlab doctor ({c['vms']} VMs, {c['containers']} containers,"
            f" {c['endpoints']} endpoints)"
            f"  median {med:.2f} s  (min {min(times):.2f}, in-process {report['seconds']:.2f} s)"
            f"  target {TARGET:.0f} s: {TARGET / med:.1f}x {'OK' if med < TARGET else 'MISSED'}"
        )
        findings = report["findings"]
        print(
            f"findings on the healthy lab: {len(findings)}"
            + (" (expected none)" if findings else "")
        )
        for f in findings[:10]:
            print(f"  {f['severity']} {f['check']} {f.get('vm', '')}: {f['summary']}")


if __name__ == "__main__":
    main()
