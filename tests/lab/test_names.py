"""Lab, node and group names, and the interface and namespace names built from them."""

from __future__ import annotations

import pytest

from toolkit.errors import UsageError
from toolkit.lab.names import (
    IFNAMSIZ,
    ifname,
    netns_name,
    validate_group_name,
    validate_lab_name,
    validate_node_name,
)


@pytest.mark.parametrize("name", ["a", "seed-demo", "ten-vm", "a1", "x" * 20, "a-b-c", "a--b"])
def test_lab_names_accepted(name: str) -> None:
    assert validate_lab_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "lab name is empty"),
        ("x" * 21, f"lab name {'x' * 21!r} is too long (21 characters, at most 20)"),
        ("Seed", "lab name 'Seed' must start with a lowercase letter"),
        ("1lab", "lab name '1lab' must start with a lowercase letter"),
        ("-lab", "lab name '-lab' must start with a lowercase letter"),
        (
            "my_lab",
            "lab name 'my_lab' contains '_' (only lowercase letters, digits and '-' are allowed)",
        ),
        (
            "my.lab",
            "lab name 'my.lab' contains '.' (only lowercase letters, digits and '-' are allowed)",
        ),
        ("demo-", "lab name 'demo-' must not end with '-'"),
    ],
)
def test_lab_names_rejected(name: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        validate_lab_name(name)
    assert err.value.message == message
    assert err.value.hint and "namespace names" in err.value.hint


@pytest.mark.parametrize("name", ["a", "lab-vm-1", "a" * 32, "vm1", "x9"])
def test_node_names_accepted(name: str) -> None:
    assert validate_node_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "node name is empty"),
        ("a" * 33, f"node name {'a' * 33!r} is too long (33 characters, at most 32)"),
        ("Lab-vm", "node name 'Lab-vm' must start with a lowercase letter"),
        ("9vm", "node name '9vm' must start with a lowercase letter"),
        ("vm-", "node name 'vm-' must not end with '-'"),
        (
            "vm 1",
            "node name 'vm 1' contains ' ' (only lowercase letters, digits and '-' are allowed)",
        ),
    ],
)
def test_node_names_rejected(name: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        validate_node_name(name)
    assert err.value.message == message


@pytest.mark.parametrize("name", ["consul_servers", "_x", "g1", "a"])
def test_group_names_accepted(name: str) -> None:
    assert validate_group_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("consul-servers", "group name 'consul-servers' is invalid"),
        ("1st", "group name '1st' is invalid"),
        ("Servers", "group name 'Servers' is invalid"),
        ("", "group name '' is invalid"),
        ("all", "group 'all' is implicit in Ansible"),
        ("ungrouped", "group 'ungrouped' is implicit in Ansible"),
    ],
)
def test_group_names_rejected(name: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        validate_group_name(name)
    assert err.value.message == message


def test_ifname_keeps_short_names_readable() -> None:
    assert ifname("ul-", "lab-vm-1") == "ul-lab-vm-1"
    assert ifname("ul-", "a" * 12) == "ul-" + "a" * 12  # exactly 15 characters


@pytest.mark.parametrize(
    "name", ["a" * 13, "lab-vm-with-a-long-name-17", "x" * 32, "Upper", "dot.ted", ""]
)
def test_ifname_hashes_what_does_not_fit(name: str) -> None:
    out = ifname("ul-", name)
    assert len(out) <= IFNAMSIZ
    assert out.startswith("ul-")
    assert all(c.islower() or c.isdigit() or c == "-" for c in out)
    assert out == ifname("ul-", name)  # stable: teardown can recompute it
    assert out != "ul-" + name


def test_ifname_long_form_keeps_a_readable_head() -> None:
    out = ifname("ul-", "lab-vm-with-a-long-name-17")
    assert out.startswith("ul-lab-vm")
    assert len(out) == IFNAMSIZ


def test_ifname_distinguishes_long_names_sharing_a_head() -> None:
    names = [f"lab-vm-with-a-long-name-{i}" for i in range(200)]
    assert len({ifname("ul-", n) for n in names}) == len(names)


@pytest.mark.parametrize("prefix", ["", "UL-", "too-long-pfx", "a/b"])
def test_ifname_rejects_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError):
        ifname(prefix, "vm")


def test_netns_name() -> None:
    assert netns_name("seed-demo", "ul") == "ovlab-seed-demo-ul"
    assert netns_name("twenty-vm", "underlay") == "ovlab-twenty-vm-underlay"


def test_netns_name_checks_its_parts() -> None:
    with pytest.raises(UsageError):
        netns_name("Bad_Lab", "ul")
    for role in ("", "a/b", "a b", "UL"):
        with pytest.raises(ValueError):
            netns_name("lab", role)
