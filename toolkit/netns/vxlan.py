"""VXLAN devices' tunnel settings, decoded from an RTM_GETLINK dump.

pyroute2 0.9 misreads or lacks several IFLA_VXLAN_* attributes (TTL_INHERIT is
sent as a u8 but decoded as a flag, so it always reads "set"; VNIFILTER is
unknown), so this module walks IFLA_LINKINFO → IFLA_INFO_DATA itself over
toolkit.netns.lean's socket. What it keeps, and how, follows iproute2 6.1's
``ip -j -d link show type vxlan`` (ip/iplink_vxlan.c, vxlan_print_opt); the
attribute numbers are the kernel's (include/uapi/linux/if_link.h), filled by
vxlan_fill_info() in drivers/net/vxlan/vxlan_core.c.
"""

from __future__ import annotations

import _socket as socket
import struct
from typing import Any

from toolkit.netns import lean
from toolkit.netns.records import Vxlan

IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO = 3, 4, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF

# IFLA_VXLAN_* (include/uapi/linux/if_link.h)
ID, GROUP, LINK, LOCAL, TTL, TOS, LEARNING, AGEING, LIMIT, PORT_RANGE = range(1, 11)
PROXY, RSC, L2MISS, L3MISS, PORT, GROUP6, LOCAL6 = range(11, 18)
UDP_CSUM, UDP_ZERO_CSUM6_TX, UDP_ZERO_CSUM6_RX, REMCSUM_TX, REMCSUM_RX = range(18, 23)
GBP, REMCSUM_NOPARTIAL, COLLECT_METADATA, LABEL, GPE, TTL_INHERIT, DF, VNIFILTER = range(23, 31)

_U8 = struct.Struct("=B")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct("!H")
_BE32 = struct.Struct("!I")
_RANGE = struct.Struct("!HH")
_DF_NAMES = {0: "unset", 1: "set", 2: "inherit"}  # enum ifla_vxlan_df


def _nested(buf: bytearray, a: int, end: int) -> dict[int, tuple[int, int]]:
    """Attribute type -> (payload start, payload end) of one attribute level."""
    out: dict[int, tuple[int, int]] = {}
    while a + 4 <= end:
        alen, atype = struct.unpack_from("=HH", buf, a)
        if alen < 4:
            break
        out[atype & NLA_TYPE_MASK] = (a + 4, a + alen)
        a += (alen + 3) & ~3
    return out


def _addr(buf: bytearray, span: tuple[int, int] | None) -> str | None:
    """An IPv4/IPv6 address attribute, None when absent or all zeros (as iproute2 skips it)."""
    if span is None:
        return None
    raw = bytes(buf[span[0] : span[1]])
    if not raw.strip(b"\0"):
        return None
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _is_multicast(addr: str) -> bool:
    return addr.startswith("ff") if ":" in addr else 224 <= int(addr.split(".", 1)[0]) <= 239


def decode_info_data(buf: bytearray, start: int, end: int, dev_name: Any) -> dict[str, Any]:
    """IFLA_INFO_DATA of one VXLAN device as Vxlan's fields (all but netns, name, mtu).

    ``dev_name`` maps an ifindex to a name in the dumped namespace (iproute2's
    ll_index_to_name, "ifN" for one it cannot name).
    """
    at = _nested(buf, start, end)

    def u8(attr: int) -> int | None:
        span = at.get(attr)
        return None if span is None else _U8.unpack_from(buf, span[0])[0]

    def u32(attr: int) -> int | None:
        span = at.get(attr)
        return None if span is None else _U32.unpack_from(buf, span[0])[0]

    external = bool(u8(COLLECT_METADATA))
    f: dict[str, Any] = {"external": external, "vnifilter": bool(u8(VNIFILTER))}
    # A metadata-mode device takes its VNI from each packet's tunnel metadata;
    # the kernel reports id 0, which is no VNI at all.
    f["id"] = None if external else u32(ID)
    # One attribute per family carries the peer: multicast = group, else remote.
    for attr, remote_key, group_key in ((GROUP, "remote", "group"), (GROUP6, "remote6", "group6")):
        peer = _addr(buf, at.get(attr))
        f[remote_key] = None if peer is None or _is_multicast(peer) else peer
        f[group_key] = peer if peer is not None and _is_multicast(peer) else None
    f["local"] = _addr(buf, at.get(LOCAL))
    f["local6"] = _addr(buf, at.get(LOCAL6))
    link = u32(LINK)
    f["dev"] = dev_name(link) if link else None
    span = at.get(PORT_RANGE)
    f["port_range"] = None if span is None else _RANGE.unpack_from(buf, span[0])
    span = at.get(PORT)
    f["port"] = None if span is None else _BE16.unpack_from(buf, span[0])[0]
    f["learning"] = bool(u8(LEARNING))
    f["proxy"] = bool(u8(PROXY))
    f["rsc"] = bool(u8(RSC))
    f["l2miss"] = bool(u8(L2MISS))
    f["l3miss"] = bool(u8(L3MISS))
    tos = u8(TOS)
    f["tos"] = f"{tos:#x}" if tos else None  # 0x1 is "inherit", printed so by ip -j too
    inherit = bool(u8(TTL_INHERIT))
    f["ttl"] = None if inherit else u8(TTL)  # 0 is "auto": the route's hop limit
    f["ttl_inherit"] = inherit
    df = u8(DF)
    f["df"] = None if df is None else _DF_NAMES.get(df, str(df))
    span = at.get(LABEL)
    label = None if span is None else _BE32.unpack_from(buf, span[0])[0]
    f["label"] = f"{label:#x}" if label else None
    f["ageing"] = u32(AGEING)
    f["limit"] = u32(LIMIT) or None  # maxaddress; 0 means no limit and is not shown
    f["udp_csum"] = bool(u8(UDP_CSUM))
    f["udp_zero_csum6_tx"] = bool(u8(UDP_ZERO_CSUM6_TX))
    f["udp_zero_csum6_rx"] = bool(u8(UDP_ZERO_CSUM6_RX))
    f["remcsum_tx"] = bool(u8(REMCSUM_TX))
    f["remcsum_rx"] = bool(u8(REMCSUM_RX))
    f["gbp"] = GBP in at  # flags: present or not
    f["gpe"] = GPE in at
    return f


def _dump_body() -> bytes:
    """RTM_GETLINK request: no statistics, and only kind "vxlan" (kernels ≥ 4.20 filter)."""
    ext_mask = struct.pack("=HHI", 8, lean.IFLA_EXT_MASK, lean.RTEXT_FILTER_SKIP_STATS)
    kind = struct.pack("=HH", 10, IFLA_INFO_KIND) + b"vxlan\0\0\0"
    linkinfo = struct.pack("=HH", 4 + len(kind), IFLA_LINKINFO | NLA_F_NESTED) + kind
    return struct.pack("=BxHiII", 0, 0, 0, 0, 0) + ext_mask + linkinfo


def devices(sock: lean.RtSocket, netns: str | None = None) -> list[Vxlan]:
    """Every VXLAN device in the socket's namespace, in ifindex order, as iproute2 shows it."""
    buf = sock.buf
    found: list[tuple[str, int | None, bytearray]] = []  # name, mtu, IFLA_INFO_DATA
    for mtype, off, end in sock.messages(lean.RTM_GETLINK, _dump_body()):
        if mtype != lean.RTM_NEWLINK:
            continue
        at = _nested(buf, off + 32, end)
        info = at.get(IFLA_LINKINFO)
        if info is None or IFLA_IFNAME not in at:
            continue
        inner = _nested(buf, *info)
        kind = inner.get(IFLA_INFO_KIND)
        if kind is None or bytes(buf[kind[0] : kind[1]]).rstrip(b"\0") != b"vxlan":
            continue  # an older kernel ignored the kind filter
        name, mtu = at[IFLA_IFNAME], at.get(IFLA_MTU)
        data = inner.get(IFLA_INFO_DATA, (0, 0))
        # The receive buffer is reused per datagram: copy this device's bytes out now.
        found.append((
            bytes(buf[name[0] : name[1]]).rstrip(b"\0").decode(errors="replace"),
            None if mtu is None else _U32.unpack_from(buf, mtu[0])[0],
            bytearray(buf[data[0] : data[1]]),
        ))  # fmt: skip
    if not found:
        return []
    # IFLA_VXLAN_LINK is an ifindex: name it with a second, full dump (the first was filtered).
    names = lean.link_names(sock)[0]

    def dev_name(index: int) -> str:
        return names.get(index) or f"if{index}"

    return [
        Vxlan(netns=netns, name=name, mtu=mtu, **decode_info_data(raw, 0, len(raw), dev_name))
        for name, mtu, raw in found
    ]
