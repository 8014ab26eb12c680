"""A 30-VM lab up and provisioned on one machine against the same lab over 3 hosts, and
the stitched underlay's throughput and RTT against the hosts' direct path — same run.

Hosts are namespace machines with sshd (tests/lab/hostlab.py), each running its own
ovlab from the controller's wheel. Baselines: the one-machine lab (time), the hosts'
direct path (throughput, RTT). Throughput is one TCP stream of BYTES (python sockets:
no iperf3 on the machine), RTT the average of 20 pings.

    python bench/bench_multihost.py [--vms 30] [--hosts 3]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml
from labkit import ROOT, ovlab

sys.path.insert(0, str(ROOT))

from tests.lab.hostlab import hosts_lab, write_multi  # noqa: E402

BYTES = 200 * 1024 * 1024
SINK = (
    "import socket;s=socket.socket();s.bind(('0.0.0.0',5201));s.listen(1);c,_=s.accept()\n"
    "while c.recv(1<<16):pass"
)
SEND = (
    "import socket,time;s=socket.create_connection(('{dst}',5201));b=b'x'*(1<<16);n={n};"
    "t=time.monotonic()\nwhile n>0:s.sendall(b);n-=len(b)\ns.close();print(time.monotonic()-t)"
)


def nodes(count: int, hosts: list[str] | None) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for i in range(count):
        body: dict[str, object] = {
            "eth1": f"192.168.100.{10 + i}",
            "groups": ["consul_servers" if i == 0 else "consul_clients"],
        }
        if hosts and i < len(hosts):
            body["host"] = hosts[i]  # lab-vm-1 on host-a, lab-vm-2 on host-b, …; the rest spread
        out[f"lab-vm-{i + 1}"] = body
    return out


def throughput(run, src: str, dst: str, dst_ip: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(MB/s, average RTT ms) from src to dst; ``run(node, *argv)`` runs in a machine."""
    import subprocess

    sink = subprocess.Popen(run(dst, "python3", "-c", SINK, popen=True))
    time.sleep(1.5)
    took = float(run(src, "python3", "-c", SEND.format(dst=dst_ip, n=BYTES)).strip())
    sink.wait(timeout=60)
    ping = run(src, "ping", "-c", "20", "-i", "0.2", "-q", dst_ip)
    rtt = float(re.search(r"= [\d.]+/([\d.]+)/", ping).group(1))  # type: ignore[union-attr]
    return BYTES / took / 1e6, rtt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=30)
    ap.add_argument("--hosts", type=int, default=3)
    args = ap.parse_args()
    names = [f"host-{chr(97 + i)}" for i in range(args.hosts)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        one = {
            "name": "ovb-mh-one",
            "underlay": {"subnet": "192.168.100.0/24"},
            "nodes": nodes(args.vms, None),
        }
        (work / "one.yml").write_text(yaml.safe_dump(one))
        try:
            t0 = time.monotonic()
            ovlab("lab", "up", str(work / "one.yml"), "--provision", "--json")
            single = time.monotonic() - t0
        finally:
            ovlab("lab", "down", "ovb-mh-one", check=False)
        with hosts_lab(work, names) as h:
            topo = write_multi(work / "multi.yml", "ovb-mh", h, nodes(args.vms, names))
            try:
                t0 = time.monotonic()
                h.ovlab("lab", "up", str(topo), "--provision", "--json", timeout=3600)
                multi = time.monotonic() - t0

                def in_host(node: str, *argv: str, popen: bool = False):  # type: ignore[no-untyped-def]
                    cmd = ["nsenter", "-t", str(h.lab.pid(node)), "-n", "--", *argv]
                    return (
                        cmd
                        if popen
                        else __import__("subprocess")
                        .run(cmd, capture_output=True, text=True, check=True)
                        .stdout
                    )

                def in_vm(node: str, *argv: str, popen: bool = False):  # type: ignore[no-untyped-def]
                    cmd = [
                        "nsenter",
                        f"--net={h.access.underlay}",
                        "--",
                        *h.env_argv(),
                        "exec",
                        f"ovb-mh/{node}",
                        "--",
                        *argv,
                    ]
                    return cmd if popen else h.ovlab("exec", f"ovb-mh/{node}", "--", *argv).stdout

                direct = throughput(in_host, "host-a", "host-b", h.address("host-b"))
                stitched = throughput(in_vm, "lab-vm-1", "lab-vm-2", "192.168.100.11")
            finally:
                h.ovlab("lab", "down", "ovb-mh", check=False)
    print(f"{args.vms}-VM lab up+provisioned, 1 machine        {single:7.1f} s  baseline")
    print(
        f"{args.vms}-VM lab up+provisioned, {args.hosts} hosts          {multi:7.1f} s  "
        f"{multi / single:4.2f}x"
    )
    print(f"hosts' direct path      {direct[0]:8.1f} MB/s  RTT {direct[1]:6.3f} ms  baseline")
    print(
        f"stitched underlay       {stitched[0]:8.1f} MB/s  RTT {stitched[1]:6.3f} ms  "
        f"{stitched[0] / direct[0]:4.2f}x throughput, {stitched[1] / direct[1]:4.2f}x RTT"
    )


if __name__ == "__main__":
    main()
