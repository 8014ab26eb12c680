"""`ovlab decode` throughput against tshark on a generated 1,000,000-packet VXLAN capture.

Baseline: ``tshark -r F -T fields -e ip.src -e ip.dst -e vxlan.vni …`` run on the
same file in the same run. Targets (issue 12): ``ovlab decode --stats`` at least 15x
tshark's packets per second, ``--json`` at least 5x, peak RSS under 200 MB. The cases
run interleaved, BENCH_DECODE_RUNS rounds (default 3), medians reported; each ratio is
given of wall time and of CPU time (user + system), which moves less with the load
others put on a shared machine.

``--stats`` of a classic pcap takes toolkit.capture.fastcount (no tuple per frame); the
row pipeline it replaced (stats.aggregate over vxlan.rows) is timed beside it, in
process. With BENCH_DECODE_CALLGRIND=1, instructions per packet are counted too
(valgrind: the difference between a 10k- and a 20k-packet file), a figure the
machine's load does not move at all.

The file is written from a few byte templates (inner ICMP echo, TCP, ARP) with
varying VNI, outer source port, inner addresses, ports, sequence numbers and
timestamps: no scapy per packet, so a million packets take seconds. It lives
in a temporary directory that is removed at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVLAB = [sys.executable, "-m", "toolkit.cli.main"]
PACKETS = int(os.environ.get("BENCH_DECODE_PACKETS", "1000000"))
RSS_LIMIT_MB = 200.0


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _outer(inner: bytes) -> bytes:
    """Ethernet/IPv4/UDP/VXLAN headers around an inner frame (VNI and sport patched later)."""
    udp_len = 8 + 8 + len(inner)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0x4000, 64, 17, 0,
                               bytes([192, 168, 100, 24]), bytes([192, 168, 100, 23])))  # fmt: skip
    struct.pack_into("!H", ip, 10, _csum(bytes(ip)))
    eth = bytes.fromhex("02fc0000000102fc000000020800")
    udp = struct.pack("!HHHH", 40000, 4789, udp_len, 0)
    vx = struct.pack("!BBHI", 0x08, 0, 0, 256 << 8)
    return eth + bytes(ip) + udp + vx + inner


def _inner_ip(proto: int, payload: bytes) -> bytes:
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, 0x4000, 64, proto,
                               0, bytes([10, 0, 0, 3]), bytes([10, 0, 0, 2])))  # fmt: skip
    struct.pack_into("!H", ip, 10, _csum(bytes(ip)))
    eth = bytes.fromhex("02420a00000202420a0000030800")
    return eth + bytes(ip) + payload


def templates() -> list[tuple[bytes, str]]:
    """(packet bytes, kind) templates: ICMP echo request/reply, TCP, ARP."""
    icmp = struct.pack("!BBHHH", 8, 0, 0, 77, 1) + bytes(range(56))
    reply = struct.pack("!BBHHH", 0, 0, 0, 77, 1) + bytes(range(56))
    tcp = struct.pack("!HHIIBBHHH", 43210, 80, 1, 0, 0x50, 0x18, 502, 0, 0) + b"x" * 64
    arp = bytes.fromhex("ffffffffffff" "02420a000003" "0806") + struct.pack(
        "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes.fromhex("02420a000003"),
        bytes([10, 0, 0, 3]), b"\0" * 6, bytes([10, 0, 0, 2]),
    )  # fmt: skip
    return [
        (_outer(_inner_ip(1, icmp)), "icmp"),
        (_outer(_inner_ip(1, reply)), "icmp"),
        (_outer(_inner_ip(6, tcp)), "tcp"),
        (_outer(arp), "arp"),
    ]


def generate(path: Path, count: int) -> None:
    """Write ``count`` VXLAN packets cycling through the templates with varying fields."""
    tpls = templates()
    rec = struct.Struct("<IIII")
    t0 = 1_700_000_000
    with open(path, "wb", buffering=1 << 20) as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i in range(count):
            tpl, kind = tpls[i % 4]
            pkt = bytearray(tpl)
            struct.pack_into("!H", pkt, 34, 32768 + (i * 7919) % 28000)  # outer sport: flow hash
            pkt[46:49] = (256 + (i >> 10) % 4).to_bytes(3, "big")  # VNI 256..259
            if kind != "arp":
                pkt[79] = 3 + (i >> 3) % 50  # inner source address 10.0.0.x
            if kind == "icmp":
                struct.pack_into("!H", pkt, 90, i & 0xFFFF)  # echo sequence
            elif kind == "tcp":
                struct.pack_into("!H", pkt, 84, 1024 + (i >> 4) % 40000)  # client port
            fh.write(rec.pack(t0 + i // 1000, (i % 1000) * 1000, len(pkt), len(pkt)))
            fh.write(pkt)


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one command, its output thrown away."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def tshark_argv(pcap: Path) -> list[str]:
    return [
        "tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "ip.dst",
        "-e", "udp.srcport", "-e", "udp.dstport", "-e", "vxlan.vni", "-e", "vxlan.flags",
        "-e", "eth.src", "-e", "eth.dst",
    ]  # fmt: skip


ROW_PIPELINE = """
import sys
from toolkit.capture import pcapio, vxlan
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.stats import aggregate
with pcapio.CaptureReader(sys.argv[1]) as reader:
    frags = Reassembler()
    aggregate(vxlan.rows(reader, vxlan.KNOWN_PORTS, frags), frags=frags)
"""
FASTCOUNT = """
import sys
from toolkit.capture import fastcount, pcapio, vxlan
with pcapio.CaptureReader(sys.argv[1]) as reader:
    fastcount.count(reader, vxlan.KNOWN_PORTS)
"""


def instructions(argv: list[str]) -> int:
    """Instructions one command executes, as valgrind's callgrind counts them."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          *argv], capture_output=True, text=True, cwd=ROOT).stderr  # fmt: skip
    return int(out.split("Collected :")[1].split()[0])


def per_packet(tmp: Path) -> None:
    small, large = tmp / "10k.pcap", tmp / "20k.pcap"
    generate(small, 10_000)
    generate(large, 20_000)
    print("\ninstructions per packet (callgrind, 20k-packet file minus 10k-packet file):")
    cases = {
        "tshark -T fields": lambda f: tshark_argv(f),
        "stats: row pipeline (before)": lambda f: [sys.executable, "-c", ROW_PIPELINE, str(f)],
        "stats: fastcount": lambda f: [sys.executable, "-c", FASTCOUNT, str(f)],
    }
    got = {k: (instructions(c(large)) - instructions(c(small))) / 10_000 for k, c in cases.items()}
    base = got["tshark -T fields"]
    for label, n in got.items():
        print(f"  {label:32s} {n:10,.0f} instructions/packet   tshark/this {base / n:5.1f}x")


def main() -> None:
    if not shutil.which("tshark"):
        raise SystemExit("tshark is not installed (apt-get install tshark)")
    runs = int(os.environ.get("BENCH_DECODE_RUNS", "3"))
    tmp = Path(tempfile.mkdtemp(prefix="ovlab-bench-decode-"))
    try:
        pcap = tmp / "vxlan-1m.pcap"
        t = time.perf_counter()
        generate(pcap, PACKETS)
        size = pcap.stat().st_size / 1e6
        print(f"generated {PACKETS} packets ({size:.0f} MB) in {time.perf_counter() - t:.1f} s")
        cases = {
            "tshark -T fields (baseline)": (tshark_argv(pcap), 1.0),
            "ovlab decode --stats": ([*OVLAB, "decode", str(pcap), "--stats"], 15.0),
            "ovlab decode --stats --json": ([*OVLAB, "decode", str(pcap), "--stats", "--json"],
                                            15.0),
            "ovlab decode --json": ([*OVLAB, "decode", str(pcap), "--json"], 5.0),
            "stats: row pipeline, in process": (
                [sys.executable, "-c", ROW_PIPELINE, str(pcap)], 0.0),
            "stats: fastcount, in process": ([sys.executable, "-c", FASTCOUNT, str(pcap)], 0.0),
            "floor: python -c pass": ([sys.executable, "-c", "pass"], 0.0),
        }  # fmt: skip
        samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for _ in range(runs):
            for label, (argv, _target) in cases.items():
                samples[label].append(run(argv))
        med = {
            k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                max(x[2] for x in v))
            for k, v in samples.items()
        }  # fmt: skip
        base = med["tshark -T fields (baseline)"]
        print(f"median of {runs} interleaved rounds; ratio = tshark's time / this time")
        ok = True
        for label, (_argv, target) in cases.items():
            wall, cpu, rss = med[label]
            line = (
                f"{label:32s} {wall:7.2f} s (cpu {cpu:6.2f} s) {PACKETS / wall:10,.0f} pkt/s "
                f"rss {rss:5.0f} MB  ratio wall {base[0] / wall:5.1f}x cpu {base[1] / cpu:5.1f}x"
            )
            if target > 1:
                good = base[0] / wall >= target and rss < RSS_LIMIT_MB
                ok &= good
                line += f"  (target {target:.0f}x, rss < {RSS_LIMIT_MB:.0f} MB) "
                line += "OK" if good else "MISSED"
            print(line)
        if os.environ.get("BENCH_DECODE_CALLGRIND") and shutil.which("valgrind"):
            per_packet(tmp)
        if not ok:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
