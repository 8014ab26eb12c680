"""``ovlab netns ls`` finds every namespace pinned by an nsfs mount, wherever and in whichever
mount namespace, once each; findmnt and lsns are the oracles, and such paths work as TARGET."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.jsonout import data as json_data
from toolkit.cli import netns as cli
from toolkit.netns import mounts

pytestmark = pytest.mark.root

runner = CliRunner()

# Runs in a private mount namespace: pins a new network namespace (with a veth pair
# and a VXLAN device, so it can be told apart) at $1, visible only in that mount namespace.
MNTNS_SCRIPT = """
set -e
unshare --net="$1" true
nsenter --net="$1" ip link add ovtinner0 type veth peer name ovtinner1
nsenter --net="$1" ip link add ovtvx0 type vxlan id 77 dstport 4789 nolearning
echo ready
exec sleep 300
"""


def ls_rows() -> list[dict[str, Any]]:
    result = runner.invoke(cli.app, ["ls", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    rows = json_data(result.stdout, "netns ls")
    assert isinstance(rows, list)
    return rows


def view(name: str, target: str) -> list[dict[str, Any]]:
    result = runner.invoke(cli.app, [name, target, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json_data(result.stdout, f"netns {name}")  # type: ignore[no-any-return]


def umount(path: str, pid: int | None = None) -> None:
    """Unmount every mount stacked on ``path`` (in process ``pid``'s mount namespace if given)."""
    prefix = ["nsenter", "-t", str(pid), "-m"] if pid else []
    for _ in range(10):  # until 'not mounted'
        if subprocess.run([*prefix, "umount", path], capture_output=True, timeout=30).returncode:
            break


@pytest.fixture
def pin_here(tmp_path) -> Iterator[Any]:
    """Factory: pin a fresh network namespace at a path in this mount namespace."""
    pinned: list[str] = []

    def pin(relative: str) -> str:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        pinned.append(str(path))
        subprocess.run(["unshare", f"--net={path}", "true"], check=True, timeout=30)
        return str(path)

    try:
        yield pin
    finally:
        for path in reversed(pinned):
            umount(path)


@pytest.fixture
def pinned_elsewhere(tmp_path) -> Iterator[tuple[int, str]]:
    """A sleep in its own private mount namespace that pins a netns at a path only it sees."""
    path = tmp_path / "other mnt" / "inner ns"  # spaces: mountinfo escapes them as \\040
    path.parent.mkdir()
    path.touch()
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", MNTNS_SCRIPT, "sh",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc.pid, str(path)
    finally:
        umount(str(path), proc.pid)
        proc.kill()
        proc.wait()


def findmnt_net_inodes(pid: int | None = None) -> dict[int, str]:
    """findmnt's nsfs mounts of net namespaces (in ``pid``'s mount namespace): inode -> target."""
    argv = ["findmnt", "-J", "-t", "nsfs", "-o", "TARGET,SOURCE"]
    if pid:
        argv += ["-N", str(pid)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    found = {}
    for fs in json.loads(out)["filesystems"] if out.strip() else []:
        m = re.search(r"net:\[(\d+)\]", fs["source"])
        if m:
            found.setdefault(int(m.group(1)), fs["target"])
    return found


def lsns_net_inodes() -> set[int]:
    out = subprocess.run(["lsns", "-J", "-t", "net", "-o", "NS"], capture_output=True,
                         text=True, check=True, timeout=30).stdout  # fmt: skip
    return {int(ns["ns"]) for ns in json.loads(out)["namespaces"]}


def oracle_inodes(pid: int) -> set[int]:
    """Network namespaces findmnt (here and in ``pid``'s mount namespace) and lsns see."""
    return set(findmnt_net_inodes()) | set(findmnt_net_inodes(pid)) | lsns_net_inodes()


def test_pins_anywhere_and_in_another_mount_namespace(pin_here, pinned_elsewhere):
    here = pin_here("some dir/pin1")
    pid, there = pinned_elsewhere
    here_ino, there_ino = os.stat(here).st_ino, os.stat(f"/proc/{pid}/root{there}").st_ino
    assert not os.path.ismount(there)  # invisible from our mount namespace
    # Oracles, read before and after (other sessions add and remove namespaces meanwhile):
    # every net nsfs mount findmnt sees here and in the other mount namespace, and every
    # namespace lsns sees, is listed when it existed throughout.
    before = oracle_inodes(pid)
    rows = ls_rows()
    after = oracle_inodes(pid)
    by_inode = {r["inode"]: r for r in rows}
    assert len(by_inode) == len(rows)  # each namespace once

    mine = by_inode[here_ino]
    assert (mine["kind"], mine["target"], mine["path"]) == ("pinned", here, here)
    theirs = by_inode[there_ino]
    assert theirs["kind"] == "pinned-mntns" and theirs["mount"] == there
    assert theirs["mntns"] == os.stat(f"/proc/{pid}/ns/mnt").st_ino and theirs["mnt_pid"] == pid
    assert theirs["path"] == theirs["target"] == f"/proc/{pid}/root{there}"
    assert (theirs["pids"], theirs["links"]) == (0, 4)  # lo, the veth pair, the vxlan

    assert findmnt_net_inodes()[here_ino] == here and findmnt_net_inodes(pid)[there_ino] == there
    assert {here_ino, there_ino} <= before & after <= set(by_inode)


def test_pinned_paths_work_as_targets(pin_here, pinned_elsewhere):
    here = pin_here("pin2")
    pid, there = pinned_elsewhere
    assert [r["name"] for r in view("links", here)] == ["lo"]
    target = f"/proc/{pid}/root{there}"
    assert {r["name"] for r in view("links", target)} == {"lo", "ovtinner0", "ovtinner1", "ovtvx0"}
    assert [(r["name"], r["id"]) for r in view("vxlan", target)] == [("ovtvx0", 77)]
    # --all reaches it too, labelled with the same target.
    rows = view("vxlan", "--all")
    assert any(r["netns"] == target and r["name"] == "ovtvx0" for r in rows)


def test_docker_exec_roots_anywhere(pin_here, tmp_path):
    custom = pin_here("srv/docker-exec/netns/4f3c2b1a0e9d")
    (tmp_path / "exec-root" / "libnetwork").mkdir(parents=True)
    sibling = pin_here("exec-root/netns/1-3aa4e1aa64")
    plain = pin_here("elsewhere/netns/x")
    kinds = {r["path"]: r["kind"] for r in ls_rows()}
    assert kinds[custom] == "docker" and kinds[sibling] == "docker"
    assert kinds[plain] == "pinned"


def test_a_namespace_pinned_twice_is_listed_once_by_its_first_name(pin_here, make_netns):
    name = make_netns()
    extra = pin_here("second-pin")
    subprocess.run(["mount", "--bind", f"/run/netns/{name}", extra], check=True, timeout=30)
    rows = [r for r in ls_rows() if r["inode"] == os.stat(extra).st_ino]
    assert [(r["kind"], r["target"]) for r in rows] == [("named", name)]


def test_missing_pinned_path_creates_nothing(tmp_path):
    missing = tmp_path / "nothing-here"
    result = runner.invoke(cli.app, ["links", str(missing)])
    assert result.exit_code == 2 and not missing.exists()
    result = runner.invoke(cli.app, ["links", f"/proc/{os.getpid()}/root{missing}"])
    assert result.exit_code == 2 and not missing.exists()


# --- pure parsing -------------------------------------------------------------------------

MOUNTINFO = r"""22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/root rw
640 25 0:4 net:[4026532548] /run/netns/ovlab-ul rw shared:5 - nsfs nsfs rw
641 25 0:4 net:[4026532600] /tmp/a\040b/c\134d rw - nsfs nsfs rw
642 25 0:4 mnt:[4026532601] /tmp/mnt-pin rw - nsfs nsfs rw
643 25 0:4 net:[4026532602] /srv/x rw shared:7 master:3 - nsfs nsfs rw
644 25 0:44 / /run/net:[1] rw - tmpfs tmpfs rw
broken line
"""


def test_parse_mountinfo_keeps_net_nsfs_mounts_only():
    assert mounts.parse_mountinfo(MOUNTINFO) == [
        (4026532548, "/run/netns/ovlab-ul"),
        (4026532600, "/tmp/a b/c\\d"),
        (4026532602, "/srv/x"),
    ]


def test_parse_mountinfo_of_this_process_agrees_with_findmnt():
    parsed = dict(mounts.parse_mountinfo(Path("/proc/self/mountinfo").read_text()))
    found = findmnt_net_inodes()
    assert {ino: parsed[ino] for ino in found} == found
