"""A lab over two machines: namespace hosts with sshd, each running its own ovlab from the
controller's wheel (installed by ``lab up`` with Ansible), the underlay stitched with kernel
VXLAN. Real SSH, real kernel; one two-host setup shared by the module.

Oracles: ``ip -j -d link``/``bridge -j fdb`` and ``nft -j`` on each host, Consul's own
CLI for the cluster, tshark for the captured VXLAN.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TEST_PREFIX, wait_for
from tests.lab.hostlab import OVLAB, Hosts, hosts_lab, write_multi
from tests.playbooks.conftest import require_lab_env
from toolkit.lab import stitchplan

pytestmark = pytest.mark.timeout(900)

SEED = {
    "lab-vm-1": {"eth1": "192.168.100.23", "groups": ["consul_servers"], "host": "host-a"},
    "lab-vm-2": {"eth1": "192.168.100.24", "groups": ["consul_clients"], "host": "host-b"},
}
CONSUL = "/var/lib/consul/bin/consul"


def _name(tag: str) -> str:
    return f"{TEST_PREFIX}-{tag}{os.getpid() % 1000:03d}"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    require_lab_env()
    with hosts_lab(tmp_path_factory.mktemp("hosts"), ["host-a", "host-b"]) as h:
        yield h


def host_sh(h: Hosts, host: str, command: str, check: bool = True) -> str:
    return h.access.ssh(host, command, check=check).stdout


def leftovers(h: Hosts, host: str) -> str:
    """What a lab could leave on a host: named netns, ovlab tables, lab state dirs."""
    out = host_sh(
        h,
        host,
        "ip netns list; nft list tables | grep ovlab-stitch; ls /run/ovlab/labs 2>/dev/null; true",
    )
    return out.strip()


def test_unreachable_host_makes_nothing(hosts: Hosts, tmp_path: Path) -> None:
    """A host nobody answers for: one line naming it, exit 3, nothing made anywhere."""
    lab = _name("u")
    nodes = {**SEED, "lab-vm-3": {"eth1": "192.168.100.25", "host": "host-c"}}
    lost = {"address": "10.77.0.99", "user": "root", "key": str(hosts.access.key)}
    topo = write_multi(tmp_path / "t.yml", lab, hosts, nodes, extra_hosts={"host-c": lost})
    proc = hosts.ovlab("lab", "up", str(topo), check=False, timeout=120)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "host host-c" in lines[0] and "unreachable" in lines[0], lines
    assert hosts.ovlab("lab", "status", lab, check=False).returncode == 2
    assert leftovers(hosts, "host-a") == "" and leftovers(hosts, "host-b") == ""


def test_mtu_too_small_is_refused_with_the_numbers(hosts: Hosts, tmp_path: Path) -> None:
    """Underlay MTU 9000 over hosts whose links are 9000: 9050 needed, refused at up."""
    lab = _name("m")
    topo = write_multi(tmp_path / "t.yml", lab, hosts, SEED, mtu=9000)
    proc = hosts.ovlab("lab", "up", str(topo), check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = proc.stderr.strip().splitlines()[0]
    assert "9000 bytes" in line and "needs 9050" in line and "underlay MTU 9000 + 50" in line
    assert "underlay.mtu: 8950" in proc.stderr
    assert leftovers(hosts, "host-a") == "" and leftovers(hosts, "host-b") == ""


def test_sigkill_of_a_slice(hosts: Hosts, tmp_path: Path) -> None:
    """A host's slice killed: doctor names the host; down still cleans both hosts."""
    lab = _name("k")
    topo = write_multi(tmp_path / "t.yml", lab, hosts, SEED)
    try:
        hosts.ovlab("lab", "up", str(topo))
        status = json.loads(hosts.ovlab("lab", "status", lab, "--json").stdout)
        rows = {r["host"]: r for r in status["data"]["hosts"]}
        assert rows["host-b"]["nodes"] == ["lab-vm-2"] and rows["host-b"]["phase"] == "stitched"
        vm2 = rows["host-b"]["slice_status"][0]
        assert vm2["node"] == "lab-vm-2" and vm2["alive"]
        # The stitching as the kernel holds it on host-a (oracle: ip -d -j, bridge -j).
        slice_a = stitchplan.slice_name(lab, "host-a")
        link = json.loads(
            host_sh(hosts, "host-a", f"ip -n ovlab-{slice_a}-ul -d -j link show stitch0")
        )[0]
        info = link["linkinfo"]["info_data"]
        assert info["id"] == stitchplan.stitch_vni(lab) and info["port"] == 4799
        assert info["local"] == hosts.address("host-a") and link["master"] == "br-underlay"
        fdb = json.loads(
            host_sh(hosts, "host-a", f"bridge -n ovlab-{slice_a}-ul -j fdb show dev stitch0")
        )
        assert {"mac": "00:00:00:00:00:00", "dst": hosts.address("host-b")}.items() <= {
            k: v for e in fdb if e["mac"] == "00:00:00:00:00:00" for k, v in e.items()
        }.items()
        rules = host_sh(hosts, "host-a", f"nft list table inet ovlab-stitch-{slice_a}")
        assert (
            f"ip saddr {hosts.address('host-b')} ip daddr {hosts.address('host-a')} accept" in rules
        )
        # Across hosts over the stitched underlay.
        ping = hosts.ovlab("exec", f"{lab}/lab-vm-1", "--", "ping", "-c2", "-W2", "192.168.100.24")
        assert " 0% packet loss" in ping.stdout

        os.kill(vm2["pid"], signal.SIGKILL)  # the slice's VM init on host-b (shared pid space)
        wait_for(lambda: not os.path.exists(f"/proc/{vm2['pid']}"), timeout=10, what="init gone")
        doctor = hosts.ovlab("doctor", lab, "--no-probe", "--json", check=False)
        assert doctor.returncode == 5, doctor.stdout[-2000:] + doctor.stderr
        findings = json.loads(doctor.stdout)["data"]["findings"]
        # host-b's own doctor says its VM died; host-a's sees only what it lost with it.
        dead = [
            f
            for f in findings
            if f["severity"] == "critical" and f["summary"].startswith("[host-b]")
        ]
        assert any(f["check"] in ("vm-down", "host-slice-down") for f in dead), findings
        assert any(f.get("vm") == "lab-vm-2" for f in dead), findings
    finally:
        down = hosts.ovlab("lab", "down", lab, check=False)
    assert down.returncode == 0, down.stderr
    assert leftovers(hosts, "host-a") == "" and leftovers(hosts, "host-b") == ""
    assert hosts.ovlab("lab", "status", lab, check=False).returncode == 2


@pytest.fixture(scope="module")
def seed(hosts: Hosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The seed demo over the two hosts, provisioned, with the demo's two containers."""
    lab = _name("s")
    topo = write_multi(tmp_path_factory.mktemp("seed") / "t.yml", lab, hosts, SEED)
    try:
        hosts.ovlab("lab", "up", str(topo), "--provision", timeout=900)
        for node, host, name, svc in (
            ("lab-vm-1", "host-a", "container_node1", "svc1"),
            ("lab-vm-2", "host-b", "container_node2", "svc2"),
        ):
            agent = str(hosts.venvs / host / "bin" / "ovlab")
            hosts.ovlab(
                "exec",
                f"{lab}/{node}",
                "--",
                agent,
                "run",
                "-d",
                "--name",
                name,
                "--publish-service",
                f"{svc}.dev.overlay",
            )
        yield lab
    finally:
        hosts.ovlab("lab", "down", lab, check=False)
        for host in ("host-a", "host-b"):
            assert leftovers(hosts, host) == ""


def test_seed_demo_across_hosts(hosts: Hosts, seed: str, tmp_path: Path) -> None:
    """Consul spans the hosts, ping svc1 crosses them (VXLAN in VXLAN), capture on
    lab-vm-1's eth1 shows the overlay's VXLAN, and the doctor is clean."""
    from toolkit.provision.inventory import secrets_dir

    token = (secrets_dir(seed) / "bootstrap.token").read_text().strip()
    members = hosts.ovlab(
        "exec", f"{seed}/lab-vm-2", "--", "env", f"CONSUL_HTTP_TOKEN={token}", CONSUL, "members"
    ).stdout
    rows = {r.split()[0]: r.split()[2] for r in members.splitlines()[1:] if r.strip()}
    assert rows == {"lab-vm-1": "alive", "lab-vm-2": "alive"}, members

    pcap = tmp_path / "eth1.pcap"
    cap = subprocess.Popen(
        [
            "nsenter",
            f"--net={hosts.access.underlay}",
            "--",
            OVLAB,
            "capture",
            f"{seed}/lab-vm-1",
            "-i",
            "eth1",
            "--duration",
            "10",
            "-w",
            str(pcap),
        ],
        env=hosts.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert cap.stderr is not None
    started = cap.stderr.readline()  # 'capturing on eth1 in lab-vm-1 …': its socket is open
    assert "capturing on eth1 in lab-vm-1" in started, started
    time.sleep(0.5)
    ping = hosts.ovlab(
        "exec", "--lab", seed, "container_node2", "--", "ping", "-c3", "-i", "0.3", "-W2", "svc1"
    )
    assert " 0% packet loss" in ping.stdout, ping.stdout
    out, err = cap.communicate(timeout=120)
    assert cap.returncode == 0, err
    assert "lab-vm-2 → lab-vm-1" in out and "container_node2(svc2) → container_node1(svc1)" in out
    shark = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-Y",
            "vxlan",
            "-T",
            "fields",
            "-e",
            "udp.dstport",
            "-e",
            "vxlan.vni",
            "-e",
            "ip.src",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    fields = [line.split("\t") for line in shark if line.strip()]
    assert fields and all(f[0] == "4789" for f in fields)  # the overlay's, not the stitching's
    assert {f[1] for f in fields} == {"256"}
    assert {f[2].split(",")[0] for f in fields} == {"192.168.100.23", "192.168.100.24"}

    doctor = hosts.ovlab("doctor", seed, "--json", check=False, timeout=600)
    findings = json.loads(doctor.stdout)["data"]["findings"]
    assert doctor.returncode == 0, findings
