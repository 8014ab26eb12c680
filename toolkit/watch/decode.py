"""One rtnetlink message -> (table, key, object, op), the shape every watch record uses.

Objects are plain dicts named like iproute2's JSON (``ip -j``, ``bridge -j``) so an
event can be checked against ``ip monitor`` by eye. Keys identify an object inside
its namespace's table, the way the kernel does: a link by ifindex, a neighbour by
(device, destination), an FDB entry by (device, MAC, VLAN, remote), a route by
(table, destination, metric). Messages come from pyroute2's parser (MarshalRtnl).

VXLAN miss notifications are RTM_GETNEIGH messages the kernel multicasts on the
neighbour group when ``l2miss``/``l3miss`` is set and a lookup fails: AF_INET (or
AF_INET6) with NDA_DST for an L3 miss, AF_BRIDGE with NDA_LLADDR for an L2 miss
(drivers/net/vxlan/vxlan_core.c, vxlan_ip_miss() and vxlan_fdb_miss()).
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from toolkit.netns.collect import link_flags
from toolkit.netns.lean import fdb_state, nud_names

RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
AF_BRIDGE = 7

OPS = {
    RTM_NEWLINK: ("link", "new"),
    RTM_DELLINK: ("link", "del"),
    RTM_NEWADDR: ("addr", "new"),
    RTM_DELADDR: ("addr", "del"),
    RTM_NEWROUTE: ("route", "new"),
    RTM_DELROUTE: ("route", "del"),
    RTM_NEWNEIGH: ("neigh", "new"),
    RTM_DELNEIGH: ("neigh", "del"),
    RTM_GETNEIGH: ("miss", "miss"),
}
TABLES = ("link", "addr", "neigh", "fdb", "route")
_RT_TABLES = {254: "main", 255: "local", 253: "default"}
_RT_TYPES = {
    1: "unicast",
    2: "local",
    3: "broadcast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
}


def _family(fam: int) -> str:
    return "inet6" if fam == socket.AF_INET6 else "inet"


def _link(msg: Any, names: dict[int, str]) -> tuple[str, dict[str, Any]]:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    master = msg.get_attr("IFLA_MASTER")
    obj = {
        "ifindex": msg["index"],
        "name": msg.get_attr("IFLA_IFNAME"),
        "flags": list(link_flags(msg["flags"])),
        "operstate": msg.get_attr("IFLA_OPERSTATE"),
        "mtu": msg.get_attr("IFLA_MTU"),
        "mac": msg.get_attr("IFLA_ADDRESS"),
        "master": names.get(master, master) if master else None,
        "kind": kind,
    }
    if kind == "vxlan":
        obj["vxlan"] = _vxlan(info.get_attr("IFLA_INFO_DATA"))
    return str(msg["index"]), {k: v for k, v in obj.items() if v is not None}


def _vxlan(data: Any) -> dict[str, Any] | None:
    """The tunnel settings the doctor judges (vxlan_fill_info(), vxlan_core.c)."""
    if data is None:
        return None
    out = {
        "id": data.get_attr("IFLA_VXLAN_ID"),
        "port": data.get_attr("IFLA_VXLAN_PORT"),
        "local": data.get_attr("IFLA_VXLAN_LOCAL"),
        "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING")),
        "proxy": bool(data.get_attr("IFLA_VXLAN_PROXY")),
        "l2miss": bool(data.get_attr("IFLA_VXLAN_L2MISS")),
        "l3miss": bool(data.get_attr("IFLA_VXLAN_L3MISS")),
        "ageing": data.get_attr("IFLA_VXLAN_AGEING"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _addr(msg: Any, names: dict[int, str]) -> tuple[str, dict[str, Any]]:
    address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    dev = names.get(msg["index"], msg["index"])
    obj = {
        "dev": dev,
        "family": _family(msg["family"]),
        "address": address,
        "prefixlen": msg["prefixlen"],
        "scope": msg["scope"],
    }
    return f"{msg['index']}/{address}/{msg['prefixlen']}", obj


def _neigh(msg: Any, names: dict[int, str]) -> tuple[str, str, dict[str, Any]]:
    """Neighbour or FDB entry (AF_BRIDGE), table name first."""
    idx = msg["ifindex"]
    dev = names.get(idx, idx)
    mac = msg.get_attr("NDA_LLADDR")
    dst = msg.get_attr("NDA_DST")
    if msg["family"] == AF_BRIDGE:
        vlan = msg.get_attr("NDA_VLAN")
        master = msg.get_attr("NDA_MASTER")
        obj: dict[str, Any] = {"mac": mac, "dev": dev, "state": fdb_state(msg["state"])}
        if dst:
            obj["dst"] = dst
        if vlan:
            obj["vlan"] = vlan
        if master:
            obj["master"] = names.get(master, master)
        vni = msg.get_attr("NDA_VNI")
        if vni is not None:
            obj["vni"] = vni
        flags = []
        if msg["flags"] & 0x02:
            flags.append("self")
        if msg["flags"] & 0x04:
            flags.append("master")
        obj["flags"] = flags
        return "fdb", f"{idx}/{mac}/{vlan or 0}/{dst or ''}", obj
    obj = {"dst": dst, "dev": dev, "state": list(nud_names(msg["state"]))}
    if mac:
        obj["lladdr"] = mac
    return "neigh", f"{idx}/{dst}", obj


def _route(msg: Any, names: dict[int, str]) -> tuple[str, dict[str, Any]]:
    table = msg.get_attr("RTA_TABLE") or msg["table"]
    dst = msg.get_attr("RTA_DST")
    dst = f"{dst}/{msg['dst_len']}" if dst else "default"
    oif = msg.get_attr("RTA_OIF")
    metric = msg.get_attr("RTA_PRIORITY")
    obj = {
        "dst": dst,
        "family": _family(msg["family"]),
        "type": _RT_TYPES.get(msg["type"], str(msg["type"])),
        "table": _RT_TABLES.get(table, str(table)),
        "gateway": msg.get_attr("RTA_GATEWAY"),
        "dev": names.get(oif, oif) if oif else None,
        "prefsrc": msg.get_attr("RTA_PREFSRC"),
        "metric": metric,
    }
    key = f"{obj['family']}/{obj['table']}/{dst}/{msg['tos']}/{metric or 0}/{obj['type']}"
    return key, {k: v for k, v in obj.items() if v is not None}


def decode(msg: Any, names: dict[int, str]) -> tuple[str, str, str, dict[str, Any]] | None:
    """(table, op, key, object) of one message; None for a message watch does not follow.

    ``op`` is ``new``, ``del`` or ``miss``; ``table`` is one of TABLES, or ``miss``.
    ``names`` maps ifindex to device name in the message's namespace.
    """
    mtype = msg["header"]["type"]
    known = OPS.get(mtype)
    if known is None:
        return None
    table, op = known
    if table == "link":
        key, obj = _link(msg, names)
    elif table == "addr":
        key, obj = _addr(msg, names)
    elif table == "route":
        if msg["family"] not in (socket.AF_INET, socket.AF_INET6):
            return None
        key, obj = _route(msg, names)
    else:
        table2, key, obj = _neigh(msg, names)
        if op == "miss":
            obj["miss"] = "l2miss" if table2 == "fdb" else "l3miss"
        else:
            table = table2
    return table, op, key, obj


# --- the hot path: neighbour and FDB messages without pyroute2 ---------------------------
#
# Neighbour/FDB notifications are most of a busy stream (an FDB burst, ARP churn) and
# pyroute2's generic parser costs ~85 µs each here; this struct walk gives the same
# (table, op, key, object) in a few µs. tests/watch/test_decode.py keeps the two equal.

_NDMSG = struct.Struct("=BxxxiHBB")
_NLA = struct.Struct("=HH")
_NEIGH_OPS = {RTM_NEWNEIGH: "new", RTM_DELNEIGH: "del", RTM_GETNEIGH: "miss"}


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def neigh_fast(
    data: bytes | memoryview, off: int, end: int, mtype: int, names: dict[int, str]
) -> tuple[str, str, str, dict[str, Any]]:
    """``decode`` of one RTM_*NEIGH message at ``data[off:end]`` (nlmsghdr included)."""
    family, idx, state, flags, _ntype = _NDMSG.unpack_from(data, off + 16)
    a = off + 16 + _NDMSG.size
    mac = dst = None
    vlan = master = vni = None
    while a + 4 <= end:
        length, atype = _NLA.unpack_from(data, a)
        if length < 4:
            break
        val = bytes(data[a + 4 : a + length])
        atype &= 0x3FFF
        if atype == 1:
            dst = _ip(val)
        elif atype == 2:
            mac = val.hex(":")
        elif atype == 5:
            vlan = struct.unpack("=H", val[:2])[0]
        elif atype == 7:
            vni = struct.unpack("=I", val[:4])[0]
        elif atype == 9:
            master = struct.unpack("=I", val[:4])[0]
        a += (length + 3) & ~3
    op = _NEIGH_OPS[mtype]
    dev: Any = names.get(idx, idx)
    if family == AF_BRIDGE:
        obj: dict[str, Any] = {"mac": mac, "dev": dev, "state": fdb_state(state)}
        if dst:
            obj["dst"] = dst
        if vlan:
            obj["vlan"] = vlan
        if master:
            obj["master"] = names.get(master, master)
        if vni is not None:
            obj["vni"] = vni
        obj["flags"] = [n for bit, n in ((0x02, "self"), (0x04, "master")) if flags & bit]
        table, key = "fdb", f"{idx}/{mac}/{vlan or 0}/{dst or ''}"
    else:
        obj = {"dst": dst, "dev": dev, "state": list(nud_names(state))}
        if mac:
            obj["lladdr"] = mac
        table, key = "neigh", f"{idx}/{dst}"
    if op == "miss":
        obj["miss"] = "l2miss" if table == "fdb" else "l3miss"
        table = "miss"
    return table, op, key, obj
