"""``ovlab docker doctor`` on a real two-host Docker overlay (Debian's dockerd 20.10, etcd
store): clean when healthy and equal to iproute2's view, each injected fault found with
its expected/found/fix, clean again after the printed fix; bad input is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.dockerlab import DockerLab, docker_lab, missing_tools
from tests.helpers import one_line, ovlab, wait_for
from tests.jsonout import data as json_data

pytestmark = pytest.mark.root

VTEP = {"vm1": "192.168.100.23", "vm2": "192.168.100.24"}


def _no_overlay(dl: DockerLab) -> subprocess.CompletedProcess[str]:
    return ovlab("docker", "doctor", "--host", dl.host("vm1"), check=False)


@pytest.fixture(scope="module")
def dl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerLab]:
    """The shared setup: c1 on vm1, c2 on vm2 in one overlay network."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if missing := missing_tools():
        pytest.skip(f"missing: {', '.join(missing)}")
    before: list[Any] = [_no_overlay]
    with docker_lab(tmp_path_factory.mktemp("ovdk"), before) as lab:
        lab.before = before  # type: ignore[attr-defined]
        lab.c = {"c1": lab.run("vm1", "c1"), "c2": lab.run("vm2", "c2")}  # type: ignore[attr-defined]
        wait_for(lambda: _fdb(lab, "vm1", lab.c["c2"]["mac"]), 20, what="c2 programmed on vm1")  # type: ignore[attr-defined]
        yield lab


def _sh(dl: DockerLab, vm: str, *argv: str) -> str:
    return subprocess.run(
        ["nsenter", f"--net={dl.netns(vm)}", *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def _fdb(dl: DockerLab, vm: str, mac: str) -> list[dict[str, Any]]:
    return [
        e
        for e in json.loads(_sh(dl, vm, "bridge", "-j", "fdb", "show", "dev", "vxlan0"))
        if e["mac"] == mac and "self" in e.get("flags", [])
    ]


def doctor(dl: DockerLab) -> tuple[int, dict[str, Any]]:
    """The doctor in this process (its CLI form runs in the healthy and --fix tests)."""
    from toolkit.docker.doctor import diagnose

    report = diagnose([dl.host("vm1"), dl.host("vm2")])
    return report.exit_code, json.loads(json.dumps(report.to_dict()))


def doctor_cli(dl: DockerLab, *extra: str) -> tuple[int, dict[str, Any]]:
    p = ovlab(
        "docker",
        "doctor",
        "--host",
        dl.host("vm1"),
        "--host",
        dl.host("vm2"),
        "--json",
        *extra,
        check=False,
    )
    assert p.returncode in (0, 1, 4, 5), p.stderr
    return p.returncode, json_data(p.stdout, "docker doctor")


def problems(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["severity"] != "info"]


def kernel_state(dl: DockerLab) -> dict[str, Any]:
    """Both hosts' vxlan0 tables as iproute2 shows them (the oracle), without timers."""
    out = {}
    for vm in VTEP:
        fdb = json.loads(_sh(dl, vm, "bridge", "-j", "fdb", "show", "dev", "vxlan0"))
        neigh = json.loads(_sh(dl, vm, "ip", "-j", "neigh", "show", "dev", "vxlan0"))
        link = json.loads(_sh(dl, vm, "ip", "-j", "-d", "link", "show", "vxlan0"))[0]
        out[vm] = (
            sorted((f["mac"], f.get("dst"), f.get("state")) for f in fdb if "self" in f["flags"]),
            sorted((n["dst"], n.get("lladdr"), tuple(n.get("state", []))) for n in neigh),
            (link["mtu"], link["linkinfo"]["info_data"]),
        )
    return out


def test_healthy_is_clean_and_equals_iproute2(dl: DockerLab) -> None:
    rc, rep = doctor_cli(dl)
    assert rc == 0 and problems(rep) == [], rep["findings"]
    assert rep["source"] == "etcd://192.168.100.23:2379"
    assert [(n["name"], n["subnet"], n["vni"]) for n in rep["networks"]] == [
        ("ovnet", "10.0.0.0/24", 256)
    ]
    assert rep["checked"]["overlay_namespaces"] == 2 and rep["checked"]["endpoints"] == 2
    ns = f"1-{dl.net_id[:10]}"
    for vm in VTEP:
        k = rep["kernel"][vm][ns]
        fdb = json.loads(_sh(dl, vm, "bridge", "-j", "fdb", "show"))
        assert sorted(
            (f["mac"], f["dev"], f.get("dst"), f.get("state", "")) for f in k["fdb"]
        ) == sorted((f["mac"], f["ifname"], f.get("dst"), f.get("state", "")) for f in fdb)
        neigh = json.loads(_sh(dl, vm, "ip", "-j", "neigh", "show"))
        assert sorted((n["dst"], n["dev"], n.get("lladdr")) for n in k["neigh"]) == sorted(
            (n["dst"], n["dev"], n.get("lladdr")) for n in neigh
        )
        links = json.loads(_sh(dl, vm, "ip", "-j", "link", "show"))
        assert sorted((x["name"], x["mtu"]) for x in k["links"]) == sorted(
            (x["ifname"], x["mtu"]) for x in links
        )
        vx = json.loads(_sh(dl, vm, "ip", "-j", "-d", "link", "show", "vxlan0"))[0]
        info = vx["linkinfo"]["info_data"]
        assert (
            (k["vxlan"][0]["id"], k["vxlan"][0]["port"])
            == (info["id"], info["port"])
            == (256, 4789)
        )
    # c2 on vm2 is what vm1's vxlan0 must hold, and nothing else
    other = rep["kernel"]["vm1"][ns]["fdb"]
    c2 = dl.c["c2"]  # type: ignore[attr-defined]
    assert [f["dst"] for f in other if f["mac"] == c2["mac"] and f["dev"] == "vxlan0"] == [
        VTEP["vm2"]
    ]


def test_docker_targets_for_netns_and_capture(dl: DockerLab) -> None:
    """docker:HOST/NETWORK is the overlay namespace, docker:HOST/CONTAINER the container's."""
    from toolkit.capture import live

    p = ovlab("netns", "fdb", "docker:vm1/ovnet", "--json")
    rows = json_data(p.stdout, "netns fdb")
    oracle = json.loads(_sh(dl, "vm1", "bridge", "-j", "fdb", "show"))
    assert sorted((r["mac"], r["dev"], r.get("dst")) for r in rows) == sorted(
        (f["mac"], f["ifname"], f.get("dst")) for f in oracle
    )
    pid = dl.api("vm1").inspect("c1")["State"]["Pid"]
    assert live.resolve("docker:vm1/c1").path == f"/proc/{pid}/ns/net"
    amb = ovlab("netns", "fdb", "docker:ovnet", check=False)  # on both hosts
    assert amb.returncode == 2 and "docker:vm1/ovnet, docker:vm2/ovnet" in one_line(amb)


def _stale(dl: DockerLab) -> dict[str, str]:
    """c3 on vm2 comes and goes; its entries are written back on vm1 by hand."""
    c3 = dl.run("vm2", "c3")
    wait_for(lambda: _fdb(dl, "vm1", c3["mac"]), 20, what="c3 programmed on vm1")
    dl.rm("vm2", "c3")
    wait_for(lambda: not _fdb(dl, "vm1", c3["mac"]), 20, what="c3 removed on vm1")
    _sh(
        dl,
        "vm1",
        "bridge",
        "fdb",
        "append",
        c3["mac"],
        "dev",
        "vxlan0",
        "dst",
        VTEP["vm2"],
        "self",
        "permanent",
    )
    _sh(
        dl,
        "vm1",
        "ip",
        "neigh",
        "replace",
        c3["ip"],
        "lladdr",
        c3["mac"],
        "dev",
        "vxlan0",
        "nud",
        "permanent",
    )
    return c3


FAULTS = ["fdb-del", "fdb-wrong-vtep", "neigh-wrong-mac", "stale", "mtu"]


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_found_and_fixed(dl: DockerLab, fault: str) -> None:
    c2 = dl.c["c2"]  # type: ignore[attr-defined]
    mac, ip = c2["mac"], c2["ip"]
    want: list[tuple[str, str, str]]  # (check, expected, found)
    if fault == "fdb-del":
        _sh(dl, "vm1", "bridge", "fdb", "del", mac, "dev", "vxlan0", "self")
        want = [("fdb-missing", f"{mac} dst {VTEP['vm2']} self permanent", "no entry")]
    elif fault == "fdb-wrong-vtep":
        _sh(
            dl,
            "vm1",
            "bridge",
            "fdb",
            "replace",
            mac,
            "dev",
            "vxlan0",
            "dst",
            "192.168.100.99",
            "self",
            "permanent",
        )
        want = [
            (
                "fdb-wrong-vtep",
                f"{mac} dst {VTEP['vm2']} self permanent",
                f"{mac} dst 192.168.100.99 self permanent",
            )
        ]
    elif fault == "neigh-wrong-mac":
        _sh(
            dl,
            "vm1",
            "ip",
            "neigh",
            "replace",
            ip,
            "lladdr",
            "02:42:0a:00:00:99",
            "dev",
            "vxlan0",
            "nud",
            "permanent",
        )
        want = [
            (
                "neigh-wrong-mac",
                f"{ip} lladdr {mac} PERMANENT",
                f"{ip} lladdr 02:42:0a:00:00:99 PERMANENT",
            )
        ]
    elif fault == "stale":
        c3 = _stale(dl)
        want = [
            ("fdb-stale", "no entry", f"{c3['mac']} dst {VTEP['vm2']} self permanent"),
            ("neigh-stale", "no entry", f"{c3['ip']} lladdr {c3['mac']} PERMANENT"),
        ]
    else:
        _sh(dl, "vm1", "ip", "link", "set", "vxlan0", "mtu", "1400")
        pid = dl.api("vm1").inspect("c1")["State"]["Pid"]
        subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ip", "link", "set", "eth0", "mtu", "1400"],
            check=True,
            timeout=30,
        )
        want = [("mtu-overlay", "mtu 1450", "mtu 1400"), ("mtu-container", "mtu 1450", "mtu 1400")]
    rc, rep = doctor(dl)
    got = problems(rep)
    assert rc == (1 if fault == "stale" else 4), got  # stale entries are warnings
    for check, expected, found in want:
        hits = [f for f in got if f["check"] == check and f["vm"] == "vm1"]
        assert hits, (check, got)
        f = hits[0]
        assert (f["expected"], f["found"]) == (expected, found), f
        if check == "mtu-container":  # fixed in the container's sandbox, pinned by dockerd
            assert f["netns"] == "container c1" and "/run/ovdk-docker/netns/" in f["fix"], f
            continue
        assert f["netns"] == f"1-{dl.net_id[:10]}"
        assert f["fix"].startswith("nsenter --net=") and dl.netns("vm1") in f["fix"], f
    assert all(f["vm"] == "vm1" for f in got), got  # vm2 untouched
    for f in got:  # the printed fixes, as a user would paste them
        subprocess.run(["sh", "-c", f["fix"]], check=True, timeout=30)
    rc, rep = doctor(dl)
    assert rc == 0 and problems(rep) == [], rep["findings"]


def test_fix_option_repairs_after_confirmation(dl: DockerLab) -> None:
    mac = dl.c["c2"]["mac"]  # type: ignore[attr-defined]
    _sh(dl, "vm1", "bridge", "fdb", "del", mac, "dev", "vxlan0", "self")
    refused = subprocess.run(
        [
            *__import__("tests.helpers", fromlist=["OVLAB"]).OVLAB,
            "docker",
            "doctor",
            "--host",
            dl.host("vm1"),
            "--host",
            dl.host("vm2"),
            "--fix",
        ],
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and not _fdb(dl, "vm1", mac)  # said no: nothing changed
    rc, rep = doctor_cli(dl, "--fix", "--yes")
    assert rc == 0 and problems(rep) == [] and _fdb(dl, "vm1", mac)


def test_no_overlay_network_is_one_line(dl: DockerLab) -> None:
    p = dl.before[0]  # type: ignore[attr-defined]
    assert p.returncode == 3 and one_line(p).startswith("error: no overlay networks in etcd://"), (
        p.stderr
    )


def test_bad_input_is_one_line_and_changes_nothing(dl: DockerLab, tmp_path: Path) -> None:
    before = kernel_state(dl)
    cases = [
        (["--host", str(tmp_path / "none.sock")], 3, "error: no Docker daemon at "),
        (["--host", "tcp://1.2.3.4"], 2, "error: bad --host 'tcp://1.2.3.4'"),
        (["--host", dl.host("vm1"), "--network", "ovnte"], 2, "error: no overlay network 'ovnte'"),
        (["--host", "ssh://root@127.0.0.1"], 4, "error: ssh://root@127.0.0.1: "),
    ]
    dead = tmp_path / "dead.sock"
    import socket as _s

    s = _s.socket(_s.AF_UNIX)
    s.bind(str(dead))  # a socket file nobody listens on: a stopped daemon's leftover
    s.close()
    cases.append((["--host", f"unix://{dead}"], 3, "error: no Docker daemon answers on "))
    for args, code, head in cases:
        p = ovlab("docker", "doctor", *args, check=False)
        assert p.returncode == code and one_line(p).startswith(head), (args, p.returncode, p.stderr)
    etcd = dl.procs["etcd"]
    etcd.send_signal(signal.SIGSTOP)  # the store stops answering
    try:
        p = ovlab("docker", "doctor", "--host", dl.host("vm1"), check=False)
    finally:
        etcd.send_signal(signal.SIGCONT)
    assert p.returncode == 4, p.stderr
    assert one_line(p).startswith("error: cluster store etcd://192.168.100.23:2379 does not answer")
    assert kernel_state(dl) == before


def test_import_then_lab_up_and_verify(dl: DockerLab, tmp_path: Path) -> None:
    """The imported lab has the Docker hosts' VTEPs, VNI, IPs and MACs, and verify passes."""
    import sys

    from tests.helpers import lab_containers, lab_name
    from toolkit.lab.cleanup import teardown

    out, lab = tmp_path / "imported", lab_name()
    p = ovlab(
        "docker",
        "import",
        "-H",
        dl.host("vm1"),
        "-H",
        dl.host("vm2"),
        "-o",
        str(out),
        "--name",
        lab,
        "--json",
    )
    got = json_data(p.stdout, "docker import")
    assert got["vms"] == ["vm1", "vm2"] and got["findings"] >= 0
    assert [(n["name"], n["subnet"], n["vni"]) for n in got["networks"]] == [
        ("ovnet", "10.0.0.0/24", 256)
    ]
    c = dl.c  # type: ignore[attr-defined]
    assert [(x["name"], x["host"], x["ip"], x["mac"]) for x in got["containers"]] == [
        ("c1", "vm1", c["c1"]["ip"], c["c1"]["mac"]),
        ("c2", "vm2", c["c2"]["ip"], c["c2"]["mac"]),
    ]
    topo = (out / "topology.yml").read_text()
    assert "eth1: 192.168.100.23" in topo and "eth1: 192.168.100.24" in topo
    assert json.loads((out / "docker.json").read_text())["kernel"]["vm1"]
    try:
        ovlab("lab", "up", str(out), "--provision", timeout=300)
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        subprocess.run(
            ["sh", str(out / "setup.sh")],
            check=True,
            timeout=120,
            capture_output=True,
            env={**os.environ, **env},
        )
        nets = json_data(ovlab("network", "ls", "--lab", lab, "--json").stdout, "network ls")
        assert [(n["name"], n["vni"], n["subnet"]) for n in nets] == [("ovnet", 256, "10.0.0.0/24")]
        ps = lab_containers(lab)
        assert {
            n: (x["node"] if "node" in x else x.get("host"), x["ip"]) for n, x in ps.items()
        } == {"c1": ("vm1", c["c1"]["ip"]), "c2": ("vm2", c["c2"]["ip"])}, ps
        v = ovlab("verify", lab, "--json", check=False)
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        teardown(lab)
