"""Fast checks without a lab: the role's asserts, its real-VM templates, the plugin's paths."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.playbooks.conftest import PLAYBOOKS, ansible_playbook, consul_binary

PLUGIN = PLAYBOOKS / "plugins" / "connection" / "ovlab_vm.py"


def inventory(
    tmp_path: Path,
    servers: list[str],
    clients: list[str],
    host_vars: dict[str, dict[str, object]] | None = None,
    **all_vars: object,
) -> Path:
    """An ovlab_vm inventory for a lab that does not exist: asserts never connect."""
    doc = {
        "all": {
            "vars": {
                "ansible_connection": "ovlab_vm",
                "ovlab_lab": "ovt-absent",
                "consul_service_manager": "supervisord",
                "consul_install_method": "copy",
                "consul_copy_src": str(PLUGIN),  # any controller file will do here
                "consul_secrets_dir": str(tmp_path / "secrets"),
                **all_vars,
            },
            "hosts": {h: (host_vars or {}).get(h, {}) for h in servers + clients},
            "children": {
                "consul_servers": {"hosts": {h: {} for h in servers}},
                "consul_clients": {"hosts": {h: {} for h in clients}},
            },
        }
    }
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("servers", "extra", "message"),
    [
        ([], {}, "no Consul server: inventory group 'consul_servers' is missing or empty"),
        (["s1"], {"consul_install_method": "curl"}, "consul_install_method must be copy, release"),
        (["s1"], {"consul_copy_src": ""}, "consul_install_method=copy needs consul_copy_src"),
        (
            ["s1"],
            {"consul_install_method": "release", "consul_release_checksum": ""},
            "consul_install_method=release needs consul_version and consul_release_checksum",
        ),
        (
            ["s1"],
            {"consul_bin_path": "/usr/local/bin/consul"},
            "/usr/local/bin/consul is outside the lab VM's private",
        ),
        # No default from the controller's environment: the inventory must say where.
        (["s1"], {"consul_secrets_dir": ""}, "consul_secrets_dir must be an absolute path"),
        (["s1"], {"consul_secrets_dir": "secrets"}, "(is 'secrets'); set it in the inventory"),
    ],
    ids=[
        "no-server",
        "bad-method",
        "no-copy-src",
        "no-checksum",
        "shared-path",
        "no-secrets-dir",
        "relative-secrets-dir",
    ],
)
def test_role_fails_fast_with_a_clear_message(
    tmp_path: Path, servers: list[str], extra: dict[str, str], message: str
) -> None:
    result = ansible_playbook(inventory(tmp_path, servers, ["c1"], **extra))
    assert result.rc != 0
    assert message in " ".join(result.output.split()), result.output[-3000:]
    # Failed in the checks, before any host was contacted.
    assert "UNREACHABLE" not in result.output and "Traceback" not in result.output


def test_overlay_role_needs_its_secrets_dir(tmp_path: Path) -> None:
    """Run alone (overlay.yml), the overlay_agent role stops at its first check without one."""
    path = inventory(tmp_path, ["s1"], ["c1"])
    # The control: with the directory set, the role goes on to its next checks (and stops
    # there, since the Consul role never issued a token in this test).
    result = ansible_playbook(path, playbook="overlay.yml")
    assert result.rc != 0 and f"no token at {tmp_path}/secrets/overlay.token" in result.output
    doc = yaml.safe_load(path.read_text())
    del doc["all"]["vars"]["consul_secrets_dir"]
    path.write_text(yaml.safe_dump(doc))
    result = ansible_playbook(path, playbook="overlay.yml")
    assert result.rc != 0
    text = " ".join(result.output.split())
    assert "overlay_agent_secrets_dir must be an absolute path on the controller" in text, text
    assert "(is '')" in text and "UNREACHABLE" not in result.output
    assert "TASK [overlay_agent : Check the settings]" not in result.output  # stopped first


# Inputs checked by meaning (issue 10): the same bad values the topology loader refuses
# (tests/errors/vars-*.yml, toolkit/lab/role_vars.py).
# Each case: (servers, host vars, all vars, message).
KEY_18_BYTES = "BwgJCgsMDQ4PEBESExQVFhcY"  # field report topo-gossip-key.yml: base64, 18 bytes
MEANING_CASES = {
    "gossip-key-18-bytes": (
        ["s1"],
        {},
        {"consul_encrypt_key": KEY_18_BYTES},
        "consul_encrypt_key decodes to 18 bytes; Consul takes 16, 24 or 32",
    ),
    "gossip-key-20-bytes": (
        ["s1"],
        {},
        {"consul_encrypt_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        "consul_encrypt_key decodes to 20 bytes",
    ),
    "gossip-key-not-base64": (
        ["s1"],
        {},
        {"consul_encrypt_key": "not-base64-at-all!"},
        "consul_encrypt_key is not standard base64",
    ),
    "gossip-key-urlsafe": (
        ["s1"],
        {},
        {"consul_encrypt_key": "pUqJrVyVRj5jsiYEkM_tFQYfWyJIv4s3XkvDwy7Cu5s="},
        "consul_encrypt_key is not standard base64",
    ),
    "gossip-key-integer": (
        ["s1"],
        {},
        {"consul_encrypt_key": 1234567890123456},
        "consul_encrypt_key is not standard base64",
    ),
    "agent-token-not-uuid": (
        ["s1"],
        {},
        {"consul_acl_agent_token": "root"},
        "consul_acl_agent_token must be a UUID",
    ),
    "overlay-token-no-dashes": (
        ["s1"],
        {},
        {"consul_acl_overlay_token": "2b778dd9f5f16f29b4b49a5fa948757a"},
        "consul_acl_overlay_token must be a UUID",
    ),
    "bootstrap-expect-3-of-1": (
        ["s1"],
        {},
        {"consul_bootstrap_expect": 3},
        "consul_bootstrap_expect is '3' but group 'consul_servers' has 1 server(s)",
    ),
    "bootstrap-expect-boolean": (
        ["s1", "s2", "s3"],
        {},
        {"consul_bootstrap_expect": True},
        "consul_bootstrap_expect is 'True' but group 'consul_servers' has 3 server(s)",
    ),
    "datacenter-uppercase": (
        ["s1"],
        {},
        {"consul_datacenter": "DC1"},
        "consul_datacenter 'DC1' is not a Consul datacenter name",
    ),
    "datacenter-dot": (
        ["s1"],
        {},
        {"consul_datacenter": "dc.one"},
        "consul_datacenter 'dc.one' is not a Consul datacenter name",
    ),
    "datacenters-differ": (
        ["s1"],
        {"c1": {"consul_datacenter": "dc2"}},
        {},
        "hosts are in different datacenters (dc1, dc2)",
    ),
    "node-name-underscore": (
        ["s1"],
        {"c1": {"consul_node_name": "vm_1"}},
        {},
        "consul_node_name 'vm_1' of c1 is not a DNS label",
    ),
    "node-name-64-chars": (
        ["s1"],
        {"s1": {"consul_node_name": "a" * 64}},
        {},
        "of s1 is not a DNS label: use 1-63 letters",
    ),
    "node-names-shared": (
        ["s1"],
        {},
        {"consul_node_name": "vm"},
        "several hosts share a consul_node_name (vm, vm)",
    ),
}


@pytest.mark.parametrize("case", MEANING_CASES)
def test_role_checks_inputs_by_meaning(tmp_path: Path, case: str) -> None:
    """Bad input: one message, non-zero exit, no host contacted, nothing written."""
    servers, host_vars, all_vars, message = MEANING_CASES[case]
    result = ansible_playbook(inventory(tmp_path, servers, ["c1"], host_vars, **all_vars))
    assert result.rc != 0
    assert message in " ".join(result.output.split()), result.output[-3000:]
    assert "UNREACHABLE" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "secrets").exists()  # not even the controller-side secrets dir
    assert re.search(r"changed=[1-9]", result.output) is None
    if "encrypt_key" in str(all_vars):
        assert str(all_vars["consul_encrypt_key"]) not in result.output  # a secret stays unprinted


def test_role_accepts_good_inputs(tmp_path: Path) -> None:
    """The control: valid values of every checked input pass the checks (asserts only)."""
    inv = inventory(
        tmp_path,
        ["s1", "s2", "s3"],
        ["c1"],
        {"c1": {"consul_node_name": "client-1"}},
        consul_encrypt_key="pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",  # 32 bytes
        consul_acl_agent_token="2b778dd9-f5f1-6f29-b4b4-9a5fa948757a",
        consul_acl_overlay_token="8E7A4C2B-0D1F-4A3B-9C8D-7E6F5A4B3C2D",
        consul_bootstrap_expect=3,
        consul_datacenter="lab_1-a",
    )
    result = ansible_playbook(inv, "--tags", "consul_assert")
    assert result.rc == 0, result.output[-3000:]
    for key in ("AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):  # 16 and 24 bytes
        inv = inventory(tmp_path, ["s1"], ["c1"], consul_encrypt_key=key)
        result = ansible_playbook(inv, "--tags", "consul_assert")
        assert result.rc == 0, result.output[-3000:]


def render(tmp_path: Path, *extra: str) -> Path:
    """Render the role's templates on the controller with real-VM defaults; return the dir."""
    role = PLAYBOOKS / "roles" / "consul"
    play = [
        {
            "name": "render",
            "hosts": "all",
            "gather_facts": False,
            "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
            "vars": {
                "_consul_encrypt_key": "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
                "_consul_agent_token": "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a",
                "out": str(tmp_path),
            },
            "tasks": [
                # Stand-in facts of a real VM (192.0.2.0/24 is documentation-only: only a file).
                {
                    "name": "facts",
                    "ansible.builtin.set_fact": {
                        "architecture": "x86_64",
                        "eth1": {"ipv4": {"address": "192.0.2.10"}},
                        "cacheable": True,
                    },
                },
                {
                    "name": "render",
                    "ansible.builtin.template": {
                        "src": str(role / "templates" / "{{ item.src }}"),
                        "dest": "{{ out }}/{{ item.dest }}",
                    },
                    "loop": [
                        {"src": "consul.json.j2", "dest": "consul.json"},
                        {"src": "consul.service.j2", "dest": "consul.service"},
                        {"src": "consul.supervisord.conf.j2", "dest": "consul.conf"},
                    ],
                },
                {
                    "name": "facts",
                    "ansible.builtin.copy": {
                        "dest": "{{ out }}/facts.json",
                        "content": "{{ {'bin': consul_bin_path, 'url': consul_release_url,"
                        " 'checksum': consul_release_checksum} | to_json }}",
                    },
                },
            ],
        }
    ]
    (tmp_path / "render.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "vm1": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        }
                    },
                    "children": {"consul_servers": {"hosts": {"vm1": {}}}},
                }
            }
        )
    )
    result = ansible_playbook(inv, *extra, playbook=str(tmp_path / "render.yml"))
    assert result.rc == 0, result.output[-4000:]
    return tmp_path


def test_real_vm_templates_render_and_validate(tmp_path: Path) -> None:
    """The systemd/release branch can't run here; render its files and let consul judge."""
    render(tmp_path)
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["bin"] == "/usr/local/bin/consul"
    assert facts["url"] == (
        "https://releases.hashicorp.com/consul/1.8.7/consul_1.8.7_linux_amd64.zip"
    )
    assert facts["checksum"] == (
        "sha256:https://releases.hashicorp.com/consul/1.8.7/consul_1.8.7_SHA256SUMS"
    )
    unit = (tmp_path / "consul.service").read_text()
    assert "ExecStart=/usr/local/bin/consul agent -config-dir=/etc/consul.d" in unit
    assert "Type=notify" in unit and "User=consul" in unit
    config = json.loads((tmp_path / "consul.json").read_text())
    assert config["server"] is True and config["bootstrap_expect"] == 1
    assert config["bind_addr"] == "192.0.2.10" and config["retry_join"] == ["192.0.2.10"]
    assert config["acl"]["default_policy"] == "deny"
    consul = consul_binary()
    if consul:
        config["data_dir"] = str(tmp_path / "data")
        (tmp_path / "consul.json").write_text(json.dumps(config))
        check = subprocess.run(
            [consul, "validate", str(tmp_path / "consul.json")], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_encryption_and_acls_can_be_switched_off(tmp_path: Path) -> None:
    config = json.loads(
        (
            render(tmp_path, "-e", "consul_acl_enable=false", "-e", "consul_encrypt_enable=false")
            / "consul.json"
        ).read_text()
    )
    assert "acl" not in config and "encrypt" not in config
    assert config["server"] is True


def load_plugin():
    spec = importlib.util.spec_from_file_location("ovlab_vm_plugin", PLUGIN)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_plugin_paths_never_leave_the_vm_root(tmp_path: Path) -> None:
    plugin = load_plugin()
    root = tmp_path / "vmroot"
    (root / "etc").mkdir(parents=True)
    (root / "var" / "lib").mkdir(parents=True)
    os.symlink("/var/lib", root / "etc" / "abs")  # absolute: must stay inside root
    os.symlink("../../..", root / "var" / "lib" / "up")  # '..' past the top stays at root
    os.symlink("loop2", root / "etc" / "loop1")
    os.symlink("loop1", root / "etc" / "loop2")
    r = str(root)
    assert plugin.resolve_in_root(r, "/etc/abs/x") == f"{r}/var/lib/x"
    assert plugin.resolve_in_root(r, "/var/lib/up/etc/y") == f"{r}/etc/y"
    assert plugin.resolve_in_root(r, "/../../etc/new") == f"{r}/etc/new"
    assert plugin.resolve_in_root(r, "/tmp/.ansible-remote/a/b") == f"{r}/tmp/.ansible-remote/a/b"
    from ansible.errors import AnsibleError

    with pytest.raises(AnsibleError, match="too many symlinks"):
        plugin.resolve_in_root(r, "/etc/loop1/x")
    with pytest.raises(AnsibleError, match="not absolute"):
        plugin.resolve_in_root(r, "relative/path")


def test_playbooks_pass_syntax_check() -> None:
    result = ansible_playbook(
        PLAYBOOKS.parent / "inventories" / "lab" / "hosts.yml", "--syntax-check"
    )
    assert result.rc == 0, result.output
    assert shutil.which("nsenter")  # the plugin's one external tool


def _unit_play(tmp_path: Path, agent_bin: str) -> tuple[int, str, Path]:
    """Run the overlay_agent role's unit tasks on the controller, into ``tmp_path``."""
    unit = tmp_path / "ovlab-agent.service"
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "overlay_agent_service_manager": "systemd",
                "overlay_agent_systemd_unit_file": str(unit),
                "overlay_agent_bin": agent_bin,
                "overlay_agent_token_file": "/etc/ovlab/overlay.token",
            },
            "tasks": [
                {
                    "ansible.builtin.include_role": {
                        "name": "overlay_agent",
                        "tasks_from": "unit.yml",
                    }
                },
                # The notified restart needs systemd as PID 1, which this machine lacks.
                {"ansible.builtin.meta": "end_host"},
            ],
        }
    ]
    book = tmp_path / "unit.yml"
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: python3\n")
    result = ansible_playbook(inv, playbook=str(book))
    return result.rc, result.output, unit


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_unit_is_verified_before_it_is_installed(tmp_path: Path) -> None:
    real = str(Path(sys.executable).parent / "ovlab")
    rc, output, unit = _unit_play(tmp_path, real)
    assert rc == 0, output[-3000:]
    text = unit.read_text()
    assert f"ExecStart={shlex.quote(real)} agent --store consul://127.0.0.1:8500" in text
    # The oracle: systemd's own checker on the installed file.
    check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_a_unit_systemd_refuses_is_never_installed(tmp_path: Path) -> None:
    rc, output, unit = _unit_play(tmp_path, "/nonexistent/ovlab")
    assert rc != 0
    assert "is not executable" in output, output[-3000:]
    assert not unit.exists()


def _handler_play(tmp_path: Path, bind_interface: str) -> str:
    """Notify the overlay_agent role's restart on the controller (systemd manager); output."""
    tmp_path.mkdir()
    (tmp_path / "src.token").write_text("8E7A4C2B-0D1F-4A3B-9C8D-7E6F5A4B3C2D\n")
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "overlay_agent_service_manager": "systemd",
                "overlay_agent_bin": str(Path(sys.executable).parent / "ovlab"),
                "overlay_agent_bind_interface": bind_interface,
                "overlay_agent_token_src": str(tmp_path / "src.token"),
                "overlay_agent_token_file": str(tmp_path / "etc" / "overlay.token"),
            },
            "tasks": [
                # A new token notifies 'restart ovlab-agent'; validate.yml is left out, so
                # the handlers' own check is what stands before the restart.
                {
                    "ansible.builtin.include_role": {
                        "name": "overlay_agent",
                        "tasks_from": "token.yml",
                    }
                },
            ],
        }
    ]
    book = tmp_path / "handler.yml"
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: python3\n")
    return ansible_playbook(inv, playbook=str(book)).output


def test_restart_handler_checks_the_settings_first(tmp_path: Path) -> None:
    """A setting 'ovlab agent --check' refuses stops the host before its restart handler."""
    output = _handler_play(tmp_path / "bad", "ovr-none0")
    text = " ".join(output.split())
    assert "RUNNING HANDLER [overlay_agent : Check the agent's settings before restarting it]" in (
        output
    )
    assert "--bind-interface ovr-none0: no such interface with an IPv4 address" in text, text
    assert "Restart the agent (systemd)" not in output
    # The control: settings the check accepts go on to the restart (which fails here
    # only because this machine's PID 1 is not systemd).
    output = _handler_play(tmp_path / "good", "lo")
    assert "RUNNING HANDLER [overlay_agent : Restart the agent (systemd)]" in output, output[-3000:]


def test_plugin_enters_a_pinned_pid_only_while_it_started_then() -> None:
    """ovlab_vm_pid (PID:STARTTIME from the lab inventory) skips the state lookup, but only
    for the very process: another start time, a gone pid or garbage fall back (0)."""
    plugin = load_plugin()
    from toolkit.host.procs import starttime

    me = os.getpid()
    conn = plugin.Connection.__new__(plugin.Connection)

    def pinned(value: str) -> int:
        conn.get_option = lambda name: value if name == "ovlab_vm_pid" else None
        return conn._pinned_pid()

    assert pinned(f"{me}:{starttime(me)}") == me
    assert pinned(f"{me}:{(starttime(me) or 0) + 1}") == 0  # a recycled pid
    assert pinned("999999999:1") == 0 and pinned("") == 0 and pinned("12:x") == 0
