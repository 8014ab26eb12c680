"""`ovlab provision` and `ovlab consul`: one-line failures, state checked against Consul."""

from __future__ import annotations

import pytest

from tests.helpers import host_snapshot, ovlab
from tests.jsonout import data as json_data

pytestmark = pytest.mark.root

FAILING = """\
- name: A play that breaks on one host
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.command: hostname
      changed_when: false
    - name: Break on purpose
      ansible.builtin.fail:
        msg: boom on {{ inventory_hostname }}
      when: inventory_hostname == 'vm2'
"""


def test_failure_names_host_and_task(make_lab, tmp_path):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    book = tmp_path / "failing.yml"
    book.write_text(FAILING)
    proc = ovlab("provision", lab, "-p", str(book), check=False)
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "vm2" in lines[0] and "'Break on purpose'" in lines[0] and "boom on vm2" in lines[0]
    result = json_data(
        ovlab("provision", lab, "-p", str(book), "--json", check=False).stdout, "provision"
    )
    assert result["ok"] is False
    assert {r["host"]: r["failures"] for r in result["recap"]} == {"vm1": 0, "vm2": 1}


def test_missing_consul_binary_is_one_line_and_builds_nothing(make_lab):
    before = host_snapshot()
    lab, topo = make_lab(1)
    proc = ovlab(
        "lab",
        "up",
        str(topo),
        "--provision",
        check=False,
        env={"CONSUL_BIN": "/nonexistent/consul"},
    )
    assert proc.returncode == 3
    line = proc.stderr.strip()
    assert "CONSUL_BIN=/nonexistent/consul is not executable" in line and "\n" not in line
    assert host_snapshot() == before


def test_unknown_playbook_and_lab_down(make_lab):
    lab, topo = make_lab(1)
    ovlab("lab", "up", str(topo))
    proc = ovlab("provision", lab, "-p", "no-such-book", check=False)
    assert proc.returncode == 2 and "no playbook 'no-such-book'" in proc.stderr
    ovlab("lab", "down", lab)
    proc = ovlab("provision", lab, check=False)
    assert proc.returncode == 2 and f"no lab named {lab!r} is up" in proc.stderr


def test_members_and_kv_match_consuls_own_cli(make_lab, tmp_path):
    lab, topo = make_lab(2)
    text = topo.read_text().replace(
        "    eth1: 192.168.100.11\n", "    eth1: 192.168.100.11\n    groups: [consul_servers]\n"
    )
    topo.write_text(
        text.replace(
            "    eth1: 192.168.100.12\n", "    eth1: 192.168.100.12\n    groups: [consul_clients]\n"
        )
    )
    ovlab("lab", "up", str(topo), "--provision", timeout=240)
    ours = json_data(ovlab("consul", "members", lab, "--json").stdout, "consul members")
    with open(f"/run/ovlab/labs/{lab}/secrets/bootstrap.token") as fh:
        token = fh.read().strip()
    theirs = ovlab(
        "exec",
        f"{lab}/vm2",
        "--",
        "env",
        f"CONSUL_HTTP_TOKEN={token}",
        "/var/lib/consul/bin/consul",
        "members",
    ).stdout.splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in theirs}
    assert {m["node"] for m in ours} == set(rows) == {"vm1", "vm2"}
    for m in ours:
        node, addr, status, kind = rows[m["node"]][:4]
        assert (m["address"], m["status"], m["type"]) == (addr, status, kind)
    ovlab(
        "exec",
        f"{lab}/vm1",
        "--",
        "env",
        f"CONSUL_HTTP_TOKEN={token}",
        "/var/lib/consul/bin/consul",
        "kv",
        "put",
        "ovlab/probe",
        "hello",
    )
    kv = json_data(ovlab("consul", "kv", lab, "ovlab/", "--json").stdout, "consul kv")
    assert [(k["key"], k["value"]) for k in kv] == [("ovlab/probe", "hello")]
