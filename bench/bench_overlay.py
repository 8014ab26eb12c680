"""Overlay speed: run-to-first-reply, remote programming latency, agent RSS.

- run-to-first-reply (seed lab, median of 20): from `ovlab run` of a container on
  lab-vm-2 until its first ping reply from container_node1 on lab-vm-1. The
  container's own CMD pings every 10 ms and timestamps the reply (ping -D).
  Baseline: Docker 20.10's classic overlay, ~0.7 s here. Target < 0.15 s, RTT < 5 ms.
- remote programming latency (ten-vm lab, 20 endpoints x 9 remote VMs, each VM already
  holding a container of the network): from the endpoint's creation in the store to each
  other VM's agent having its FDB entry (from the agents' structured logs). Target < 50 ms.
- agent RSS (VmRSS of every agent). Target < 80 MB.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

from labkit import members_alive, ovlab, renamed_topology, wait_until

from toolkit.lab import registry


def vm_pid(lab: str, node: str) -> int:
    return next(v.pid for v in registry.vms(lab) if v.node == node)


def run_to_first_reply() -> tuple[list[float], list[float]]:
    with renamed_topology("seed-demo", "bo") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 2), 60)
        target = json.loads(
            ovlab(
                "run",
                "-d",
                "--name",
                "bo-target",
                "--net",
                "dev",
                "--node",
                f"{lab}/lab-vm-1",
                "--json",
            )
        )["data"]["ip"]
        pid2 = vm_pid(lab, "lab-vm-2")
        totals, rtts = [], []
        for i in range(20):
            out = f"/tmp/bo-{i}.out"
            t0 = time.time()
            ovlab(
                "run",
                "-d",
                "--name",
                f"bo-{i}",
                "--net",
                "dev",
                "--node",
                f"{lab}/lab-vm-2",
                "--",
                "sh",
                "-c",
                f"ping -n -D -i 0.01 -c 1 -w 5 {target} > {out} 2>&1",
            )
            path = f"/proc/{pid2}/root{out}"

            def replied(p: str = path) -> bool:
                try:
                    with open(p) as fh:
                        return "bytes from" in fh.read()
                except FileNotFoundError:
                    return False

            wait_until(replied, 10, step=0.01)
            with open(path) as fh:
                text = fh.read()
            m = re.search(r"\[(\d+\.\d+)\] \d+ bytes from .* time=([\d.]+) ms", text)
            assert m, text
            totals.append(float(m.group(1)) - t0)
            rtts.append(float(m.group(2)))
            ovlab("rm", f"bo-{i}", "--lab", lab, check=False)  # it may have exited already
        return totals, rtts


def remote_latency_and_rss() -> tuple[list[float], list[float]]:
    with renamed_topology("ten-vm", "bo") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 10), 120)
        vms = [v for v in registry.vms(lab)]
        created: dict[str, float] = {}
        # Warm-up: one container per VM first, so every VM already has the network's namespace;
        # otherwise a VM's first container would program all older endpoints at once and that
        # wait would count as latency.
        for vm in vms:
            ovlab(
                "run", "-d", "--name", f"bw-{vm.node}", "--net", "dev", "--node", f"{lab}/{vm.node}"
            )
        time.sleep(1.0)
        for i in range(20):
            vm = vms[i % len(vms)]
            r = json.loads(
                ovlab(
                    "run",
                    "-d",
                    "--name",
                    f"bl-{i}",
                    "--net",
                    "dev",
                    "--node",
                    f"{lab}/{vm.node}",
                    "--json",
                )
            )["data"]
            created[r["mac"]] = r
        time.sleep(1.0)
        snap = {e["mac"]: e for e in json.loads(ovlab("ps", "--lab", lab, "--json"))["data"]}
        lat = []
        rss = []
        for vm in vms:
            with open(f"/proc/{vm.pid}/root/var/log/supervisor/ovlab-agent.log") as fh:
                log = fh.read().splitlines()
            seen: dict[str, float] = {}
            for line in log:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "programmed remotes":
                    for mac in rec.get("added", []):
                        seen.setdefault(mac, rec["ts"])
            for mac, ep in snap.items():
                if mac in created and ep["host"] != vm.node and mac in seen:
                    lat.append((seen[mac] - created[mac]["created"]) * 1000)
            agent = int(
                ovlab(
                    "exec",
                    f"{lab}/{vm.node}",
                    "--",
                    str(Path(sys.executable).parent / "supervisorctl"),
                    "-c",
                    "/etc/supervisor/supervisord.conf",
                    "pid",
                    "ovlab-agent",
                ).strip()
            )
            with open(f"/proc/{agent}/status") as fh:
                rss += [int(x.split()[1]) / 1024 for x in fh if x.startswith("VmRSS")]
        return lat, rss


def main() -> None:
    totals, rtts = run_to_first_reply()
    med = statistics.median(totals)
    print(
        f"run-to-first-reply   median {med * 1000:7.1f} ms"
        f"  (Docker 20.10 ~700 ms: {0.7 / med:4.1f}x)"
        f"  target 150 ms {'OK' if med < 0.15 else 'MISSED'}"
    )
    print(
        f"first-ping RTT       median {statistics.median(rtts):7.3f} ms  max {max(rtts):.3f} ms"
        f"  target 5 ms {'OK' if max(rtts) < 5 else 'MISSED'}"
    )
    lat, rss = remote_latency_and_rss()
    if lat:
        print(
            f"remote programming   median {statistics.median(lat):7.1f} ms  p90 "
            f"{sorted(lat)[int(len(lat) * 0.9)]:.1f} ms over {len(lat)} (endpoint, VM) pairs"
            f"  target 50 ms {'OK' if statistics.median(lat) < 50 else 'MISSED'}"
        )
    print(
        f"agent RSS            max {max(rss):7.1f} MB over {len(rss)} agents  target 80 MB "
        f"{'OK' if max(rss) < 80 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
