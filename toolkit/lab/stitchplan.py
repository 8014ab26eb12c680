"""What a multi-host lab reserves to stitch its slices' underlays (pure; no I/O).

Each host's slice is an ordinary one-machine lab (its own underlay bridge). A kernel
VXLAN device per host joins that bridge to the other hosts' bridges, so the slices form
one L2 underlay; the lab's overlay VXLAN then rides inside it (VXLAN in VXLAN).

- UDP port ``STITCH_PORT`` (4799: unassigned by IANA; not 4789, the overlay's, nor
  8472, Linux's own default, nor 4790, VXLAN-GPE).
- VNI ``stitch_vni(lab)``: 0xF00000 + 20 bits of the lab name's CRC-32, far above the
  overlay's allocator (VNIs from 256 up, ``toolkit.overlay``), distinct per lab so two
  labs on the same hosts share the UDP socket yet never each other's frames (the kernel
  demultiplexes one port by VNI, drivers/net/vxlan/vxlan_core.c ``vxlan_vs_find_vni``).
- ``STITCH_OVERHEAD`` = 50 bytes: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
  (RFC 7348 §4), so the hosts' path MTU must be at least the lab underlay MTU + 50.
"""

from __future__ import annotations

import zlib
from itertools import combinations

from toolkit.lab.model import Topology

STITCH_PORT = 4799
STITCH_VNI_BASE = 0xF00000
STITCH_OVERHEAD = 50
STITCH_DEV = "stitch0"  # in each slice's underlay namespace, enslaved to br-underlay
SLICE_NAME_MAX = 20  # toolkit.lab.names.LAB_NAME_MAX


def stitch_vni(lab: str) -> int:
    """The lab's stitching VNI, in 0xF00000..0xFFFFFF (24-bit VNI space, RFC 7348 §5)."""
    return STITCH_VNI_BASE + (zlib.crc32(lab.encode()) & 0xFFFFF)


def slice_name(lab: str, host: str) -> str:
    """The name of ``lab``'s slice on ``host`` (a lab name of its own, at most 20 chars).

    Distinct per host so that hosts sharing a process table (namespace machines in the
    tests) never see one another's tagged processes as their own.
    """
    name = f"{lab}-{host}"
    if len(name) <= SLICE_NAME_MAX:
        return name
    return f"{lab[:13].rstrip('-')}-{zlib.crc32(name.encode()) & 0xFFFFFF:06x}"


def tunnel_pairs(topo: Topology) -> list[tuple[str, str]]:
    """Host pairs a tunnel joins (every pair: a full mesh, one FDB flood entry each way)."""
    return list(combinations([h.name for h in topo.hosts], 2))


def mtu_needed(topo: Topology) -> int:
    """The path MTU the hosts need between them: underlay MTU + 50 bytes of stitching."""
    return topo.underlay.mtu + STITCH_OVERHEAD


def plan(topo: Topology) -> dict[str, object]:
    """The stitching of a multi-host lab as plain data (``lab up --dry-run --json``)."""
    return {
        "port": STITCH_PORT,
        "vni": stitch_vni(topo.name),
        "path_mtu_needed": mtu_needed(topo),
        "tunnels": [list(p) for p in tunnel_pairs(topo)],
        "slices": {h.name: slice_name(topo.name, h.name) for h in topo.hosts},
    }
