"""Consul role inputs in topology vars: judged by meaning, with Consul itself as the oracle."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from toolkit.errors import UsageError
from toolkit.lab import role_vars
from toolkit.lab.role_vars import NodeVars
from toolkit.lab.topology import loads

TOPOLOGY = """\
name: demo
underlay: {subnet: 192.168.100.0/24}
nodes:
  s1: {eth1: 192.168.100.11, groups: [consul_servers]}
  s2: {eth1: 192.168.100.12, groups: [consul_servers]}
  s3: {eth1: 192.168.100.13, groups: [consul_servers]}
  c1: {eth1: 192.168.100.21, groups: [consul_clients]}
"""


def consul() -> str:
    from toolkit.provision import consul_bin

    found = consul_bin.find()
    if found is None:
        pytest.skip("no consul binary: run 'make setup'")
    return str(found)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_keys_of_every_aes_size_pass(size: int) -> None:
    assert role_vars.gossip_key(base64.b64encode(bytes(range(size))).decode()) is None


@pytest.mark.parametrize("size", [0, 1, 8, 15, 17, 18, 20, 31, 33, 64])
def test_keys_of_other_sizes_fail_naming_the_size(size: int) -> None:
    key = base64.b64encode(bytes(size)).decode()
    if size == 0:
        assert role_vars.gossip_key(key) is None  # '' means: let the role make one
        return
    found = role_vars.gossip_key(key)
    assert found is not None and found[0].startswith(f"decodes to {size} bytes")
    assert key not in found[0] + str(found[1])  # a secret is never echoed


def test_consul_keygen_output_passes() -> None:
    """Oracle: what `consul keygen` prints is a good key."""
    for _ in range(3):
        key = subprocess.run(
            [consul(), "keygen"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert role_vars.gossip_key(key) is None


@pytest.mark.parametrize(
    "value",
    ["2b778dd9-f5f1-6f29-b4b4-9a5fa948757a", "8E7A4C2B-0D1F-4A3B-9C8D-7E6F5A4B3C2D", ""],
)
def test_uuid_tokens_pass(value: str) -> None:
    assert role_vars.token(value) is None


@pytest.mark.parametrize(
    "value",
    ["root", "2b778dd9f5f16f29b4b49a5fa948757a", "2b778dd9-f5f1-6f29-b4b4-9a5fa948757", 42, None],
)
def test_other_tokens_fail(value: object) -> None:
    assert role_vars.token(value) is not None


DATACENTERS = ["dc1", "lab_1-a", "DC1", "dc.one", "dc 1", "dc/1", "dé"]


def test_datacenter_rule_agrees_with_consul_validate(tmp_path: Path) -> None:
    """Oracle: `consul validate` refuses exactly the names we refuse, except upper case,
    which Consul silently lowercases (so 'DC1' would become a different name than written)."""
    binary = consul()
    for name in DATACENTERS:
        config = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
        config.write_text(json.dumps({"datacenter": name, "data_dir": str(tmp_path / "d")}))
        accepted = subprocess.run([binary, "validate", str(config)], capture_output=True).returncode
        ours = role_vars.datacenter(name)
        if name.lower() != name and role_vars.datacenter(name.lower()) is None:
            assert accepted == 0 and ours is not None and "lowercase" in ours[0]
        else:
            assert (accepted == 0) == (ours is None), name


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("lab-vm-1", True),
        ("VM1", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("vm_1", False),
        ("vm.lab", False),
        ("", False),
        (7, False),
    ],
)
def test_node_names_are_dns_labels(value: object, ok: bool) -> None:
    assert (role_vars.node_name(value) is None) is ok


def lab(**lab_vars: object) -> tuple[dict[str, object], list[NodeVars]]:
    nodes = [
        NodeVars("s1", ["consul_servers"], {}),
        NodeVars("s2", ["consul_servers"], {}),
        NodeVars("c1", ["consul_clients"], {}),
    ]
    return dict(lab_vars), nodes


def test_bootstrap_expect_must_equal_the_servers() -> None:
    assert role_vars.check(*lab(consul_bootstrap_expect=2)) is None
    for bad in (1, 3, 0, True, "2", 2.0):
        found = role_vars.check(*lab(consul_bootstrap_expect=bad))
        assert found is not None and found.key == "consul_bootstrap_expect", bad
    # Another servers group: counted by that group.
    assert (
        role_vars.check(*lab(consul_servers_group="consul_clients", consul_bootstrap_expect=1))
        is None
    )


def test_jinja_values_are_left_to_ansible() -> None:
    assert role_vars.check(*lab(consul_encrypt_key="{{ lookup('env', 'KEY') }}")) is None
    assert role_vars.check(*lab(consul_node_name="{{ inventory_hostname }}-x")) is None


def test_a_good_topology_keeps_its_vars() -> None:
    key = base64.b64encode(bytes(32)).decode()
    topo = loads(
        TOPOLOGY
        + "vars:\n"
        + f"  consul_encrypt_key: '{key}'\n"
        + "  consul_acl_agent_token: 2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\n"
        + "  consul_bootstrap_expect: 3\n"
        + "  consul_datacenter: lab1\n",
        "t.yml",
    )
    assert topo.vars["consul_encrypt_key"] == key and topo.vars["consul_bootstrap_expect"] == 3


def test_findings_point_at_the_value_line() -> None:
    with pytest.raises(UsageError) as err:
        loads(
            TOPOLOGY.replace(
                "[consul_clients]}", "[consul_clients], vars: {consul_node_name: s1}}"
            ),
            "t.yml",
        )
    assert err.value.message == (
        "t.yml:7: nodes.c1.vars.consul_node_name: s1 and c1 would both be Consul node 's1'"
    )


def test_both_roles_secrets_dirs_are_ovlabs_to_set() -> None:
    """The lab inventory passes both (toolkit/provision/inventory.py): a topology can't."""
    for key in ("consul_secrets_dir", "overlay_agent_secrets_dir"):
        found = role_vars.check(*lab(**{key: "/tmp/elsewhere"}))
        assert found is not None and found.key == key and "set by ovlab" in found.problem
