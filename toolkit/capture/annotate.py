"""Lab names for wire addresses: VTEP IPs as VM names, VNIs as networks, inner MACs/IPs as
containers and services.

The map comes from the overlay agents' snapshot of a running lab. ``ovlab
capture`` saves it beside the pcap (``FILE.pcap.ovlab.json``) so a capture
keeps its names after the lab is gone, and ``ovlab decode`` picks it up.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.errors import OvlabError

if TYPE_CHECKING:
    from toolkit.overlay.model import Snapshot

SIDECAR_SUFFIX = ".ovlab.json"
BROADCAST = "ff:ff:ff:ff:ff:ff"


@dataclass
class LabNames:
    """Name maps of one lab at one moment."""

    lab: str
    vteps: dict[str, str] = field(default_factory=dict)  # VTEP IP -> VM node
    networks: dict[int, str] = field(default_factory=dict)  # VNI -> network name
    macs: dict[str, str] = field(default_factory=dict)  # MAC -> container (or "broadcast")
    ips: dict[str, str] = field(default_factory=dict)  # overlay IP -> container (or gateway)
    services: dict[str, str] = field(default_factory=dict)  # overlay IP -> service name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (VNIs as string keys)."""
        d = asdict(self)
        d["networks"] = {str(k): v for k, v in self.networks.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabNames:
        """Inverse of to_dict."""
        return cls(
            lab=str(d.get("lab", "")),
            vteps=dict(d.get("vteps", {})),
            networks={int(k): v for k, v in d.get("networks", {}).items()},
            macs=dict(d.get("macs", {})),
            ips=dict(d.get("ips", {})),
            services=dict(d.get("services", {})),
        )

    def host(self, ip: str | None) -> str | None:
        """A container label for an overlay IP: its name, with the service if it has one."""
        if ip is None:
            return None
        name = self.ips.get(ip)
        svc = self.services.get(ip)
        if name and svc and svc != name:
            return f"{name}({svc})"
        return name


def from_snapshot(lab: str, snap: Snapshot) -> LabNames:
    """Build the maps from an agent snapshot (networks, endpoints, hosts)."""
    names = LabNames(lab, macs={BROADCAST: "broadcast"})
    for h in snap.hosts.values():
        if h.vtep:
            names.vteps[h.vtep] = h.host
    for net in snap.networks.values():
        names.networks[net.vni] = net.name
        if net.gateway:
            names.ips[net.gateway] = f"gateway({net.name})"
    for ep in snap.endpoints.values():
        names.vteps.setdefault(ep.vtep, ep.host)
        if ep.mac:
            names.macs[ep.mac] = ep.name
        if ep.ip:
            names.ips[ep.ip] = ep.name
            if ep.service:
                names.services[ep.ip] = ep.service
    names.vteps.pop("", None)
    return names


def snapshot(lab: str) -> Snapshot:
    """The overlay store as a lab's agents see it (any live agent answers)."""
    from toolkit.overlay import client

    return client.snapshot(lab)


def from_lab(lab: str) -> LabNames:
    """The names of a running lab, asked from its overlay agents."""
    try:
        snap = snapshot(lab)
    except OvlabError as exc:
        raise OvlabError(f"no names for lab {lab!r}: {exc.message}", hint=exc.hint) from None
    return from_snapshot(lab, snap)


def sidecar_path(pcap: str) -> str:
    """Where the names of a capture are kept."""
    return pcap + SIDECAR_SUFFIX


def save(names: LabNames, pcap: str) -> str:
    """Write the names beside a capture; return the path."""
    path = sidecar_path(pcap)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(names.to_dict(), fh, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


def load(pcap: str) -> LabNames | None:
    """The names saved beside a capture, if any (None when absent or unreadable)."""
    try:
        with open(sidecar_path(pcap)) as fh:
            return LabNames.from_dict(json.load(fh))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
