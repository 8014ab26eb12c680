"""iproute2's view of VXLAN devices, reshaped into the keys ``ovlab netns vxlan --json`` uses.

The oracle is ``ip -j -d link show type vxlan`` (iproute2's own decoder). Only
the reshaping lives here, and it is spelled out key by key: ifname -> name,
link -> dev, port_range {low, high} -> [low, high], booleans iproute2 leaves
out when false -> false, no id for a metadata-mode (external) device. iproute2's
JSON drops "ttl" for ttl inherit without saying so; its text output says
"ttl inherit", which is where ttl_inherit comes from.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

BOOLS = ("external", "vnifilter", "learning", "proxy", "rsc", "l2miss", "l3miss", "udp_csum",
         "udp_zero_csum6_tx", "udp_zero_csum6_rx", "remcsum_tx", "remcsum_rx", "gbp",
         "gpe")  # fmt: skip
# info_data keys iproute2 6.1 prints, besides the booleans; each must reach the record.
VALUES = ("id", "remote", "group", "remote6", "group6", "local", "local6", "port", "tos", "ttl",
          "df", "label", "ageing", "limit")  # fmt: skip


def ip(netns: str, *argv: str) -> str:
    """stdout of ``ip -n NETNS ARGV``."""
    return subprocess.run(
        ["ip", "-n", netns, *argv], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def expected(netns: str) -> list[dict[str, Any]]:
    """Every VXLAN device of a namespace as iproute2 shows it, in the view's keys."""
    vxlan_lines = {}  # ifindex -> the "    vxlan id …" line of ip -d link's text
    index = 0
    for line in ip(netns, "-d", "link", "show", "type", "vxlan").splitlines():
        if line[:1].isdigit():
            index = int(line.split(":", 1)[0])
        elif line.startswith("    vxlan "):
            vxlan_lines[index] = line + " "
    out = []
    for link in json.loads(ip(netns, "-j", "-d", "link", "show", "type", "vxlan") or "[]"):
        data = dict(link["linkinfo"]["info_data"])
        unknown = set(data) - set(BOOLS) - set(VALUES) - {"link", "port_range"}
        assert not unknown, f"iproute2 prints {unknown} the view does not carry"
        row: dict[str, Any] = {"name": link["ifname"]}
        row.update({k: data.get(k, False) for k in BOOLS})
        row.update({k: data[k] for k in VALUES if k in data})
        if data.get("external"):
            row.pop("id", None)  # metadata mode: no VNI of its own, never "VNI 0"
        if "link" in data:
            row["dev"] = data["link"]
        if "port_range" in data:
            row["port_range"] = [data["port_range"]["low"], data["port_range"]["high"]]
        row["ttl_inherit"] = " ttl inherit " in vxlan_lines[link["ifindex"]]
        row["mtu"] = link["mtu"]
        out.append(row)
    return out


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The view's rows without the netns column, keys sorted (order is not compared)."""
    return [dict(sorted((k, v) for k, v in r.items() if k != "netns")) for r in rows]
