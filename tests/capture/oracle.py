"""tshark as the oracle: its per-packet fields, and a field-by-field comparison with
``ovlab decode --json`` on the same file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ovlab

FIELDS = [
    "frame.number", "frame.len", "frame.protocols", "eth.src", "eth.dst", "vlan.id",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
    "vxlan.vni", "vxlan.flags", "vxlan.gbp", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
    "icmp.ident", "icmp.seq", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number",
    "tcp.srcport", "tcp.dstport", "frame.cap_len", "ip.flags.mf", "ip.frag_offset",
    "ipv6.fraghdr.more", "ipv6.fraghdr.offset", "_ws.expert.message",
]  # fmt: skip
# tshark's expert messages for a UDP or IP length longer than the bytes there.
LENGTH_ERRORS = (
    "Bad length value",
    "length exceeds packet length",
    "length exceeds framing length",
)


def need_tshark() -> None:
    """Skip when tshark is missing (make setup installs it)."""
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")


def tshark(path: Path, ports: tuple[int, ...] = ()) -> list[dict[str, list[str]]]:
    """Every packet's FIELDS, each as the list of its occurrences (outer first)."""
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a"]
    argv += ["-E", "separator=/t", "-E", "aggregator=,"]
    for p in ports:
        argv += ["-d", f"udp.port=={p},vxlan"]
    for f in FIELDS:
        argv += ["-e", f]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = []
    for line in proc.stdout.splitlines():
        cells = line.split("\t")
        row = {f: (c.split(",") if c else []) for f, c in zip(FIELDS, cells, strict=True)}
        row["_ws.expert.message"] = [cells[-1]]  # free text: commas are not separators here
        rows.append(row)
    return rows


def _outer_fragment(t: dict[str, list[str]], v6: bool) -> bool:
    """Whether tshark shows the outer IP header as a fragment (before any reassembly)."""
    if v6:
        return bool(t["ipv6.fraghdr.offset"]) and (
            t["ipv6.fraghdr.offset"][0] != "0" or t["ipv6.fraghdr.more"][0] in ("1", "True")
        )
    if not t["ip.flags.mf"]:
        return False
    return t["ip.flags.mf"][0] in ("1", "True") or t["ip.frag_offset"][0] != "0"


def tshark_count(path: Path) -> int:
    """How many packets tshark reads from a file."""
    proc = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return len(proc.stdout.split())


def decode(path: Path, *args: str) -> list[dict[str, Any]]:
    """``ovlab decode FILE --json`` as parsed JSON Lines."""
    out = ovlab("decode", str(path), "--json", *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def _int(text: str) -> int:
    return int(text, 0)


def compare(path: Path, ports: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """Assert our decode of every packet agrees with tshark, field by field; return ours."""
    extra = [a for p in ports for a in ("--vxlan-port", str(p))]
    ours = decode(path, *extra)
    theirs = tshark(path, ports)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        where = f"packet {o['n']} ({t['frame.protocols']})"
        assert o["length"] == int(t["frame.len"][0]), where
        layers = t["frame.protocols"][0].split(":")
        is_vx = "vxlan" in layers
        if o["kind"] in ("truncated", "malformed") and o["vni"] is None:
            # A VXLAN port but no VXLAN header: cut before it, or a UDP length below 8,
            # where tshark stops at UDP.
            assert o["outer_dport"] is not None, where
        else:
            assert (o["kind"] in ("vxlan", "malformed", "truncated")) == is_vx, where
        outer_v6 = (
            layers.index("ipv6") < layers.index("ip")
            if "ip" in layers and "ipv6" in layers
            else "ipv6" in layers
        )
        # Fragments: ours is "fragment" exactly where tshark shows an outer fragment it did
        # not complete a datagram with; where it did, both decode the whole datagram.
        if "ip" in layers or "ipv6" in layers:
            frag = _outer_fragment(t, outer_v6)
            # tshark also decodes a first fragment the capture cut, as far as it goes.
            note = o["note"] or ""
            joined = note.startswith(("reassembled from", "first fragment, cut"))
            assert (o["kind"] == "fragment") == (frag and not joined), where
            assert not joined or frag, where
        # Truncation: ours is "truncated" when the capture cut the datagram or a length lies.
        expert = t["_ws.expert.message"][0]
        if o["kind"] == "truncated":
            cut = int(t["frame.cap_len"][0]) < int(t["frame.len"][0])
            assert cut or any(e in expert for e in LENGTH_ERRORS), where
        elif o["kind"] == "vxlan":
            assert not any(e in expert for e in LENGTH_ERRORS), where
        if "ip" in layers or "ipv6" in layers:
            src, dst = ("ipv6.src", "ipv6.dst") if outer_v6 else ("ip.src", "ip.dst")
            assert (o["outer_src"], o["outer_dst"]) == (t[src][0], t[dst][0]), where
        if t["udp.srcport"]:
            assert o["outer_sport"] == int(t["udp.srcport"][0]), where
            assert o["outer_dport"] == int(t["udp.dstport"][0]), where
        if not is_vx:
            assert o["vni"] is None, where
            continue
        if t["vxlan.vni"]:
            assert o["vni"] == int(t["vxlan.vni"][0]), where
        if o["flags"] is not None:
            assert o["flags"] == _int(t["vxlan.flags"][0]), where
            if o["flags"] & 0x8000:
                assert o["gbp"] == int(t["vxlan.gbp"][0]), where
        vx = layers.index("vxlan")
        inner = layers[vx + 1 :]

        def first(field: str, layer: str, t: dict = t, before: list = layers[:vx]) -> str | None:
            """The field's first occurrence inside the tunnel (outer ones come before), or
            None when tshark shows the layer but not the field (a header cut short)."""
            got = t[field]
            k = before.count(layer)
            return got[k] if len(got) > k else None

        if "eth" not in inner or len(t["eth.src"]) <= layers[:vx].count("eth"):
            assert o["inner_src_mac"] is None, where
            continue
        want = (first("eth.src", "eth"), first("eth.dst", "eth"))
        assert (o["inner_src_mac"], o["inner_dst_mac"]) == want, where
        if "vlan" in inner:
            assert o["vlan"] == int(t["vlan.id"][-1]), where  # the innermost tag
        else:
            assert o["vlan"] is None, where
        l3 = next((x for x in inner if x in ("arp", "ip", "ipv6")), None)
        l4 = next((x for x in inner if x in ("icmp", "icmpv6", "tcp", "udp")), None)
        if l3 == "arp":
            want = (t["arp.src.proto_ipv4"][0], t["arp.dst.proto_ipv4"][0])
            assert (o["proto"], o["inner_src"], o["inner_dst"]) == ("ARP", *want), where
        elif l3 in ("ip", "ipv6"):
            want = (first(f"{l3}.src", l3), first(f"{l3}.dst", l3))
            assert (o["inner_src"], o["inner_dst"]) == want, where
        else:
            assert o["inner_src"] is None, where
        m = re.search(r"echo (request|reply) id=(\d+) seq=(\d+)", o["summary"])
        if l4 == "icmp" and t["icmp.ident"]:
            assert m and o["proto"] == "ICMP", where
            assert int(m.group(2)) == int(t["icmp.ident"][0]), where
            assert int(m.group(3)) == int(t["icmp.seq"][0]), where
        elif l4 == "icmp":
            assert o["proto"] == "ICMP" and not m, where
        elif l4 == "icmpv6" and t["icmpv6.echo.identifier"]:
            assert m and o["proto"] == "ICMPv6", where
            assert int(m.group(2)) == _int(t["icmpv6.echo.identifier"][0]), where
            assert int(m.group(3)) == _int(t["icmpv6.echo.sequence_number"][0]), where
        elif l4 in ("tcp", "udp"):
            assert o["proto"] == l4.upper(), where
            want = (int(first(f"{l4}.srcport", l4)), int(first(f"{l4}.dstport", l4)))
            assert (o["sport"], o["dport"]) == want, where
    return ours
