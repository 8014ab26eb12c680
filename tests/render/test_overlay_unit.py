"""The overlay tables (`network ls`, `ps`, `service ls`), as the demo's Docker showed them."""

from __future__ import annotations

import pytest

from toolkit.overlay.model import Endpoint, Network
from toolkit.render.overlay import print_containers, print_networks, print_services

NID = "4ecc298dd1c47ed7bbc01f54daaabfdd"


class _Rule(list):
    """Equal to any line that is one run of box-drawing dashes (the header rule)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and len(other) == 1 and set(other[0]) == {"─"}

    __hash__ = None  # type: ignore[assignment]


RULE = _Rule()


def ep(n: int, network: str) -> Endpoint:
    return Endpoint(f"e{n}", network, f"c{n}", f"10.0.0.{n}", f"02:42:0a:00:00:{n:02x}", "vm1", "x")


def printed(capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    return [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_networks_count_their_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    nets = [
        Network(NID, "dev", "10.0.0.0/24", "10.0.0.1", 256),
        Network("f" * 32, "prod", "10.0.1.0/24", "10.0.1.1", 257),
    ]
    eps = [ep(1, NID), ep(2, NID), ep(3, "other")]
    print_networks(nets, eps)
    assert printed(capsys) == [
        ["networks"],
        ["NETWORK", "ID", "NAME", "TYPE", "SUBNET", "GATEWAY", "VNI", "ENDPOINTS"],
        RULE,
        [NID[:12], "dev", "overlay", "10.0.0.0/24", "10.0.0.1", "256", "2"],
        ["f" * 12, "prod", "overlay", "10.0.1.0/24", "10.0.1.1", "257", "0"],
    ]


def test_containers_show_a_dash_for_no_service(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"id": "c0ffee" * 4, "name": "c1", "host": "vm1", "network": "dev", "ip": "10.0.0.2",
         "mac": "02:42:0a:00:00:02", "service": None},
        {"id": "beef" * 6, "name": "c2", "host": "vm2", "network": "dev", "ip": "10.0.0.3",
         "mac": "02:42:0a:00:00:03", "service": "svc2"},
    ]  # fmt: skip
    print_containers(rows)
    assert printed(capsys) == [
        ["containers"],
        ["CONTAINER", "ID", "NAME", "HOST", "NETWORK", "IP", "MAC", "SERVICE"],
        RULE,
        ["c0ffeec0ffee", "c1", "vm1", "dev", "10.0.0.2", "02:42:0a:00:00:02", "-"],
        ["beefbeefbeef", "c2", "vm2", "dev", "10.0.0.3", "02:42:0a:00:00:03", "svc2"],
    ]


def test_services_are_the_demos_columns(capsys: pytest.CaptureFixture[str]) -> None:
    print_services([{"service_id": "abc123", "name": "svc1", "network": "dev", "container": "c1"}])
    assert printed(capsys) == [
        ["services"],
        ["SERVICE", "ID", "NAME", "NETWORK", "CONTAINER"],
        RULE,
        ["abc123", "svc1", "dev", "c1"],
    ]


def test_no_networks_is_the_header_alone(capsys: pytest.CaptureFixture[str]) -> None:
    print_networks([], [])
    lines = printed(capsys)
    assert lines[1][:2] == ["NETWORK", "ID"] and lines[2:] == [RULE]


def test_a_pipe_gets_whole_rows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `ovlab ps | grep …`: no terminal, no COLUMNS. rich's 80 columns would cut names.
    monkeypatch.delenv("COLUMNS")
    name = "container_with_a_rather_long_name_for_grep_" + "x" * 30
    rows = [
        {"id": "c0ffee" * 4, "name": name, "host": "lab-vm-1", "network": "dev",
         "ip": "10.0.0.2", "mac": "02:42:0a:00:00:02", "service": "svc-with-long-name"},
    ]  # fmt: skip
    print_containers(rows)
    line = next(x for x in capsys.readouterr().out.splitlines() if name in x)
    assert "02:42:0a:00:00:02" in line and "svc-with-long-name" in line
