"""``decode --stats`` of a classic pcap file straight from its buffers: no tuple per frame.

The counts are those of ``stats.aggregate(vxlan.rows(reader))``, entry for entry and in
the same order. Frames of the common shape (the fast lane of :func:`vxlan.rows`:
Ethernet, IPv4 without options and not a fragment, UDP to a VXLAN port with lengths that
agree, a clean VXLAN header, untagged inner IPv4 or ARP) are read with two struct calls
on the file's buffer and counted into their header's entry, found by the raw header
bytes: no frame tuple, no row, no summary text. Any other frame takes
:func:`vxlan.general_row` and :meth:`stats.Tally.feed`, as before.

Why: ``decode --stats`` of 1M VXLAN packets must run at 15x tshark ``-T fields``
(issue 12); the row pipeline spends ~3 us a packet, most of it on what stats throws
away. bench/bench_decode.py measures both against tshark in one run.
"""

from __future__ import annotations

import struct
from typing import Any

from toolkit.capture import vxlan
from toolkit.capture.pcapio import MAX_CAPLEN, NS, CaptureReader
from toolkit.capture.reassembly import Reassembler
from toolkit.capture.stats import MAX_FLOWS, Stats, Tally

_NO_PORTS = (None, None)


# The fields of vxlan._HEAD and vxlan._IN4 in one read, with the inner TCP/UDP ports after
# them (88 bytes). Address pairs (outer IPs, inner MACs, inner IPs) come as one bytes object
# each: three objects to make and hash per packet instead of six.
_ALL = struct.Struct("!12xHBxH2xI2x8s2xHH2xII12sHBxH2xHxB2x8sHH")


def count(
    reader: CaptureReader,
    ports: frozenset[int],
    frags: Reassembler | None = None,
    max_flows: int = MAX_FLOWS,
) -> Stats:
    """Statistics of every frame of a classic pcap ``reader`` (pcapng: use stats.aggregate).

    Same result as ``aggregate(vxlan.rows(reader, ports, frags), max_flows, frags)``.
    """
    if frags is None:
        frags = Reassembler()
    tally = Tally(max_flows)
    by_header = tally.by_header
    lt, mult = reader.linktype or 0, reader.frac_ns
    rec = reader.record_struct().unpack_from
    unpack = _ALL.unpack_from
    # Raw header bytes -> [header totals, its flows, the one flow of a port-less protocol]:
    # the tally's lists (see stats.Tally), shared.
    seen: dict[tuple[Any, ...], list[Any]] = {}
    arps: dict[tuple[Any, ...], list[Any]] = {}
    cache_max = vxlan._CACHE_MAX
    n = size = 0
    fast = lt == 1
    edges: list[int] = []  # timestamps of packets counted in no entry (past max_flows)

    def lane(h: vxlan.Header, ts: int) -> list[Any] | None:
        # The tally's entry of a header, made as Tally.feed makes it; None past max_flows.
        ent = by_header.get(id(h))
        if ent is None or ent[0] is not h:
            if len(by_header) >= tally.max_flows:
                return None
            ent = by_header[id(h)] = [h, [0, 0, ts, ts], {}]
        return [ent[1], ent[2], None]

    def flow(c: list[Any], key: tuple[Any, ...], ln: int, ts: int) -> list[int] | None:
        # A new flow of an entry, made as Tally.feed makes it; None past max_flows.
        if tally.flow_count >= tally.max_flows:
            tally.overflow += 1
            return None
        tally.flow_count += 1
        f = c[1][key] = [1, ln, ts, ts]
        return f

    blocks = reader.blocks()
    item = next(blocks, None)
    while item is not None:
        buf, pos, odd = item
        if odd is not None:
            n += 1
            tally.feed((vxlan.general_row(n, *odd, ports, frags),))
            break
        end_buf = len(buf)
        while pos + 16 <= end_buf:
            sec, frac, caplen, wirelen = rec(buf, pos)
            p = pos + 16
            end = p + caplen
            if end > end_buf or caplen > MAX_CAPLEN:
                break
            pos = end
            n += 1
            if fast and caplen >= 92:
                (et, vihl, tot, fw, sd, dp, ulen, vxw, vniw, macs, iet,
                 ivihl, itot, ifrag, iproto, ips, isp, idp) = unpack(buf, p)  # fmt: skip
                if (
                    et == 0x0800
                    and vihl == 0x45
                    and fw & 0x3FFF00FF == 17
                    and ulen == tot - 20
                    and tot + 14 <= caplen
                    and vxw == 0x08000000
                    and not vniw & 0xFF
                    and dp in ports
                ):
                    c = None
                    ts = sec * NS + frac * mult
                    if iet == 0x0800:
                        if ivihl == 0x45 and not ifrag & 0x3FFF and 20 <= itot <= tot - 50:
                            key = (sd, dp, vniw, macs, ips, iproto)
                            c = seen.get(key)
                            if c is None:
                                name = vxlan.IP_PROTOS.get(iproto) or f"proto-{iproto}"
                                src, dst = vxlan.ip4(ips[:4]), vxlan.ip4(ips[4:])
                                c = lane(vxlan.intern(vxlan.Header(
                                    "vxlan", vxlan.ip4(sd[:4]), vxlan.ip4(sd[4:]), dp, vniw >> 8,
                                    vxlan.I_FLAG, None, vxlan.mac(macs[6:]), vxlan.mac(macs[:6]),
                                    None, src, dst, name)), ts)  # fmt: skip
                                if c is None:
                                    tally.overflow += 1
                                    size += wirelen or caplen
                                    edges.append(ts)
                                    continue
                                if len(seen) > cache_max:
                                    seen.clear()
                                seen[key] = c
                            # Inner ports as vxlan.l4 reads them: TCP and UDP only, when the
                            # inner length covers them.
                            if (iproto == 6 and itot >= 34) or (iproto == 17 and itot >= 24):
                                ln = wirelen or caplen
                                size += ln
                                t = c[0]
                                t[0] += 1
                                t[1] += ln
                                if ts > t[3]:
                                    t[3] = ts
                                elif ts < t[2]:
                                    t[2] = ts
                                fkey = (isp, idp)
                                f = c[1].get(fkey)
                                if f is None:
                                    flow(c, fkey, ln, ts)
                                    continue
                                f[0] += 1
                                f[1] += ln
                                if ts > f[3]:
                                    f[3] = ts
                                elif ts < f[2]:
                                    f[2] = ts
                                continue
                    elif iet == 0x0806 and tot >= 78:
                        akey = (sd, dp, vniw, macs, buf[p + 64 : p + 92])
                        c = arps.get(akey)
                        if c is None:
                            spa, tpa, _summ, anote = vxlan.arp(buf[p : p + 92], 64)
                            if anote is None:  # else the general path words the note
                                c = lane(vxlan.intern(vxlan.Header(
                                    "vxlan", vxlan.ip4(sd[:4]), vxlan.ip4(sd[4:]), dp, vniw >> 8,
                                    vxlan.I_FLAG, None, vxlan.mac(macs[6:]), vxlan.mac(macs[:6]),
                                    None, spa, tpa, "ARP")), ts)  # fmt: skip
                                if c is None:
                                    tally.overflow += 1
                                    size += wirelen or caplen
                                    edges.append(ts)
                                    continue
                                if len(arps) > cache_max:
                                    arps.clear()
                                arps[akey] = c
                    if c is not None:  # a port-less inner protocol: one flow per header
                        ln = wirelen or caplen
                        size += ln
                        t = c[0]
                        t[0] += 1
                        t[1] += ln
                        if ts > t[3]:
                            t[3] = ts
                        elif ts < t[2]:
                            t[2] = ts
                        f = c[2]
                        if f is None:
                            f = c[1].get(_NO_PORTS)
                            if f is None:
                                c[2] = flow(c, _NO_PORTS, ln, ts)
                                continue
                            c[2] = f
                        f[0] += 1
                        f[1] += ln
                        if ts > f[3]:
                            f[3] = ts
                        elif ts < f[2]:
                            f[2] = ts
                        continue
            ts = sec * NS + frac * mult
            tally.feed((vxlan.general_row(n, ts, lt, wirelen, buf[p:end], None, ports, frags),))
        try:
            item = blocks.send(pos)
        except StopIteration:
            break
    frags.finish()
    # Every frame is one row; the fast lane's first and last are its entries' (and those of
    # packets no entry took), as Tally.feed would have found them.
    fast_rows = n - tally.total
    if fast_rows:
        ends = [t for _h, t, _f in by_header.values()]
        lows = [t[2] for t in ends] + edges
        highs = [t[3] for t in ends] + edges
        if tally.first is not None:
            lows.append(tally.first)
            highs.append(tally.last)  # type: ignore[arg-type]
        tally.first, tally.last = min(lows), max(highs)
        tally.total = n
        tally.size += size
    return tally.stats(frags)
