"""The seed demo's shape (one Consul server, one client) built by the playbooks in a lab.

A third VM, ``intruder``, sits on the same underlay but outside the inventory: it is
where a Consul agent without the gossip key tries to join.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import wait_for
from tests.playbooks.conftest import CONSUL, SUPERVISORCTL, Lab, consul_binary

pytestmark = pytest.mark.root

SERVER, CLIENT, INTRUDER = "lab-vm-1", "lab-vm-2", "intruder"


@pytest.fixture(scope="module")
def seed(make_lab) -> Iterator[Lab]:
    lab = make_lab({SERVER: ["consul_servers"], CLIENT: ["consul_clients"], INTRUDER: []})
    inv = yaml.safe_load(lab.inventory.read_text())
    del inv["all"]["hosts"][INTRUDER]  # on the wire, not in Ansible's inventory
    lab.inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    result = lab.playbook()
    assert result.rc == 0, result.output[-8000:]
    print(f"first run: {result.seconds:.1f}s")
    yield lab


def test_members_alive_in_every_vm(seed: Lab) -> None:
    for node in (SERVER, CLIENT):
        members = wait_for(
            lambda n=node: seed.all_alive(n, [SERVER, CLIENT]) and seed.members(n),
            what=f"both alive in {node}",
        )
        assert members == {SERVER: "alive", CLIENT: "alive"}


def test_kv_written_on_one_vm_is_read_on_the_other(seed: Lab) -> None:
    token = seed.secret("overlay.token")
    value = f"v-{os.getpid()}"
    put = seed.consul(CLIENT, "kv", "put", "docker/network/v1.0/test", value, token=token)
    assert "Success" in put.stdout
    got = seed.consul(SERVER, "kv", "get", "docker/network/v1.0/test", token=token)
    assert got.stdout.strip() == value
    # And the other way round, under ovlab/.
    seed.consul(SERVER, "kv", "put", "ovlab/seed", "from-server", token=token)
    assert seed.consul(CLIENT, "kv", "get", "ovlab/seed", token=token).stdout.strip() == (
        "from-server"
    )


def test_anonymous_kv_write_is_denied(seed: Lab) -> None:
    denied = seed.consul(CLIENT, "kv", "put", "ovlab/anonymous", "x", check=False)
    assert denied.returncode != 0
    assert "403" in denied.stderr and "Permission denied" in denied.stderr, denied.stderr
    # The overlay token is limited to its prefixes too.
    other = seed.consul(
        CLIENT, "kv", "put", "elsewhere/x", "y", token=seed.secret("overlay.token"), check=False
    )
    assert other.returncode != 0 and "Permission denied" in other.stderr


def test_agents_register_with_their_agent_token(seed: Lab) -> None:
    # Catalog registration needs the agent token (node write): both nodes listed.
    def nodes() -> set[str]:
        out = seed.consul(SERVER, "catalog", "nodes", token=seed.secret("overlay.token")).stdout
        return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}

    wait_for(lambda: nodes() >= {SERVER, CLIENT}, timeout=45, what="catalog lists both")


def test_secrets_stay_on_the_controller_with_mode_0600(seed: Lab) -> None:
    assert (seed.secrets.stat().st_mode & 0o777) == 0o700
    for name in ("gossip.key", "bootstrap.token", "agent.token", "overlay.token"):
        assert (seed.secrets / name).stat().st_mode & 0o777 == 0o600, name
    # The agents run with the controller's key.
    config = json.loads(Path(f"/proc/{seed.pid(CLIENT)}/root/etc/consul.d/consul.json").read_text())
    assert config["encrypt"] == seed.secret("gossip.key")
    assert config["acl"]["tokens"]["agent"] == seed.secret("agent.token")
    assert config["client_addr"] == "127.0.0.1"
    # Lab VMs keep Consul in their private /var: the host's own /var has none of it.
    assert Path(f"/proc/{seed.pid(CLIENT)}/root{CONSUL}").is_file()
    assert not Path(CONSUL).exists() and not Path("/etc/consul.d").exists()


def test_release_install_downloads_and_verifies_the_zip(seed: Lab, tmp_path: Path) -> None:
    """The 'release' method against a mirror on the VM's own loopback (no internet here)."""
    version = "1.8.7"
    binary = Path(f"/proc/{seed.pid(CLIENT)}/root{CONSUL}").read_bytes()
    mirror = Path(f"/proc/{seed.pid(CLIENT)}/root/tmp/mirror/{version}")
    mirror.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("consul", binary)
    zipname = f"consul_{version}_linux_amd64.zip"
    (mirror / zipname).write_bytes(buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    (mirror / f"consul_{version}_SHA256SUMS").write_text(f"{digest}  {zipname}\n")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolkit.cli.main",
            "exec",
            f"{seed.name}/{CLIENT}",
            "--",
            "/usr/bin/python3",
            "-m",
            "http.server",
            "18080",
            "--bind",
            "127.0.0.1",
            "--directory",
            "/tmp/mirror",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: (
                seed.exec(
                    CLIENT,
                    "/usr/bin/python3",
                    "-c",
                    "import urllib.request as u;u.urlopen('http://127.0.0.1:18080/')",
                    check=False,
                ).returncode
                == 0
            ),
            timeout=15,
            what="mirror up",
        )
        common = [
            "--limit",
            CLIENT,
            "--tags",
            "consul_assert,consul_facts,consul_install",
            "-e",
            "consul_install_method=release",
            "-e",
            "consul_release_base_url=http://127.0.0.1:18080",
        ]
        good = seed.playbook(*common)
        assert good.rc == 0, good.output[-6000:]
        # Downloaded and unpacked; the lab's symlink (the 'link' install) is replaced by the
        # verified file, with the same bytes.
        assert good.recap()[CLIENT]["changed"] >= 2
        unpacked = Path(f"/proc/{seed.pid(CLIENT)}/root/var/cache/consul/{version}/unpacked/consul")
        assert unpacked.read_bytes() == binary
        installed = Path(f"/proc/{seed.pid(CLIENT)}/root{CONSUL}")
        assert not installed.is_symlink() and installed.read_bytes() == binary

        bad = seed.playbook(
            *common,
            "-e",
            "consul_release_cache_dir=/var/cache/consul-bad",
            "-e",
            "consul_release_checksum=sha256:" + "0" * 64,
        )
        assert bad.rc != 0
        assert "checksum" in bad.output.lower() and "did not match" in bad.output, bad.output[
            -4000:
        ]
        assert not Path(
            f"/proc/{seed.pid(CLIENT)}/root/var/cache/consul-bad/{version}/unpacked"
        ).exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_missing_vm_fails_naming_the_host(seed: Lab, tmp_path: Path) -> None:
    inv = yaml.safe_load(seed.inventory.read_text())
    inv["all"]["hosts"]["ghost-vm"] = {"ovlab_node": "ghost-vm"}
    inv["all"]["hosts"]["lost-vm"] = {"ovlab_lab": "ovt-nolab"}
    inv["all"]["children"]["consul_clients"]["hosts"].update({"ghost-vm": {}, "lost-vm": {}})
    path = tmp_path / "ghost.yml"
    path.write_text(yaml.safe_dump(inv))
    result = seed.playbook("--limit", "ghost-vm,lost-vm", inventory=path)
    assert result.rc != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "ovlab_vm:" in line]
    assert any(
        "ghost-vm" in line
        and f"lab '{seed.name}' has no VM 'ghost-vm'" in line
        and "ovlab lab up" in line
        for line in lines
    ), result.output[-4000:]
    assert any("no lab 'ovt-nolab' is up for VM 'lost-vm'" in line for line in lines)
    assert result.recap()["ghost-vm"]["unreachable"] == 1


def test_invalid_config_is_refused_and_the_agent_keeps_running(seed: Lab) -> None:
    path = Path(f"/proc/{seed.pid(CLIENT)}/root/etc/consul.d/consul.json")
    before = path.read_text()
    result = seed.playbook("--limit", CLIENT, "-e", '{"consul_config_custom": {"bogus_key": 1}}')
    assert result.rc != 0
    assert "validate" in result.output and "bogus_key" in result.output, result.output[-4000:]
    assert path.read_text() == before
    assert seed.members(CLIENT) == {SERVER: "alive", CLIENT: "alive"}


def test_refused_agent_settings_leave_the_running_agent_alone(seed: Lab) -> None:
    """'ovlab agent --check' runs before the program changes: a refusal restarts nothing."""
    program = Path(f"/proc/{seed.pid(CLIENT)}/root/etc/supervisor/conf.d/ovlab-agent.conf")
    before = program.read_text()

    def agent_pid() -> str:
        return seed.exec(CLIENT, *SUPERVISORCTL, "pid", "ovlab-agent").stdout.strip()

    pid = agent_pid()
    assert pid.isdigit() and pid != "0", pid
    bad = seed.playbook(
        "--limit", CLIENT, "-e", "overlay_agent_bind_interface=ovr-none0", playbook="overlay.yml"
    )
    assert bad.rc != 0
    text = " ".join(bad.output.split())
    assert "--bind-interface ovr-none0: no such interface" in text, bad.output[-4000:]
    assert program.read_text() == before
    assert agent_pid() == pid
    assert "RUNNING HANDLER" not in bad.output
    # The control: the same run with the inventory's settings passes and changes nothing,
    # so the refused run left nothing half-applied behind.
    good = seed.playbook("--limit", CLIENT, playbook="overlay.yml")
    assert good.rc == 0, good.output[-4000:]
    assert good.recap()[CLIENT]["changed"] == 0, good.recap()
    assert agent_pid() == pid


def test_agent_without_the_gossip_key_cannot_join(seed: Lab) -> None:
    server_ip = seed.nodes[SERVER]["eth1"]
    # The intruder is outside the inventory: it runs the controller's consul (its /var
    # shows the host's /var/cache/ovlab read-through).
    consul = consul_binary()
    assert consul
    root = Path(f"/proc/{seed.pid(INTRUDER)}/root/tmp/rogue")
    root.mkdir()
    config = {
        "node_name": INTRUDER,
        "datacenter": "dc1",
        "data_dir": "/tmp/rogue/data",
        "bind_addr": seed.nodes[INTRUDER]["eth1"],
        "client_addr": "127.0.0.1",
        "retry_join": [server_ip],
        "retry_interval": "1s",
        "disable_update_check": True,
    }
    (root / "agent.json").write_text(json.dumps(config))  # no "encrypt"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toolkit.cli.main",
                "exec",
                f"{seed.name}/{INTRUDER}",
                "--",
                consul,
                "agent",
                "-config-file=/tmp/rogue/agent.json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    rogue = start()
    try:
        wait_for(
            lambda: seed.exec(INTRUDER, consul, "members", check=False).returncode == 0,
            timeout=20,
            what="rogue agent's API",
        )
        join = seed.exec(INTRUDER, consul, "join", server_ip, check=False)
        assert join.returncode != 0
        assert "encrypt" in (join.stdout + join.stderr).lower(), join.stdout + join.stderr
        time.sleep(3)  # a few retry_join rounds
        assert INTRUDER not in seed.members(SERVER)
        assert INTRUDER not in seed.members(CLIENT)
    finally:
        rogue.terminate()
        rogue.wait(timeout=15)

    # Control: the same agent with the cluster's key does join, so the key was the reason.
    config["encrypt"] = seed.secret("gossip.key")
    (root / "agent.json").write_text(json.dumps(config))
    rogue = start()
    try:
        wait_for(
            lambda: seed.members(SERVER).get(INTRUDER) == "alive",
            timeout=20,
            what="keyed agent joins",
        )
    finally:
        rogue.terminate()
        rogue.wait(timeout=15)
