"""verify's planning from an agent snapshot: which pair, which name, which ports (no root)."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.capture.verify_plan import lab_port, plan
from toolkit.capture.vxlan import KNOWN_PORTS
from toolkit.errors import NotFound, UsageError
from toolkit.overlay.model import Snapshot

NET_ID = "f0c4a767d6e1b2c3"


def ep(name: str, host: str, n: int, service: str | None = None) -> dict[str, Any]:
    return {
        "id": f"ep{n}",
        "name": name,
        "service": service,
        "ip": f"10.0.0.{n}",
        "mac": f"02:42:0a:00:00:{n:02x}",
        "host": host,
        "vtep": {"vm1": "192.168.100.23", "vm2": "192.168.100.24"}[host],
        "network": NET_ID,
    }


def snap(*eps: dict[str, Any], ports: tuple[int, ...] = (4789, 4789)) -> Snapshot:
    return Snapshot.from_wire(
        {
            "networks": [
                {
                    "id": NET_ID,
                    "name": "dev",
                    "vni": 256,
                    "subnet": "10.0.0.0/24",
                    "gateway": "10.0.0.1",
                }
            ],
            "endpoints": list(eps),
            "hosts": [
                {"host": f"vm{i}", "vtep": f"192.168.100.{22 + i}", "port": p}
                for i, p in enumerate(ports, 1)
            ],
        }
    )


SEED_EPS = (
    ep("container_node1", "vm1", 2, "svc1"),
    ep("container_node2", "vm2", 3, "svc2"),
    ep("plain", "vm1", 4),
)
SEED = snap(*SEED_EPS)


def test_prefers_a_pair_across_vms_with_a_service() -> None:
    p = plan("lab", SEED, "plain", None)
    assert (p.src.name, p.dst.name, p.target) == ("plain", "container_node2", "svc2")
    assert (p.network, p.vni, p.netns) == ("dev", 256, "1-f0c4a767d6")
    assert p.vteps == {"192.168.100.23", "192.168.100.24"}


def test_the_name_to_ping_is_the_one_given() -> None:
    p = plan("lab", SEED, "container_node2", "container_node1")
    assert (p.dst.name, p.target) == ("container_node1", "container_node1")
    assert plan("lab", SEED, "container_node2", "svc1").target == "svc1"


def test_port_is_the_one_most_hosts_published() -> None:
    p = plan("lab", snap(*SEED_EPS, ports=(8472, 8472, 4789)), None, None)
    assert p.port == 8472
    assert p.ports == KNOWN_PORTS | {8472, 4789}
    assert lab_port(Snapshot()) == 4789


@pytest.mark.parametrize(
    ("s", "src", "dst", "error", "message"),
    [
        (snap(), None, None, UsageError, "no containers on any overlay network"),
        (SEED, "nobody", None, NotFound, "no container 'nobody' on an overlay network"),
        (SEED, None, "svc9", NotFound, "no service or container 'svc9'"),
        (SEED, "plain", "svc1", UsageError, "plain and container_node1 both run on vm1"),
        (snap(ep("alone", "vm1", 2)), None, None, UsageError, "no two containers share a network"),
    ],
)
def test_bad_choices_are_one_line(s, src, dst, error, message) -> None:
    with pytest.raises(error) as exc:
        plan("lab", s, src, dst)
    assert exc.value.message.startswith(message), exc.value.message
    assert "\n" not in exc.value.message


def test_unknown_service_suggests_a_close_one() -> None:
    with pytest.raises(NotFound) as exc:
        plan("lab", SEED, None, "svc9")
    assert exc.value.hint is not None and "svc1" in exc.value.hint
