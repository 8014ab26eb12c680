"""Agent CPU per store change at 20, 200 and 1,000 endpoints in one network (issue 12.1).

Seed lab (renamed copy). lab-vm-1 runs one container on network ``scale`` (10.20.0.0/16),
so its agent keeps that network's namespace; endpoints of a host "ghost" (no VM, a VTEP
nobody has) are written straight into Consul in the records' own format. At each size,
CHANGES store changes (an endpoint joins, the next one leaves, …) are made one at a time;
each is left to settle (a fixed pause, then the agent's ``info`` confirms it applied that
store index, so the bench's own polling costs the agent the same at every size).

Agent CPU is utime+stime of the agent process (/proc/<pid>/stat, clock ticks), and, for
resolution, the sum of its threads' run time (/proc/<pid>/task/*/schedstat, ns). Both
reconcile paths run in the same lab, back to back: ``incremental`` (the agent's default)
and ``full`` (every pass re-reads the kernel and the whole snapshot: the path before
issue 12, kept behind the agent's ``tune`` op for this comparison).

Target: the 1,000-endpoint case costs at most 2x the 20-endpoint case (incremental).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time

from labkit import members_alive, ovlab, renamed_topology, wait_until

from toolkit.consul import cluster
from toolkit.lab import registry
from toolkit.overlay import api
from toolkit.overlay.model import ROOT, Endpoint, container_mac, k_endpoint, k_ip
from toolkit.overlay.store import Store

SIZES = (20, 200, 1000)
CHANGES = int(os.environ.get("BENCH_CHANGES", "60"))
PAUSE = 0.12  # s after each change before asking the agent whether it applied it
TICK = os.sysconf("SC_CLK_TCK")


def ghost(net: str, i: int, vtep: str = "192.168.100.99") -> Endpoint:
    ip = f"10.20.{1 + i // 250}.{2 + i % 250}"
    return Endpoint(f"{i:064x}", net, f"ghost-{i}", ip, container_mac(ip), "ghost", vtep)


def write(store: Store, put: list[Endpoint] = (), drop: list[Endpoint] = ()) -> int:
    """Publish/withdraw endpoints as agents do (record + IP key); the store index after."""
    ops = []
    for e in put:
        value = base64.b64encode(json.dumps(e.to_dict()).encode()).decode()
        ops.append({"Verb": "set", "Key": k_endpoint(e.network, e.id), "Value": value})
        ops.append({"Verb": "set", "Key": k_ip(e.network, e.ip), "Value": ""})
    for e in drop:
        ops.append({"Verb": "delete", "Key": k_endpoint(e.network, e.id)})
        ops.append({"Verb": "delete", "Key": k_ip(e.network, e.ip)})
    for start in range(0, len(ops), 64):
        store.txn(ops[start : start + 64])
    _, headers, _ = store.consul.request(
        "GET", "/v1/kv/" + ROOT + "endpoint/", params={"keys": "true"}
    )
    return int(headers["x-consul-index"])


def cpu(pid: int) -> tuple[float, float]:
    """(utime+stime in s from /proc/PID/stat, sum of the threads' schedstat run time in s)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = (int(fields[11]) + int(fields[12])) / TICK
    run_ns = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                run_ns += int(fh.read().split()[0])
        except FileNotFoundError:
            continue
    return ticks, run_ns / 1e9


def read_floor(store: Store, rounds: int = 20) -> float:
    """ms of CPU, in this process, for what any Consul KV watcher pays per change: reading
    the watched prefix's whole answer and parsing it (Consul 1.8 has no change feed; a
    blocking query returns every key under the prefix), with the record cache warm."""
    cache: dict = {}
    store.snapshot(cache=cache, part="endpoint/")
    t0 = time.process_time()
    for _ in range(rounds):
        store.snapshot(cache=cache, part="endpoint/")
    return (time.process_time() - t0) / rounds * 1000


def settle(sock: str, index: int) -> api.AgentInfo:
    time.sleep(PAUSE)
    while True:
        info = api.info(sock)
        if info.applied_index >= index:
            return info
        time.sleep(PAUSE / 4)


def main() -> None:
    with renamed_topology("seed-demo", "br") as (lab, topo):
        ovlab("lab", "up", str(topo), "--provision", "--json")
        wait_until(lambda: members_alive(lab, 2), 60)
        net = json.loads(
            ovlab("network", "create", "--subnet", "10.20.0.0/16", "scale", "--lab", lab, "--json")
        )["data"]
        ovlab("run", "-d", "--name", "br-anchor", "--net", "scale", "--node", f"{lab}/lab-vm-1")
        vm1 = next(v for v in registry.vms(lab) if v.node == "lab-vm-1")
        sock = vm1.agent_socket
        store = Store(cluster.agent(lab, "lab-vm-1"))
        api.call(sock, "tune", full_period=3600.0)
        pid = api.info(sock).pid
        rows: dict[tuple[str, int], tuple[float, float, int, int]] = {}
        floor: dict[int, float] = {}
        present: list[Endpoint] = []
        for size in SIZES:
            grow = [ghost(net["id"], i) for i in range(len(present), size)]
            present += grow
            settle(sock, write(store, put=grow))
            floor[size] = read_floor(store)
            for mode in ("incremental", "full"):
                api.call(sock, "tune", mode=mode)
                settle(sock, write(store, put=[ghost(net["id"], 9000)]))  # warm the path
                settle(sock, write(store, drop=[ghost(net["id"], 9000)]))
                before = api.info(sock)
                c0 = cpu(pid)
                ops = 0
                for k in range(CHANGES):
                    e = ghost(net["id"], 9000 + k // 2)
                    index = write(store, put=[e]) if k % 2 == 0 else write(store, drop=[e])
                    ops += settle(sock, index).last_kernel_ops
                c1 = cpu(pid)
                after = api.info(sock)
                rows[(mode, size)] = (
                    (c1[0] - c0[0]) / CHANGES * 1000,
                    (c1[1] - c0[1]) / CHANGES * 1000,
                    after.full_reconciles - before.full_reconciles,
                    ops,
                )
            api.call(sock, "tune", mode="incremental")
    print(f"agent CPU per store change, {CHANGES} changes per row (seed lab, lab-vm-1's agent)")
    print(f"{'path':12s} {'endpoints':>9s} {'stat ms':>8s} {'sched ms':>9s} {'full passes':>11s}"
          f" {'kernel ops':>10s}")  # fmt: skip
    for (mode, size), (st, sc, full, ops) in rows.items():
        print(f"{mode:12s} {size:9d} {st:8.2f} {sc:9.2f} {full:11d} {ops:10d}")
    for size in SIZES:
        print(f"floor: one read + parse of the endpoint/ prefix at {size:4d} endpoints "
              f"{floor[size]:6.2f} ms CPU (this process)")  # fmt: skip
    inc = {s: rows[("incremental", s)][1] for s in SIZES}
    old = {s: rows[("full", s)][1] for s in SIZES}
    ratio = inc[1000] / inc[20]
    print(
        f"incremental 1000/20 endpoints: {ratio:4.2f}x  target <= 2x "
        f"{'OK' if ratio <= 2 else 'MISSED'};  full path 1000/20: {old[1000] / old[20]:4.2f}x;"
        f"  at 1000 endpoints the full path costs {old[1000] / inc[1000]:4.1f}x the incremental"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
