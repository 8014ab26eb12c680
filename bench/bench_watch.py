"""Benchmark `ovlab watch --json` and `ovlab record` against `ip monitor`, in the same run.

1. Event latency: a neighbour change made in a lab VM's namespace, to its line on the
   reader's side, for `ovlab watch LAB --json --kind neigh` and for
   `nsenter --net=… ip -o monitor neigh` (the baseline), both started as subprocesses
   and read concurrently. Median and p99 of each, and their ratio.
2. Burst: 10,000 FDB adds (`bridge -batch`) on one VM while `ovlab watch` runs: every
   entry must reach the stream (by notification, or by the resync that follows an
   overrun). Then `ovlab record` at ~100 events/s for 10 s: its CPU (% of one core)
   and peak RSS, and journal bytes per 1,000 events.

The lab is unprovisioned (no Consul needed for kernel events): `ovw-bench-<hex>`.
Run as root: .venv/bin/python bench/bench_watch.py [--changes N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVLAB = [sys.executable, "-m", "toolkit.cli.main"]


class Reader:
    """Lines of a subprocess with their arrival times (monotonic), read by a thread."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        self.lines: list[tuple[float, bytes]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))

    def first(self, needle: bytes, since: int, timeout: float = 5.0) -> float | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, line in self.lines[since:]:
                if needle in line:
                    return t
            time.sleep(0.0005)
        return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sh(pid: int, *cmd: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", *cmd],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(lab: str, pid: int, n: int) -> dict[str, float]:
    from pyroute2 import IPRoute

    watch = Reader([*OVLAB, "watch", lab, "--json", "--kind", "neigh"])
    mon = Reader(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-o", "monitor", "neigh"])
    time.sleep(3.0)  # both subscribed
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    from toolkit.host.ns import inside as netns_of_fd

    with netns_of_fd(fd):
        ipr = IPRoute()
    os.close(fd)
    idx = ipr.link_lookup(ifname="vxb")[0]
    lw: list[float] = []
    lm: list[float] = []
    for i in range(n):
        ip = f"10.77.{i // 250}.{i % 250 + 1}"
        needle = f'"{ip}"'.encode()
        sw, sm = len(watch.lines), len(mon.lines)
        t0 = time.monotonic()
        ipr.neigh("replace", dst=ip, lladdr="02:42:0a:4d:00:01", ifindex=idx, state=0x80)
        tw = watch.first(needle, sw)
        tm = mon.first(f"{ip} ".encode(), sm)
        if tw is not None and tm is not None:
            lw.append((tw - t0) * 1000)
            lm.append((tm - t0) * 1000)
        time.sleep(0.01)
    ipr.close()
    watch.stop()
    mon.stop()
    return {
        "n": len(lw),
        "watch_median_ms": statistics.median(lw),
        "watch_p99_ms": pct(lw, 99),
        "ipmon_median_ms": statistics.median(lm),
        "ipmon_p99_ms": pct(lm, 99),
    }


def burst(lab: str, pid: int, n: int) -> dict[str, float]:
    watch = Reader([*OVLAB, "watch", lab, "--json", "--kind", "fdb"])
    time.sleep(3.0)
    macs = [f"02:99:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01" for i in range(n)]
    batch = "".join(f"fdb add {m} dev vxb dst 192.168.100.99 self permanent\n" for m in macs)
    t0 = time.monotonic()
    sh(pid, "bridge", "-batch", "-", stdin=batch)
    end = time.monotonic() + 60
    seen: set[str] = set()
    overruns = 0
    done = 0
    while time.monotonic() < end and len(seen) < n:
        new = watch.lines[done:]  # the reader thread appends meanwhile: take a slice once
        done += len(new)
        for _t, line in new:
            e = json.loads(line)
            if e.get("kind") == "overrun":
                overruns += 1
            elif e.get("kind") == "fdb" and e["op"] in ("add", "change"):
                seen.add(e["after"]["mac"])
        time.sleep(0.05)
    took = time.monotonic() - t0
    watch.stop()
    sh(pid, "bridge", "-batch", "-", stdin=batch.replace("fdb add", "fdb del"))
    return {
        "changes": n,
        "seen": len(seen & set(macs)),
        "overruns": overruns,
        "seconds_to_last": round(took, 2),
    }


def recorder(lab: str, pid: int, seconds: float, rate: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rec = subprocess.Popen(
            [*OVLAB, "record", lab, "-o", tmp],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3.0)
        size0 = sum(p.stat().st_size for p in Path(tmp).glob("*.jsonl"))
        tick = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            f = Path(f"/proc/{rec.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tick

        c0, t0 = cpu(), time.monotonic()
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        from pyroute2 import IPRoute

        from toolkit.host.ns import inside as netns_of_fd

        with netns_of_fd(fd):
            ipr = IPRoute()
        os.close(fd)
        idx = ipr.link_lookup(ifname="vxb")[0]
        made = 0
        while time.monotonic() - t0 < seconds:
            ip = f"10.78.{made // 250 % 250}.{made % 250 + 1}"
            ipr.neigh("replace", dst=ip, lladdr="02:42:0a:4e:00:01", ifindex=idx, state=0x80)
            made += 1
            time.sleep(max(0.0, t0 + made / rate - time.monotonic()))
        time.sleep(1.5)
        c1, t1 = cpu(), time.monotonic()
        hwm = next(
            int(line.split()[1])
            for line in Path(f"/proc/{rec.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM")
        )
        rec.terminate()
        rec.wait(10)
        ipr.close()
        size1 = sum(p.stat().st_size for p in Path(tmp).glob("*.jsonl"))
        events = sum(
            1
            for p in Path(tmp).glob("*.jsonl")
            for line in p.open()
            if '"type":"event"' in line and '"kind":"neigh"' in line
        )
    return {
        "rate_per_s": round(made / seconds, 1),
        "cpu_pct_of_core": round(100 * (c1 - c0) / (t1 - t0), 2),
        "rss_peak_mb": round(hwm / 1024, 1),
        "journal_bytes_per_1000_events": round((size1 - size0) / max(events, 1) * 1000),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--burst", type=int, default=10_000)
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    lab = f"ovw-bench-{secrets.token_hex(2)}"
    with tempfile.TemporaryDirectory() as tmp:
        topo = Path(tmp) / "topology.yml"
        topo.write_text(
            f"name: {lab}\nunderlay:\n  subnet: 192.168.100.0/24\nnodes:\n"
            "  vm1:\n    eth1: 192.168.100.11\n  vm2:\n    eth1: 192.168.100.12\n"
        )
        subprocess.run([*OVLAB, "lab", "up", str(topo)], check=True, cwd=ROOT, capture_output=True)
        try:
            pid = json.loads((Path("/run/ovlab/labs") / lab / "state.json").read_text())["nodes"][
                "vm1"
            ]["pid"]
            sh(
                pid,
                "ip",
                "link",
                "add",
                "vxb",
                "type",
                "vxlan",
                "id",
                "999",
                "dstport",
                "4790",
                "nolearning",
            )
            sh(pid, "ip", "link", "set", "vxb", "up")
            lat = latency(lab, pid, args.changes) if not args.skip_latency else None
            print(
                json.dumps(
                    {
                        "latency": lat,
                        "ratio_median": round(lat["watch_median_ms"] / lat["ipmon_median_ms"], 2),
                        "ratio_p99": round(lat["watch_p99_ms"] / lat["ipmon_p99_ms"], 2),
                    }
                )
                if lat
                else "{}"
            )
            print(json.dumps({"burst": burst(lab, pid, args.burst)}))
            print(json.dumps({"recorder_100_per_s": recorder(lab, pid, 10.0, 100.0)}))
        finally:
            subprocess.run([*OVLAB, "lab", "down", lab], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
