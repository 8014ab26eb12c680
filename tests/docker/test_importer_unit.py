"""What `ovlab docker replay` writes into an imported lab: the commands that turn the lab's
vxlan0 tables into those found on the Docker host (pure; no root, no lab)."""

from __future__ import annotations

from toolkit.docker.importer import replay_commands

MAC_C2, MAC_C3 = "02:42:0a:00:00:03", "02:42:0a:00:00:04"


def tables(fdb: list[tuple[str, str]], neigh: dict[str, str], mtu: int = 1450) -> dict:  # type: ignore[type-arg]
    return {
        "fdb": [
            {"mac": m, "dev": "vxlan0", "dst": d, "flags": ["self"], "state": "permanent"}
            for m, d in fdb
        ]
        + [
            {
                "mac": "00:00:00:00:00:00",
                "dev": "vxlan0",
                "dst": "192.168.100.24",
                "flags": ["self"],
            }
        ],
        "neigh": [
            {"dst": ip, "dev": "vxlan0", "lladdr": mac, "state": ["PERMANENT"]}
            for ip, mac in neigh.items()
        ],
        "links": [{"name": "vxlan0", "mtu": mtu}, {"name": "br0", "mtu": mtu}],
    }


def test_healthy_needs_nothing() -> None:
    t = tables([(MAC_C2, "192.168.100.24")], {"10.0.0.3": MAC_C2})
    assert replay_commands(t, t) == []


def test_the_found_fault_is_written_back() -> None:
    lab = tables([(MAC_C2, "192.168.100.24")], {"10.0.0.3": MAC_C2})
    found = tables(
        [(MAC_C2, "192.168.100.99"), (MAC_C3, "192.168.100.24")],  # wrong VTEP, stale entry
        {"10.0.0.3": "02:42:0a:00:00:99", "10.0.0.4": MAC_C3},  # wrong MAC, stale neighbour
        mtu=1400,
    )
    assert replay_commands(found, lab) == [
        ["bridge", "fdb", "del", MAC_C2, "dev", "vxlan0", "dst", "192.168.100.24", "self"],
        [
            "bridge",
            "fdb",
            "append",
            MAC_C2,
            "dev",
            "vxlan0",
            "dst",
            "192.168.100.99",
            "self",
            "permanent",
        ],
        [
            "bridge",
            "fdb",
            "append",
            MAC_C3,
            "dev",
            "vxlan0",
            "dst",
            "192.168.100.24",
            "self",
            "permanent",
        ],
        [
            "ip",
            "neigh",
            "replace",
            "10.0.0.3",
            "lladdr",
            "02:42:0a:00:00:99",
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        ],
        [
            "ip",
            "neigh",
            "replace",
            "10.0.0.4",
            "lladdr",
            MAC_C3,
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        ],
        ["ip", "link", "set", "vxlan0", "mtu", "1400"],
        ["ip", "link", "set", "br0", "mtu", "1400"],
    ]


def test_a_missing_entry_is_removed_in_the_lab() -> None:
    lab = tables([(MAC_C2, "192.168.100.24")], {"10.0.0.3": MAC_C2})
    found = tables([], {"10.0.0.3": MAC_C2})
    assert replay_commands(found, lab) == [
        ["bridge", "fdb", "del", MAC_C2, "dev", "vxlan0", "dst", "192.168.100.24", "self"]
    ]
