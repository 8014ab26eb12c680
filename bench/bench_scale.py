"""How cost grows with the lab: up, provision, doctor, remote programming, down, memory.

For each size (default 2, 10, 20, 50, 100 VMs; 3 Consul servers from 10 up) it runs the
whole CLI as a user would, each step timed, with a same-run baseline where one exists:
- ``lab up`` / ``lab down``, against an iproute2 floor: ``ip -batch`` making (and then
  deleting) the same number of named namespaces with one veth pair each;
- ``provision`` (``--provision-max`` caps the sizes provisioned), against one bare
  ``ansible -m ping`` over the same VMs (what any Ansible run pays at least);
- containers: ``--containers`` per VM (default 10 on the 100-VM lab, 1 elsewhere),
  started through the agents' API from 10 client threads;
- the seed scenario: a container on the first VM pings a service on the last VM by name;
- ``doctor`` (exit and seconds), ``verify`` (exit);
- remote programming: 10 endpoints made on rotating VMs, from each endpoint's creation
  in the store to every other VM's agent logging its FDB entry (the agents' own log);
- memory per VM: the PSS of every process in the VM (smaps_rollup) plus its containers.
Where a step fails or runs past its budget, the row says which step, and the machine's
state then: MemAvailable, load, and the processes using the most CPU and memory.

Rows go to bench/report/scale.json (merged by size, so a reduced run keeps older rows,
each with its own date), then bench/scaling_report.py draws bench/report/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from labkit import ROOT, members_alive, ovlab

from toolkit.lab import registry

REPORT = ROOT / "bench" / "report"
BIN = Path(sys.executable).parent


def topology(lab: str, n: int, per_vm: int) -> str:
    servers = 1 if n <= 2 else 3
    lines = [f"name: {lab}", "underlay:", "  subnet: 10.77.0.0/16", f"containers_per_vm: {per_vm}"]
    lines.append("nodes:")
    for i in range(1, n + 1):
        group = "consul_servers" if i <= servers else "consul_clients"
        lines += [f"  lab-vm-{i}:", f"    eth1: 10.77.{i // 250}.{i % 250 + 2}"]
        lines.append(f"    groups: [{group}]")
    return "\n".join(lines) + "\n"


def timed(*args: str, check: bool = True, timeout: float = 3600) -> tuple[float, int, str]:
    """(seconds, exit code, stdout) of one CLI run; past ``timeout`` its whole process group
    (Ansible's workers too) is killed and StepFailed says so."""
    t = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        what = " ".join(args[:2])
        raise StepFailed(f"ovlab {what} still running after {timeout:.0f} s") from None
    if check and proc.returncode not in (0, 1):
        raise StepFailed(f"ovlab {' '.join(args[:3])} exit {proc.returncode}: {err[-300:]}")
    return time.monotonic() - t, proc.returncode, out


class StepFailed(Exception):
    pass


def iproute_floor(n: int) -> tuple[float, float]:
    """Seconds to make, then delete, n named namespaces with a veth pair each (ip -batch)."""
    tag = f"ovbf{os.getpid() % 10000}"
    make = "".join(
        f"netns add {tag}-{i}\nlink add {tag}a{i} type veth peer name eth1 netns {tag}-{i}\n"
        for i in range(n)
    )
    drop = "".join(f"link del {tag}a{i}\nnetns del {tag}-{i}\n" for i in range(n))
    out = []
    for script in (make, drop):
        t = time.monotonic()
        subprocess.run(["ip", "-batch", "-"], input=script, text=True, check=True)
        out.append(time.monotonic() - t)
    return out[0], out[1]


def machine_state() -> dict[str, Any]:
    """MemAvailable, load and the top processes by CPU and by RSS (ps)."""
    with open("/proc/meminfo") as fh:
        mem = {ln.split(":")[0]: int(ln.split()[1]) for ln in fh}
    ps = subprocess.run(
        ["ps", "-eo", "pid,pcpu,rss,comm,args", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    by_rss = sorted(ps, key=lambda ln: -int(ln.split()[2]))
    return {
        "mem_available_mib": mem["MemAvailable"] // 1024,
        "load": os.getloadavg(),
        "top_cpu": [ln[:140] for ln in ps[:6]],
        "top_rss": [ln[:140] for ln in by_rss[:4]],
    }


def pss_per_vm(lab: str) -> dict[str, float]:
    """MiB per VM: the PSS of every process in the VM's network namespace plus the VM's
    containers (cinit processes tagged ovlab:LAB:NODE/…), from /proc/PID/smaps_rollup."""
    vms = {v.node: v for v in registry.vms(lab)}
    by_ns = {os.stat(v.netns_path).st_ino: v.node for v in vms.values()}
    out = dict.fromkeys(vms, 0.0)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            node = by_ns.get(os.stat(f"/proc/{p}/ns/net").st_ino)
            if node is None:
                with open(f"/proc/{p}/cmdline", "rb") as fh:
                    args = fh.read().split(b"\0")
                tag = next((a for a in args if a.startswith(f"ovlab:{lab}:".encode())), b"")
                node = tag.decode().split(":")[2].split("/")[0] if b"/" in tag else None
            if node is None or node not in out:
                continue
            with open(f"/proc/{p}/smaps_rollup") as fh:
                pss = next(int(ln.split()[1]) for ln in fh if ln.startswith("Pss:"))
            out[node] += pss / 1024
        except (OSError, StopIteration):
            continue
    return out


def start_containers(lab: str, nodes: list[str], per_vm: int, budget: float) -> tuple[int, float]:
    """Start per_vm containers on every VM from 10 threads; (started, seconds)."""
    from toolkit.overlay import client

    jobs = [(node, f"c{i}-{node}") for i in range(per_vm) for node in nodes]
    lock = threading.Lock()
    done = [0]
    errors: list[str] = []
    t0 = time.monotonic()

    def worker() -> None:
        while time.monotonic() - t0 < budget:
            with lock:
                if not jobs:
                    return
                node, name = jobs.pop(0)
            try:
                client.run_container(f"{lab}/{node}", lab, name, "dev", None, [], 60)
                with lock:
                    done[0] += 1
            except Exception as exc:  # noqa: BLE001  (reported, the bench goes on)
                errors.append(f"{name}: {exc}")

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        print(f"  {len(errors)} container starts failed, first: {errors[0]}")
    return done[0], time.monotonic() - t0


def remote_programming(lab: str, nodes: list[str], samples: int = 10) -> list[float]:
    """ms from each endpoint's creation to every other VM's agent logging its FDB entry."""
    from toolkit.overlay import client

    made: dict[str, float] = {}
    for i in range(samples):
        node = nodes[(i * 7) % len(nodes)]
        r = client.run_container(f"{lab}/{node}", lab, f"rp{i}", "dev", None, [], 60)
        made[r["mac"]] = r["created"]
        time.sleep(0.3)
    time.sleep(2.0)
    lat: list[float] = []
    for v in registry.vms(lab):
        try:
            with open(f"/proc/{v.pid}/root/var/log/supervisor/ovlab-agent.log") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        seen: dict[str, float] = {}
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "programmed remotes":
                for mac in rec.get("added", []):
                    seen.setdefault(mac, rec["ts"])
        lat += [(seen[m] - made[m]) * 1000 for m in made if m in seen]
    return lat


def seed_scenario(lab: str, first: str, last: str) -> bool:
    """A container on the first VM pings, by name, a service published on the last VM."""
    ovlab("run", "--name", "svc-last", "--node", f"{lab}/{last}", "--publish-service",
          "svclast.dev.overlay")  # fmt: skip
    ovlab("run", "--name", "pinger", "--node", f"{lab}/{first}", "--net", "dev")
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "exec", "--lab", lab, "pinger", "--",
         "ping", "-c", "2", "-W", "2", "svclast"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return proc.returncode == 0


def measure(
    n: int, per_vm: int, provision: bool, budget: float, prov_timeout: float, partial: bool
) -> dict[str, Any]:
    lab = f"bsc{n}"
    row: dict[str, Any] = {"vms": n, "containers_per_vm": per_vm, "date": time.strftime("%F %T")}
    with tempfile.TemporaryDirectory() as tmp:
        topo = Path(tmp) / "topology.yml"
        topo.write_text(topology(lab, n, per_vm if provision else 0))
        ovlab("lab", "down", lab, check=False)
        row["floor_up_s"], row["floor_down_s"] = iproute_floor(n)
        step = "lab up"
        try:
            row["up_s"] = timed("lab", "up", str(topo), "--json")[0]
            nodes = [f"lab-vm-{i}" for i in range(1, n + 1)]  # file order: servers first
            if provision:
                step = "provision floor (ansible ping)"
                inv = Path(tmp) / "inv.yml"
                ovlab("lab", "inventory", lab, "-o", str(inv))
                env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "playbooks" / "ansible.cfg")}
                t = time.monotonic()
                subprocess.run([str(BIN / "ansible"), "-i", str(inv), "all", "-m", "ping"],
                               cwd=ROOT / "playbooks", env=env, capture_output=True)  # fmt: skip
                row["floor_provision_s"] = time.monotonic() - t
                step = "provision"
                row["provision_s"] = timed("provision", lab, "--json", timeout=prov_timeout)[0]
                step = "consul members alive"
                t = time.monotonic()
                while not members_alive(lab, n):
                    if time.monotonic() - t > 300:
                        raise StepFailed("not every Consul member alive after 300 s")
                    time.sleep(0.5)
                row["members_alive_after_s"] = time.monotonic() - t
                step = "containers"
                started, secs = start_containers(lab, nodes, per_vm, budget)
                row["containers_started"], row["containers_s"] = started, secs
                if started < per_vm * n:
                    row["stopped"] = {
                        "step": step,
                        "why": f"{started}/{per_vm * n} containers in the {budget:.0f} s budget",
                        "machine": machine_state(),
                    }
                step = "seed scenario"
                row["seed_ping_ok"] = seed_scenario(lab, nodes[0], nodes[-1])
                step = "doctor"
                row["doctor_s"], row["doctor_exit"], _ = timed("doctor", lab, "--json")
                step = "verify"
                row["verify_s"], row["verify_exit"], _ = timed("verify", lab, "--json")
                step = "remote programming"
                lat = remote_programming(lab, nodes)
                if lat:
                    row["remote_ms_median"] = statistics.median(lat)
                    row["remote_ms_p90"] = sorted(lat)[int(0.9 * (len(lat) - 1))]
                step = "memory"
                pss = pss_per_vm(lab)
                row["pss_mib_per_vm_median"] = statistics.median(pss.values())
                row["pss_mib_per_vm_max"] = max(pss.values())
                row["machine_loaded"] = machine_state()
            else:
                # Not provisioned: the doctor's scan of every VM still runs (its findings say
                # Consul and the agents are missing, so its exit is not 0).
                step = "doctor (not provisioned)"
                row["doctor_s"], row["doctor_exit"], _ = timed("doctor", lab, "--json", check=False)
                if partial:
                    # The seed scenario between the first and the last VM, with only the
                    # Consul servers and the last VM provisioned (--limit).
                    hosts = [*nodes[:3], nodes[-1]]
                    step = f"provision --limit {','.join(hosts)}"
                    row["partial_hosts"] = hosts
                    row["partial_provision_s"] = timed(
                        "provision", lab, "--limit", ",".join(hosts), "--json",
                        timeout=prov_timeout,
                    )[0]  # fmt: skip
                    step = "consul members alive"
                    t = time.monotonic()
                    while not members_alive(lab, len(hosts)):
                        if time.monotonic() - t > 300:
                            raise StepFailed("the provisioned members not alive after 300 s")
                        time.sleep(0.5)
                    step = "seed scenario"
                    row["seed_ping_ok"] = seed_scenario(lab, nodes[0], nodes[-1])
                    pss = {k: v for k, v in pss_per_vm(lab).items() if k in hosts}
                    row["partial_pss_mib"] = pss
                row["machine_loaded"] = machine_state()
        except (StepFailed, SystemExit, subprocess.TimeoutExpired) as exc:
            row["stopped"] = {"step": step, "why": str(exc)[:400], "machine": machine_state()}
        finally:
            t = time.monotonic()
            subprocess.run([sys.executable, "-m", "toolkit.cli.main", "lab", "down", lab],
                           capture_output=True, cwd=ROOT)  # fmt: skip
            row["down_s"] = time.monotonic() - t
    return row


def decode_sweep(sizes: list[int]) -> list[dict[str, float]]:
    """Seconds of ``ovlab decode --stats`` and of tshark -T fields on generated captures."""
    from bench_decode import generate, run
    from labkit import OVLAB

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            pcap = Path(tmp) / f"v{count}.pcap"
            generate(pcap, count)
            fields = ("ip.src", "ip.dst", "udp.srcport", "udp.dstport", "vxlan.vni",
                      "vxlan.flags", "eth.src", "eth.dst")  # fmt: skip
            tshark = ["tshark", "-n", "-r", str(pcap), "-T", "fields"]
            tshark += [arg for f in fields for arg in ("-e", f)]
            base_s, _ = run(tshark)
            ours_s, rss = run([*OVLAB, "decode", str(pcap), "--stats"])
            out.append({"packets": count, "tshark_s": base_s, "decode_s": ours_s, "rss_mb": rss})
            print(f"decode {count:9,d} packets: ovlab {ours_s:6.2f} s  tshark {base_s:6.2f} s  "
                  f"ratio {base_s / ours_s:5.1f}x")  # fmt: skip
            pcap.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decode-sizes", default="10000,100000,1000000", help="'' to skip")
    ap.add_argument("--sizes", default="2,10,20,50,100")
    # Provisioning 100 VMs through Ansible takes far longer than the rest together (see
    # bench/report/notes.md): `make bench` provisions up to 20; pass 100 to try it.
    ap.add_argument("--provision-max", type=int, default=20)
    ap.add_argument("--containers", type=int, default=None, help="per VM (10 at 100 VMs, else 1)")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for starting containers")
    ap.add_argument("--provision-timeout", type=float, default=3600.0)
    ap.add_argument(
        "--partial",
        action="store_true",
        help="above --provision-max: provision the servers and the last VM, run the seed ping",
    )
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    REPORT.mkdir(parents=True, exist_ok=True)
    store = REPORT / "scale.json"
    rows = {r["vms"]: r for r in json.loads(store.read_text())} if store.exists() else {}
    for n in (int(x) for x in args.sizes.split(",")):
        per_vm = args.containers if args.containers is not None else (10 if n >= 100 else 1)
        row = measure(
            n, per_vm, n <= args.provision_max, args.budget, args.provision_timeout, args.partial
        )
        rows[n] = row
        store.write_text(json.dumps(sorted(rows.values(), key=lambda r: r["vms"]), indent=1))
        keys = ("up_s", "floor_up_s", "provision_s", "floor_provision_s", "doctor_s",
                "verify_exit", "seed_ping_ok", "remote_ms_median", "pss_mib_per_vm_median",
                "down_s", "floor_down_s")  # fmt: skip
        shown = "  ".join(
            f"{k}={row[k]:.2f}" if isinstance(row.get(k), float) else f"{k}={row.get(k)}"
            for k in keys
            if k in row
        )
        print(f"{n:3d} VMs: {shown}" + (f"  STOPPED {row['stopped']}" if "stopped" in row else ""))
    if args.decode_sizes:
        sweep = decode_sweep([int(x) for x in args.decode_sizes.split(",")])
        (REPORT / "decode.json").write_text(json.dumps(sweep, indent=1))
    if not args.no_report:
        subprocess.run([sys.executable, str(ROOT / "bench" / "scaling_report.py")], check=True)


if __name__ == "__main__":
    main()
