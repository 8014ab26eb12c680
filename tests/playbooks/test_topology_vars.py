"""Topology vars end to end: good ones reach Consul, a bad one stops `lab up` before any VM.

Oracles: Consul's own CLI inside the VMs (members' DC column, the installed gossip
keyring, the agent token's identity) and the kernel (no namespace of the lab exists).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.helpers import lab_name, netns_names
from tests.playbooks.conftest import CONSUL, ovlab, require_lab_env
from toolkit.lab import state

FIELD_REPORT = Path("/work/shared/cases/field-reports/topo-gossip-key.yml")
ROOT = Path(__file__).resolve().parents[2]
KEY = base64.b64encode(bytes(range(16, 48))).decode()  # a fixed test pattern, 32 bytes
AGENT_TOKEN = "6f1e3a52-0c4b-4d8e-9a7f-2b3c4d5e6f70"


def topology(lab: str, extra_vars: str) -> str:
    return f"""\
name: {lab}
underlay:
  subnet: 192.168.131.0/24
vars:
{extra_vars}
nodes:
  lab-vm-1:
    eth1: 192.168.131.23
    groups: [consul_servers]
  lab-vm-2:
    eth1: 192.168.131.24
    groups: [consul_clients]
    vars:
      consul_node_name: client-two
"""


def test_bad_gossip_key_refused_before_any_vm(tmp_path: Path) -> None:
    """The field report topo-gossip-key.yml (its lab renamed): exit 2, one line, nothing made."""
    if not FIELD_REPORT.exists():  # the same file is kept as tests/errors/vars-gossip-key-18-bytes
        source = ROOT / "tests" / "errors" / "vars-gossip-key-18-bytes.yml"
    else:
        source = FIELD_REPORT
    lab = lab_name()
    path = tmp_path / "topo.yml"
    path.write_text(source.read_text().replace("name: hunt-gossip", f"name: {lab}"))
    before = netns_names()
    proc = ovlab("lab", "up", str(path), "--provision", check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"error: {path}:8: vars.consul_encrypt_key: decodes to 18 bytes; Consul takes 16, 24"
        " or 32 (AES-128, -192 or -256) — make one with 'consul keygen' (32 bytes), or leave it"
        " unset to have one made"
    ]
    assert "Traceback" not in proc.stderr
    assert state.load(lab) is None
    assert netns_names() == before


def test_good_vars_reach_consul(tmp_path: Path) -> None:
    require_lab_env()
    lab = lab_name()
    path = tmp_path / "topo.yml"
    path.write_text(
        topology(
            lab,
            f"  consul_datacenter: lab1\n  consul_encrypt_key: '{KEY}'\n"
            f"  consul_acl_agent_token: {AGENT_TOKEN}\n  consul_bootstrap_expect: 1",
        )
    )
    try:
        ovlab("lab", "up", str(path), "--provision", timeout=400)
        from toolkit.provision.inventory import secrets_dir

        token = (secrets_dir(lab) / "bootstrap.token").read_text().strip()

        def consul(*args: str) -> str:
            argv = ["env", f"CONSUL_HTTP_TOKEN={token}", CONSUL, *args]
            return ovlab("exec", f"{lab}/lab-vm-1", "--", *argv).stdout

        rows = [line.split() for line in consul("members").splitlines()[1:] if line.strip()]
        assert {r[0]: r[6] for r in rows} == {"lab-vm-1": "lab1", "client-two": "lab1"}
        assert KEY in consul("keyring", "-list")
        assert (secrets_dir(lab) / "agent.token").read_text().strip() == AGENT_TOKEN
        who = ovlab(
            "exec",
            f"{lab}/lab-vm-1",
            "--",
            "env",
            f"CONSUL_HTTP_TOKEN={AGENT_TOKEN}",
            CONSUL,
            "acl",
            "token",
            "read",
            "-self",
        ).stdout
        assert AGENT_TOKEN in who and "agent" in who
    finally:
        ovlab("lab", "down", lab, check=False)


@pytest.fixture(autouse=True)
def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
