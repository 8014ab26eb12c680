"""TARGET resolution: errors create nothing, lab nodes and VM-pinned namespaces resolve."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import netns_names
from tests.jsonout import data as json_data
from toolkit.cli import netns as cli
from toolkit.host import procs
from toolkit.lab import state

pytestmark = pytest.mark.root

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def ip_netns() -> str:
    return subprocess.run(["ip", "netns"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("view", ["fdb", "neigh", "links", "addrs", "routes", "vxlan"])
def test_missing_name_is_exit_2_and_creates_nothing(view, make_netns):
    existing = make_netns()
    before, before_ip = netns_names(), ip_netns()
    typo = existing[:-1] + ("x" if existing[-1] != "x" else "y")
    result = runner.invoke(cli.app, [view, typo])
    assert result.exit_code == 2
    assert "did you mean" in result.stderr and existing in result.stderr
    assert netns_names() == before and ip_netns() == before_ip


@pytest.mark.parametrize(
    "target", ["/run/netns/ovt-nothere", "pid:999999999", "ovt-nothere:inner", "pid:abc"]
)
def test_other_missing_forms_are_exit_2_and_create_nothing(target):
    before, before_ip = netns_names(), ip_netns()
    result = runner.invoke(cli.app, ["fdb", target])
    assert result.exit_code == 2, result.output
    assert netns_names() == before and ip_netns() == before_ip
    assert not os.path.exists("/run/netns/ovt-nothere")


def test_not_a_namespace_file_is_a_usage_error(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    for view in ("fdb", "links"):
        result = runner.invoke(cli.app, [view, str(plain)])
        assert result.exit_code == 2
        assert "not a network namespace" in result.stderr


def test_target_is_required_unless_fanning_out():
    assert runner.invoke(cli.app, ["fdb"]).exit_code == 2
    assert runner.invoke(cli.app, ["fdb", "x", "--all"]).exit_code == 2
    result = runner.invoke(cli.app, ["neigh", "--lab", "ovt-nolab"])
    assert result.exit_code == 2 and "no lab" in result.stderr


def test_unprivileged_is_refused(monkeypatch):
    monkeypatch.setenv("OVLAB_FAKE_UNPRIVILEGED", "1")
    assert runner.invoke(cli.app, ["fdb", "--all"]).exit_code == 3


def test_console_script_exit_code_and_one_line(make_netns):
    existing = make_netns()
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.main", "netns", "links", existing + "zz"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# --- lab VMs, faked: a process with its own net and mount namespaces, in a lab state file ---

VM_SCRIPT = """
set -e
ip link add ovdummy0 type veth peer name ovdummy1
mount -t tmpfs ovt-run /run
mkdir -p /run/docker/netns /run/netns
touch /run/docker/netns/1-3aa4e1aa64
unshare --net=/run/docker/netns/1-3aa4e1aa64 true
nsenter --net=/run/docker/netns/1-3aa4e1aa64 ip link add ovpinned0 type veth peer name ovpinned1
mkdir -p "/run/ovt any"
touch "/run/ovt any/ns1"
unshare --net="/run/ovt any/ns1" true
echo ready
exec sleep 300
"""


@pytest.fixture
def fake_lab(tmp_path, monkeypatch) -> Iterator[tuple[str, str]]:
    """A lab "ovt-lab" with one running VM "ovt-node1" that pins a Docker-style netns."""
    monkeypatch.setenv("OVLAB_STATE_ROOT", str(tmp_path / "state"))
    vm = subprocess.Popen(
        ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", VM_SCRIPT],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert vm.stdout is not None and vm.stdout.readline().strip() == "ready"
        lab, node = f"ovt-lab{os.getpid()}", "ovt-node1"
        with state.locked(lab, create=True) as st:
            st.data["nodes"] = {node: {"pid": vm.pid, "starttime": procs.starttime(vm.pid)}}
            st.save()
        yield lab, node
    finally:
        vm.kill()
        vm.wait()


def names_of(args: list[str]) -> list[str]:
    result = runner.invoke(cli.app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return [r["name"] for r in json_data(result.stdout, f"netns {args[0]}")]


def test_lab_node_targets(fake_lab):
    lab, node = fake_lab
    assert "ovdummy0" in names_of(["links", node])
    assert "ovdummy0" in names_of(["links", f"{lab}/{node}"])
    assert "ovpinned0" in names_of(["links", f"{node}:1-3aa4e1aa64"])
    assert "ovdummy0" in names_of(["links", node, "--lab", lab])  # TARGET within one lab
    result = runner.invoke(cli.app, ["links", "--lab", lab, "--json"])
    rows = json_data(result.stdout, "netns links")
    assert {r["netns"] for r in rows} == {node}
    table = runner.invoke(cli.app, ["links", "--lab", lab], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "node" in table.stdout


def test_lab_node_typos_suggest(fake_lab):
    lab, node = fake_lab
    result = runner.invoke(cli.app, ["links", node[:-1] + "2"])
    assert result.exit_code == 2 and node in result.stderr
    result = runner.invoke(cli.app, ["links", f"{node}:1-3aa4e1aa65"])
    assert result.exit_code == 2 and "1-3aa4e1aa64" in result.stderr
    result = runner.invoke(cli.app, ["links", "--lab", lab[:-1]])
    assert result.exit_code == 2 and lab in result.stderr


def test_ls_shows_lab_vm_and_pinned(fake_lab):
    _lab, node = fake_lab
    rows = json_data(runner.invoke(cli.app, ["ls", "--json"]).stdout, "netns ls")
    kinds = {r["target"]: r["kind"] for r in rows}
    assert kinds[node] == "lab-vm"
    assert kinds[f"{node}:1-3aa4e1aa64"] == "vm-pinned"
    pinned = next(r for r in rows if r["target"] == f"{node}:1-3aa4e1aa64")
    assert pinned["links"] == 3  # lo and the ovpinned0/1 pair
    # Deduplicated: the VM's namespace is not listed a second time as a process one.
    inode = next(r["inode"] for r in rows if r["target"] == node)
    assert [r["inode"] for r in rows].count(inode) == 1


def test_vm_pinned_anywhere_in_the_vm(fake_lab):
    _lab, node = fake_lab
    rows = json_data(runner.invoke(cli.app, ["ls", "--json"]).stdout, "netns ls")
    target = f"{node}:/run/ovt any/ns1"
    row = next(r for r in rows if r["target"] == target)
    assert (row["kind"], row["mount"], row["links"]) == ("vm-pinned", "/run/ovt any/ns1", 1)
    assert names_of(["links", target]) == ["lo"]
    result = runner.invoke(cli.app, ["links", f"{node}:/run/ovt none"])
    assert result.exit_code == 2 and "inside" in result.stderr
    result = runner.invoke(cli.app, ["links", f"{node}:a/b"])
    assert result.exit_code == 2 and "NODE:/PATH" in result.stderr


def test_dead_vm_is_not_found(fake_lab):
    lab, node = fake_lab
    with state.locked(lab) as st:
        st.data["nodes"][node]["starttime"] = 1  # pid reused: the VM is gone
        st.save()
    result = runner.invoke(cli.app, ["links", node])
    assert result.exit_code == 2 and "not running" in result.stderr
