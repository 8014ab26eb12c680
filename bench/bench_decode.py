"""`ovlab decode` throughput against tshark on a generated 1,000,000-packet VXLAN capture.

Baseline: ``tshark -r F -T fields -e ip.src -e ip.dst -e vxlan.vni …`` run on the
same file in the same run. Target: ``ovlab decode --json`` and ``--stats`` at
least 5x tshark's packets per second, with peak RSS under 200 MB. The ratio
printed is ovlab's throughput over tshark's.

The file is written from a few byte templates (inner ICMP echo, TCP, ARP) with
varying VNI, outer source port, inner addresses, ports, sequence numbers and
timestamps: no scapy per packet, so a million packets take seconds. It lives
in a temporary directory that is removed at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVLAB = [sys.executable, "-m", "toolkit.cli.main"]
PACKETS = int(os.environ.get("BENCH_DECODE_PACKETS", "1000000"))
TARGET_RATIO = 5.0
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


def run(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one command, its output thrown away."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    if not shutil.which("tshark"):
        raise SystemExit("tshark is not installed (apt-get install tshark)")
    tmp = Path(tempfile.mkdtemp(prefix="ovlab-bench-decode-"))
    try:
        pcap = tmp / "vxlan-1m.pcap"
        t = time.perf_counter()
        generate(pcap, PACKETS)
        size = pcap.stat().st_size / 1e6
        print(f"generated {PACKETS} packets ({size:.0f} MB) in {time.perf_counter() - t:.1f} s")
        tshark = [
            "tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "ip.dst",
            "-e", "udp.srcport", "-e", "udp.dstport", "-e", "vxlan.vni", "-e", "vxlan.flags",
            "-e", "eth.src", "-e", "eth.dst",
        ]  # fmt: skip
        base_s, base_rss = run(tshark)
        base = PACKETS / base_s
        print(f"{'tshark -T fields (baseline)':32s} {base_s:7.2f} s {base:10,.0f} pkt/s "
              f"rss {base_rss:6.0f} MB")  # fmt: skip
        ok = True
        for label, args in (
            ("ovlab decode --json", ["decode", str(pcap), "--json"]),
            ("ovlab decode --stats", ["decode", str(pcap), "--stats"]),
            ("ovlab decode --stats --json", ["decode", str(pcap), "--stats", "--json"]),
        ):
            secs, rss = run([*OVLAB, *args])
            rate = PACKETS / secs
            ratio = rate / base
            good = ratio >= TARGET_RATIO and rss < RSS_LIMIT_MB
            ok &= good
            print(
                f"{label:32s} {secs:7.2f} s {rate:10,.0f} pkt/s rss {rss:6.0f} MB   "
                f"ratio {ratio:5.1f}x (target {TARGET_RATIO:.0f}x, rss < {RSS_LIMIT_MB:.0f} MB) "
                f"{'OK' if good else 'MISSED'}"
            )
        if not ok:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
