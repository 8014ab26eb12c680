"""Ansible inventory for a lab: every VM reached through the ``ovlab_vm`` connection plugin."""

from __future__ import annotations

from pathlib import Path

import yaml

from toolkit.lab import state
from toolkit.lab.lifecycle import install_bin, require_up
from toolkit.lab.records import LabRecord

# Lab-only Consul timing for agents that share one machine (the consul role's
# defaults/main.yml says why each; real VMs keep Consul's defaults). retry_interval: a
# client that starts before its server listens tries again after 1 s, not 5 s.
LAB_TIMING: dict[str, object] = {
    "consul_gossip_lan_interval": "100ms",
    "consul_gossip_lan_probe_timeout": "200ms",
    "consul_gossip_lan_suspicion_mult": 3,
    "consul_gossip_lan_retransmit_mult": 2,
    "consul_retry_interval": "1s",
    "consul_api_retries": 300,
    "consul_api_delay": 0.2,
}


def secrets_dir(lab: str) -> Path:
    """Controller-side secrets of a lab (gossip key, tokens), beside its state."""
    return state.lab_dir(lab) / "secrets"


def build(lab: str, consul_bin: str | None = None) -> dict[str, object]:
    """The inventory of a running lab, as a YAML-ready mapping."""
    return from_state(lab, require_up(lab), consul_bin)


def from_state(lab: str, record: LabRecord, consul_bin: str | None = None) -> dict[str, object]:
    """The inventory of a lab from its state record: the topology's ``vars`` (lab-wide in
    ``all.vars``, a VM's own as its host vars) beside what ovlab sets for lab VMs, which the
    topology loader refuses to have overridden (``toolkit.lab.role_vars.SET_BY_OVLAB``)."""
    groups: dict[str, list[str]] = {}
    hosts: dict[str, dict[str, object]] = {}
    pids = _remote_pids(record)
    for vm in record.nodes:
        hosts[vm.node] = {**vm.vars, "ovlab_node": vm.node, "ovlab_eth1": vm.address}
        if vm.host is None and vm.pid and vm.starttime:
            # The connection plugin enters the VM by this pid while it still started at this
            # time, without reading the lab's state in every task (ovlab_vm's ovlab_vm_pid).
            hosts[vm.node]["ovlab_vm_pid"] = f"{vm.pid}:{vm.starttime}"
        if vm.host is not None:
            hosts[vm.node].update(_remote_vars(lab, record, vm.host))
            if vm.node in pids:
                hosts[vm.node]["ovlab_remote_pid"] = pids[vm.node]
        for group in vm.groups:
            groups.setdefault(group, []).append(vm.node)
    # Both roles require their controller-side secrets directory (they read nothing from the
    # controller's environment): the lab's own, beside its state, gone with 'lab down'.
    secrets = str(secrets_dir(lab))
    all_vars: dict[str, object] = {
        **LAB_TIMING,  # the topology's vars may override these
        **record.vars,
        "ansible_connection": "ovlab_vm",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ovlab_lab": lab,
        "consul_service_manager": "supervisord",
        "consul_install_method": "copy",
        "consul_secrets_dir": secrets,
        "overlay_agent_secrets_dir": secrets,
        # The install that brought the lab up is visible inside its VMs: its
        # supervisorctl drives their supervisord, its ovlab runs their agents.
        "ovlab_supervisorctl": str(Path(install_bin(record)) / "supervisorctl"),
        "ovlab_bin": install_bin(record),
    }
    if consul_bin:
        # Lab VMs see the host's files (/etc and /var copy-on-write over the host's), so a
        # symlink to the cached binary works: no copy per VM, one page cache copy for all.
        # /run and /tmp are fresh in each VM: a cache there is copied instead.
        all_vars["consul_copy_src"] = consul_bin
        if not any(Path(consul_bin).is_relative_to(d) for d in ("/run", "/tmp")):
            all_vars["consul_install_method"] = "link"
            all_vars["consul_link_src"] = consul_bin
    return {
        "all": {
            "vars": all_vars,
            "hosts": hosts,
            "children": {
                g: {"hosts": {n: {} for n in members}} for g, members in sorted(groups.items())
            },
        }
    }


def _remote_pids(record: LabRecord) -> dict[str, int]:
    """Init pids of a multi-host lab's VMs on their hosts, asked once of each host's ovlab
    (``lab status``), so each Ansible task enters the VM with nsenter, no ovlab started."""
    if not record.hosts:
        return {}
    from toolkit.lab import multihost

    out: dict[str, int] = {}
    for row in multihost.host_status(record):
        for vm in row.get("slice_status") or []:  # type: ignore[attr-defined]
            if isinstance(vm, dict) and vm.get("alive") and isinstance(vm.get("pid"), int):
                out[str(vm["node"])] = int(vm["pid"])
    return out


def _remote_vars(lab: str, record: LabRecord, host: str) -> dict[str, object]:
    """A multi-host lab's VM on ``host``: ovlab_vm reaches it over ssh through the host's
    ovlab (its slice's name as the lab), whose supervisorctl and agent the VM uses."""
    from toolkit.transport import for_host

    part = next(h for h in record.hosts if h.name == host)
    control = state.lab_dir(lab) / "ssh"
    control.mkdir(mode=0o700, exist_ok=True)
    return {
        "ovlab_lab": part.slice,
        "ovlab_ssh": for_host(part).prefix(str(control)),
        "ovlab_remote": f"{part.venv}/bin/ovlab",
        "ovlab_supervisorctl": f"{part.venv}/bin/supervisorctl",
        "ovlab_bin": f"{part.venv}/bin",
    }


def write(lab: str, path: Path, consul_bin: str | None = None) -> Path:
    """Write the lab's inventory as YAML; return the path."""
    inv = build(lab, consul_bin)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"# Inventory of lab {lab}, written by 'ovlab lab inventory'.\n" + yaml.safe_dump(
        inv, sort_keys=False
    )
    path.write_text(text)
    return path
