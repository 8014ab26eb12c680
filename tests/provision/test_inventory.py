"""A lab's inventory carries its topology's vars; ovlab's own lab settings stay on top."""

from __future__ import annotations

from toolkit.lab import state
from toolkit.lab.records import STATE_VERSION, LabRecord, VmRecord
from toolkit.provision.inventory import from_state


def test_topology_vars_reach_the_inventory() -> None:
    data = LabRecord(
        "lab",
        "up",
        vars={"consul_datacenter": "lab1", "ansible_connection": "ssh"},
        nodes=(
            VmRecord("vm1", eth1="192.168.100.23/24", groups=("consul_servers",), vars={"x": 1}),
            VmRecord("vm2", eth1="192.168.100.24/24", groups=("consul_clients",)),
        ),
    )
    inv = from_state("lab", data, "/bin/consul")["all"]
    assert inv["vars"]["consul_datacenter"] == "lab1"
    assert inv["vars"]["ansible_connection"] == "ovlab_vm"  # the loader refuses it anyway
    assert inv["vars"]["consul_copy_src"] == "/bin/consul"
    # Both roles' secrets directory, passed explicitly: the lab's own, beside its state.
    assert inv["vars"]["consul_secrets_dir"] == str(state.lab_dir("lab") / "secrets")
    assert inv["vars"]["overlay_agent_secrets_dir"] == inv["vars"]["consul_secrets_dir"]
    assert inv["hosts"]["vm1"] == {"x": 1, "ovlab_node": "vm1", "ovlab_eth1": "192.168.100.23"}
    assert inv["hosts"]["vm2"] == {"ovlab_node": "vm2", "ovlab_eth1": "192.168.100.24"}
    assert inv["children"]["consul_servers"] == {"hosts": {"vm1": {}}}


def test_state_of_a_lab_made_before_vars_were_recorded() -> None:
    # As the file of such a lab reads: no "vars" at all.
    raw = {
        "version": STATE_VERSION,
        "name": "old",
        "phase": "up",
        "nodes": {"vm1": {"eth1": "10.0.0.2/24", "groups": []}},
    }
    data = LabRecord.from_json(raw, "old")
    inv = from_state("old", data)["all"]
    assert inv["hosts"]["vm1"]["ovlab_node"] == "vm1" and inv["vars"]["ovlab_lab"] == "old"


def test_lab_speed_settings() -> None:
    """The pinned pid the connection plugin enters by, the link install and the lab-only
    Consul timing; a topology's own value of a timing variable wins."""
    data = LabRecord(
        "lab",
        "up",
        vars={"consul_retry_interval": "3s"},
        nodes=(VmRecord("vm1", eth1="10.0.0.2/24", pid=4242, starttime=777),),
    )
    inv = from_state("lab", data, "/var/cache/ovlab/consul/consul")["all"]
    assert inv["hosts"]["vm1"]["ovlab_vm_pid"] == "4242:777"
    assert inv["vars"]["consul_install_method"] == "link"
    assert inv["vars"]["consul_link_src"] == "/var/cache/ovlab/consul/consul"
    assert inv["vars"]["consul_gossip_lan_interval"] == "100ms"
    assert inv["vars"]["consul_retry_interval"] == "3s"
    # A binary under /tmp or /run is not what a lab VM sees there: copied instead.
    copied = from_state("lab", data, "/tmp/consul")["all"]["vars"]
    assert copied["consul_install_method"] == "copy" and "consul_link_src" not in copied
