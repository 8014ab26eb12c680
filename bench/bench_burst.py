"""A burst of 1,000 `ovlab run` calls from 10 parallel clients (issue 12, limits).

Seed lab (renamed copy), network ``burst`` (10.30.0.0/22), runs spread over both VMs,
plus DUPES runs that reuse a name already asked for from the other VM at the same time.
The burst must end with:
- no name and no IP twice (each reused name: exactly one winner, the others refused);
- every container reachable: one container per VM pings every container of the network;
- vxlan0's tables on each VM equal to the store (iproute2's view against
  ``model.remotes_for`` of a store snapshot read with the consul client).
Printed: wall time, runs/s, per-run latency p50/p90, and the agents' reconcile counters.
BURST_RUNS / BURST_CLIENTS in the environment scale it down.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import OVLAB, ROOT, members_alive, ovlab, renamed_topology, wait_until

from toolkit.consul import cluster
from toolkit.lab import registry
from toolkit.overlay import api
from toolkit.overlay.model import remotes_for
from toolkit.overlay.store import Store

RUNS = int(os.environ.get("BURST_RUNS", "1000"))
CLIENTS = int(os.environ.get("BURST_CLIENTS", "10"))
DUPES = max(1, RUNS // 50)
NODES = ("lab-vm-1", "lab-vm-2")


def run_one(lab: str, name: str, node: str) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [*OVLAB, "run", "-d", "--name", name, "--net", "burst", "--node", f"{lab}/{node}",
         "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr.strip(), time.monotonic() - t0


def tables(lab: str, node: str, ns: str) -> tuple[dict[str, str], dict[str, str]]:
    """iproute2's view of vxlan0 in ``ns`` on ``node``: neighbours ip -> mac, FDB mac -> dst."""
    enter = ["nsenter", f"--net=/run/docker/netns/{ns}"]
    neigh = json.loads(ovlab("exec", f"{lab}/{node}", "--", *enter, "ip", "-j", "neigh", "show",
                             "dev", "vxlan0"))  # fmt: skip
    fdb = json.loads(ovlab("exec", f"{lab}/{node}", "--", *enter, "bridge", "-j", "fdb", "show",
                           "dev", "vxlan0"))  # fmt: skip
    return (
        {n["dst"]: n["lladdr"] for n in neigh if "PERMANENT" in n.get("state", [])},
        {f["mac"]: f["dst"] for f in fdb if "dst" in f and f["mac"] != "00:00:00:00:00:00"},
    )


def main() -> int:
    failures: list[str] = []
    with renamed_topology("seed-demo", "bb") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 2), 60)
        ovlab("network", "create", "--subnet", "10.30.0.0/22", "burst", "--lab", lab)
        jobs = [(f"b{i}", NODES[i % 2]) for i in range(RUNS)]
        # Reused names, asked for from the other VM in the same burst.
        dupes = [(f"b{i}", NODES[(i + 1) % 2]) for i in range(0, RUNS, RUNS // DUPES)][:DUPES]
        again = dict(dupes)
        order = []
        for name, node in jobs:  # a reused name right after its first use: they overlap
            order += [(name, node)] + ([(name, again[name])] if name in again else [])
        t0 = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda j: (j, run_one(lab, *j)), order))
        wall = time.monotonic() - t0
        ok = [(j, json.loads(out)["data"], took) for j, (rc, out, _, took) in results if rc == 0]
        refused = [(j, err) for j, (rc, _, err, _) in results if rc != 0]
        names = [d["name"] for _, d, _ in ok]
        ips = [d["ip"] for _, d, _ in ok]
        if len(set(names)) != len(names) or sorted(set(names)) != sorted({n for n, _ in jobs}):
            failures.append(f"names: {len(names)} runs succeeded for {len(set(names))} names")
        if len(set(ips)) != len(ips):
            failures.append(f"IPs: {len(ips) - len(set(ips))} handed out twice")
        bad = [(j, e) for j, e in refused if "already in use" not in e]
        if len(refused) != len(dupes) or bad:
            failures.append(f"{len(refused)} refused (want {len(dupes)}), unexpected: {bad[:3]}")
        store = Store(cluster.agent(lab, "lab-vm-1"))
        snap = store.snapshot()
        net = snap.network_by_name("burst")
        assert net is not None
        eps = snap.endpoints_of(net.id)
        if sorted(e.ip for e in eps) != sorted(ips):
            failures.append("the store's endpoints differ from what the runs answered")
        # Reachability: from one container per VM, every container of the network.
        for node in NODES:
            src = next(e.name for e in eps if e.host == node)
            targets = " ".join(e.ip for e in eps if e.name != src)
            script = (
                f"for ip in {targets}; do ping -c1 -W2 -q $ip >/dev/null || echo lost $ip; done"
            )
            out = ovlab("exec", "--lab", lab, src, "--", "sh", "-c", script)
            lost = out.split()[1::2]
            if lost:  # once more, slower: a loaded machine may drop one probe's 2 s window
                retry = "; do ping -c3 -W3 -q $ip >/dev/null || echo $ip; done"
                again = f"for ip in {' '.join(lost)}{retry}"
                still = ovlab("exec", "--lab", lab, src, "--", "sh", "-c", again).split()
                print(f"  from {src} on {node}: {len(lost)} lost a first probe {lost[:5]}, "
                      f"{len(still)} never answered {still[:5]}")  # fmt: skip
                if still:
                    failures.append(f"from {src} on {node}: {len(still)} unreachable {still[:5]}")
        # Tables equal to the store, on each VM.
        for node in NODES:
            want = remotes_for(snap, node, net.id)
            got = tables(lab, node, net.ns)
            if got != ({r.ip: r.mac for r in want}, {r.mac: r.vtep for r in want}):
                failures.append(f"{node}: vxlan0's tables differ from the store")
        infos = {v.node: api.info(v.agent_socket) for v in registry.vms(lab)}
    took = sorted(t for _, _, t in ok)
    print(f"burst: {len(order)} `ovlab run` ({RUNS} names + {len(dupes)} reused) from {CLIENTS} "
          f"clients on 2 VMs")  # fmt: skip
    p50, p90 = statistics.median(took) * 1000, took[int(len(took) * 0.9)] * 1000
    print(f"  wall {wall:6.1f} s   {len(order) / wall:5.1f} runs/s   per run p50 {p50:6.0f} ms"
          f"  p90 {p90:6.0f} ms")  # fmt: skip
    print(
        f"  {len(ok)} started, {len(refused)} refused as duplicates, {len(set(ips))} distinct IPs"
    )
    for node, info in infos.items():
        print(f"  {node}: full reconciles {info.full_reconciles}, incremental applies "
              f"{info.incremental_applies}")  # fmt: skip
    for f in failures:
        print(f"  FAILED: {f}")
    print("burst checks: " + ("OK" if not failures else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
