"""Bad input to the lab commands: one line, a fixed exit code, nothing created."""

from __future__ import annotations

import pytest

from tests.helpers import host_snapshot, one_line, ovlab

pytestmark = pytest.mark.root


def test_not_root_is_refused_before_anything(make_lab):
    before = host_snapshot()
    lab, topo = make_lab(1)
    proc = ovlab("lab", "up", str(topo), check=False, env={"OVLAB_FAKE_UNPRIVILEGED": "1"})
    assert proc.returncode == 3
    assert "needs root" in one_line(proc)
    assert host_snapshot() == before


def test_malformed_yaml_names_file_and_line(tmp_path):
    before = host_snapshot()
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: ovt-bad\nunderlay:\n  subnet: 192.168.100.0/24\nnodes:\n  vm1:\n    eth1: [oops\n"
    )
    proc = ovlab("lab", "up", str(bad), check=False)
    assert proc.returncode == 2
    line = one_line(proc)
    # The unclosed '[' of line 6 runs into the end of the file, which PyYAML marks on line 7
    # (as in tests/walk/errors/yaml-syntax.err): both lines are named.
    assert line.startswith(f"error: {bad}:7: invalid YAML: "), line
    assert line.endswith("(while parsing a flow sequence at line 6)"), line
    assert host_snapshot() == before


def test_invalid_topology_names_field(tmp_path):
    before = host_snapshot()
    bad = tmp_path / "dup.yml"
    bad.write_text(
        "name: ovt-dup\nunderlay:\n  subnet: 192.168.100.0/24\nnodes:\n"
        "  vm1:\n    eth1: 192.168.100.11\n  vm2:\n    eth1: 192.168.100.11\n"
    )
    proc = ovlab("lab", "up", str(bad), check=False)
    assert proc.returncode == 2
    line = one_line(proc)
    assert "dup.yml:8" in line and "nodes.vm2.eth1" in line
    assert host_snapshot() == before


@pytest.mark.parametrize(
    "args",
    [
        ("lab", "status", "ovt-nosuch"),
        ("lab", "down", "ovt-nosuch"),
        ("exec", "ovt-nosuch-vm", "--", "true"),
        ("lab", "down", "Bad_Name"),
    ],
)
def test_unknown_names_are_usage_errors(args):
    proc = ovlab(*args, check=False)
    assert proc.returncode == 2
    one_line(proc)


def test_unknown_node_suggests_close_match(make_lab):
    lab, topo = make_lab(2)
    ovlab("lab", "up", str(topo))
    proc = ovlab("exec", "--lab", lab, "vm3", "--", "true", check=False)
    assert proc.returncode == 2
    # Only this lab's names are offered (other labs on the machine may have a vm3); equal
    # matches come best-last-name first, as in tests/lab/test_topology.py.
    assert one_line(proc) == "error: no VM or container named 'vm3' — did you mean 'vm2' or 'vm1'?"


def test_help_everywhere():
    for args in (
        ["--help"],
        ["lab", "--help"],
        ["lab", "up", "--help"],
        ["netns", "--help"],
        ["exec", "--help"],
        ["lab", "impair", "--help"],
    ):
        proc = ovlab(*args)
        assert "Usage" in proc.stdout
