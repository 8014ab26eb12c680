"""A real two-host Docker overlay for tests and the benchmark: a lab of two namespace VMs
(the seed's 192.168.100.23/.24), etcd (v2 API) in vm1, Debian's dockerd in each VM with
``--cluster-store=etcd://…`` under a private exec-root, a busybox image made here
(``docker import`` of a busybox-static rootfs: no pulls), one overlay network.

Every process is started here and stopped by its pid, also when setup fails half-way.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import lab_name, ovlab, wait_for
from toolkit.docker.api import DockerApi
from toolkit.errors import OvlabError
from toolkit.host import paths
from toolkit.lab import state

IMAGE = "ovdk-bb:1"
EXEC_ROOT = "/run/ovdk-docker"  # not the default: discovery must find it
SOCK = "/run/ovdk-docker.sock"
ETCD = "192.168.100.23:2379"
CGROUPS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
TOPOLOGY = """name: {name}
underlay:
  subnet: 192.168.100.0/24
  mtu: 1500
nodes:
  vm1:
    eth1: 192.168.100.23
  vm2:
    eth1: 192.168.100.24
"""


def missing_tools() -> list[str]:
    """Binaries this setup needs that the machine lacks (the test skips naming them)."""
    need = ("dockerd", "containerd", "runc", "etcd", "nsenter")
    out = [t for t in need if shutil.which(t) is None]
    if not os.path.exists("/bin/busybox"):
        out.append("busybox-static")
    return out


def rootfs_tar() -> bytes:
    """A tiny image rootfs: busybox-static and the applets the tests use."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "sleep", "ip", "ping", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buf.getvalue()


@dataclass
class DockerLab:
    """The running setup: the lab, the VMs' init pids, the daemons' sockets and pids."""

    lab: str
    vm_pids: dict[str, int]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    network: str = "ovnet"
    net_id: str = ""

    def sock(self, vm: str) -> str:
        """vm's Docker API socket, reached from here."""
        return paths.in_root(self.vm_pids[vm], SOCK)

    def host(self, vm: str) -> str:
        """The --host value for vm's daemon."""
        return f"unix://{self.sock(vm)}"

    def api(self, vm: str) -> DockerApi:
        """vm's Docker API client."""
        return DockerApi(self.sock(vm))

    def netns(self, vm: str) -> str:
        """vm's overlay namespace for the network, reached from here."""
        return paths.in_root(
            self.procs[f"dockerd-{vm}"].pid, f"{EXEC_ROOT}/netns/1-{self.net_id[:10]}"
        )

    def run(self, vm: str, name: str) -> dict[str, str]:
        """Start a container on vm in the overlay network: its id, IP and MAC."""
        api = self.api(vm)
        body = {
            "Image": IMAGE,
            "Cmd": ["sleep", "100000"],
            "HostConfig": {"NetworkMode": self.network},
        }
        cid = api.request("POST", f"/containers/create?name={name}", json.dumps(body).encode())[
            "Id"
        ]
        api.request("POST", f"/containers/{cid}/start")
        net = api.inspect(cid)["NetworkSettings"]["Networks"][self.network]
        return {"id": cid, "ip": net["IPAddress"], "mac": net["MacAddress"]}

    def rm(self, vm: str, name: str) -> None:
        """Remove a container (killed at once)."""
        self.api(vm).request("DELETE", f"/containers/{name}?force=true")


def _start(argv: list[str], vm_pid: int, log: Path) -> subprocess.Popen[bytes]:
    """A daemon inside a VM's net, mount and UTS namespaces (nsenter execs it: same pid)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(
            ["nsenter", "-t", str(vm_pid), "-n", "-m", "-u", "--", *argv],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _mount_cgroups(vm_pid: int) -> None:
    """A lab VM mounts a fresh sysfs (its own net devices), which hides /sys/fs/cgroup:
    mount the v1 hierarchies again inside the VM's mount namespace (runc needs them)."""
    script = "mountpoint -q /sys/fs/cgroup/cpu && exit 0; mount -t tmpfs cgroup /sys/fs/cgroup"
    for h in CGROUPS:
        script += (
            f" && mkdir -p /sys/fs/cgroup/{h} && mount -t cgroup -o {h} cgroup /sys/fs/cgroup/{h}"
        )
    if os.path.isdir("/sys/fs/cgroup/unified") and not os.path.isdir("/sys/fs/cgroup/cpu"):
        script = "true"  # a cgroup v2 host: the VM's sysfs shows it as is
    subprocess.run(
        ["nsenter", "-t", str(vm_pid), "-m", "--", "sh", "-c", script],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _rm_cgroups(lab: str) -> None:
    for h in CGROUPS:
        for vm in ("vm1", "vm2"):
            with contextlib.suppress(OSError):
                os.rmdir(f"/sys/fs/cgroup/{h}/{lab}-{vm}")


def dockerd_argv(lab: str, vm: str) -> list[str]:
    """dockerd with private roots in the VM, the classic overlay on etcd, no iptables."""
    return [
        "dockerd",
        "--data-root",
        "/var/lib/ovdk-docker",
        "--exec-root",
        EXEC_ROOT,
        "--pidfile",
        "/run/ovdk-docker.pid",
        "-H",
        f"unix://{SOCK}",
        "--storage-driver",
        "vfs",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",
        f"--cgroup-parent=/{lab}-{vm}",
        f"--cluster-store=etcd://{ETCD}",
        "--cluster-advertise=eth1:2376",
    ]


def _ping(api: DockerApi) -> bool:
    try:
        api.info()
        return True
    except OvlabError:
        return False


@contextlib.contextmanager
def docker_lab(workdir: Path, before_network: list[object] | None = None) -> Iterator[DockerLab]:
    """Bring the two-host Docker overlay up; tear everything down after, whatever happens.

    ``before_network``: callables run once the daemons answer but no overlay network exists
    yet (for the "no overlay networks" case); their results are appended back in place.
    """
    name = lab_name()
    topo = workdir / f"{name}.yml"
    topo.write_text(TOPOLOGY.format(name=name))
    ovlab("lab", "up", str(topo))
    record = state.load(name)
    assert record is not None
    dl = DockerLab(name, {vm.node: int(vm.pid or 0) for vm in record.nodes})
    try:
        for pid in dl.vm_pids.values():
            _mount_cgroups(pid)
        dl.procs["etcd"] = _start(
            [
                "etcd",
                "--name",
                "e1",
                "--data-dir",
                "/var/lib/ovdk-etcd",
                "--enable-v2",
                "--listen-client-urls",
                f"http://{ETCD}",
                "--advertise-client-urls",
                f"http://{ETCD}",
                "--listen-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-cluster",
                "e1=http://127.0.0.1:2380",
            ],
            dl.vm_pids["vm1"],
            workdir / "etcd.log",
        )
        for vm, pid in dl.vm_pids.items():
            dl.procs[f"dockerd-{vm}"] = _start(
                dockerd_argv(name, vm), pid, workdir / f"dockerd-{vm}.log"
            )
        tar = rootfs_tar()
        for vm in dl.vm_pids:
            wait_for(
                lambda vm=vm: os.path.exists(dl.sock(vm)) and _ping(dl.api(vm)),
                60,
                what=f"dockerd on {vm}",
            )
            dl.api(vm).request(
                "POST", f"/images/create?fromSrc=-&repo={IMAGE.split(':')[0]}&tag=1", tar
            )
        if before_network is not None:
            for i, probe in enumerate(list(before_network)):
                before_network[i] = probe(dl)  # type: ignore[operator]
        body = {
            "Name": dl.network,
            "Driver": "overlay",
            "IPAM": {"Config": [{"Subnet": "10.0.0.0/24"}]},
        }
        dl.net_id = wait_for(lambda: _create_network(dl, body), 30, what="overlay network create")
        yield dl
    finally:
        for vm in dl.vm_pids:
            if f"dockerd-{vm}" in dl.procs:
                with contextlib.suppress(OvlabError):
                    for c in dl.api(vm).request("GET", "/containers/json?all=true") or []:
                        dl.rm(vm, c["Id"])
        for key in sorted(dl.procs, reverse=True):  # the daemons first, etcd last
            _stop(dl.procs[key])
        _rm_cgroups(name)
        from toolkit.lab.cleanup import teardown

        teardown(name)


def _create_network(dl: DockerLab, body: dict[str, object]) -> str:
    """Create the overlay network (the daemons need a moment to join the store)."""
    try:
        return str(
            dl.api("vm1").request("POST", "/networks/create", json.dumps(body).encode())["Id"]
        )
    except OvlabError as exc:
        raise AssertionError(exc.message) from None
