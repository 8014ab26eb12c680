"""A provisioned 3-VM lab (Consul + overlay agents) shared by the overlay tests of a module."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers import UNDERLAY_IPS, ovlab, provisioned_lab
from tests.jsonout import data as json_data

VTEP = {k: UNDERLAY_IPS[k] for k in ("vm1", "vm2", "vm3")}


@dataclass
class Lab:
    """A provisioned lab and helpers to drive and observe it."""

    name: str

    def ovl(self, *args: str, check: bool = True, timeout: float = 60):
        """Run the CLI."""
        return ovlab(*args, check=check, timeout=timeout)

    def run(self, node: str, name: str, net: str = "dev", service: str | None = None) -> dict:
        """`ovlab run -d` a container on a VM; its JSON result."""
        args = ["run", "-d", "--name", name, "--node", f"{self.name}/{node}", "--json"]
        args += ["--publish-service", f"{service}.{net}.overlay"] if service else ["--net", net]
        return json_data(self.ovl(*args).stdout, "run")

    def rm(self, name: str) -> None:
        """`ovlab rm` a container wherever it runs."""
        self.ovl("rm", name, "--lab", self.name)

    def cexec(self, container: str, *cmd: str, check: bool = True):
        """A command inside a container of this lab."""
        return self.ovl("exec", "--lab", self.name, container, *cmd, check=check)

    def sh(self, node: str, *cmd: str, check: bool = True):
        """A command inside a VM."""
        return self.ovl("exec", f"{self.name}/{node}", "--", *cmd, check=check)

    def snapshot(self) -> dict:
        """The store as the agents see it."""
        nets = json_data(
            self.ovl("network", "ls", "--lab", self.name, "--json").stdout, "network ls"
        )
        ctrs = json_data(self.ovl("ps", "--lab", self.name, "--json").stdout, "ps")
        return {"networks": nets, "containers": ctrs}

    def overlay_ns(self, node: str, net_id: str) -> str:
        return f"1-{net_id}"[:12]

    def kernel(
        self, node: str, net_id: str, timeout: float = 10.0
    ) -> tuple[dict[str, str], dict[str, str]] | None:
        """iproute2's view (the oracle) of vxlan0's permanent neighbours and FDB dst entries.

        None only when node has no namespace for the network: the agent keeps one only while
        a local endpoint uses it (see ``wanted``). A namespace that exists but cannot be read
        (caught between the namespace and its vxlan0 being made) is read again; still
        unreadable after ``timeout`` seconds, it fails the test, so that a comparison with
        the store always happens.
        """
        ns = f"/run/docker/netns/{self.overlay_ns(node, net_id)}"
        deadline = time.monotonic() + timeout
        while True:
            exists = self.sh(node, "test", "-e", ns, check=False)
            if exists.returncode == 1 and not exists.stderr:  # test(1)'s silent "false"
                return None
            if exists.returncode == 0:
                neigh_p = self.sh(
                    node, *enter(ns), "ip", "-j", "neigh", "show", "dev", "vxlan0", check=False
                )
                fdb_p = self.sh(
                    node, *enter(ns), "bridge", "-j", "fdb", "show", "dev", "vxlan0", check=False
                )
                if neigh_p.returncode == 0 and fdb_p.returncode == 0:
                    break
                why = (neigh_p.stderr or fdb_p.stderr).strip()
            else:
                why = exists.stderr.strip()
            if time.monotonic() > deadline:
                raise AssertionError(f"cannot read vxlan0's tables on {node} in {ns}: {why}")
            time.sleep(0.1)
        neigh, fdb = json.loads(neigh_p.stdout), json.loads(fdb_p.stdout)
        return (
            {n["dst"]: n["lladdr"] for n in neigh if "PERMANENT" in n.get("state", [])},
            {f["mac"]: f["dst"] for f in fdb if "dst" in f and f["mac"] != "00:00:00:00:00:00"},
        )

    def expected(self, node: str, net_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """What the store implies for node's tables in a network: every remote endpoint."""
        return _tables(self.snapshot(), node, net_id)

    def wanted(self, node: str, net_id: str) -> tuple[dict[str, str], dict[str, str]] | None:
        """What ``kernel`` must read, from one store snapshot: None when no endpoint of the
        network is on node (the agent then removes its namespace), else ``expected``."""
        snap = self.snapshot()
        name = next(n["name"] for n in snap["networks"] if n["id"] == net_id)
        here = [c for c in snap["containers"] if c["network"] == name and c["host"] == node]
        return _tables(snap, node, net_id) if here else None


def enter(ns: str) -> list[str]:
    """The argv prefix that runs a command in a VM's namespace given by its path."""
    return ["nsenter", f"--net={ns}"]


def _tables(snap: dict, node: str, net_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """The neighbours and FDB dst entries a store snapshot implies for node in a network."""
    name = next(n["name"] for n in snap["networks"] if n["id"] == net_id)
    remote = [c for c in snap["containers"] if c["network"] == name and c["host"] != node]
    return ({c["ip"]: c["mac"] for c in remote}, {c["mac"]: VTEP[c["host"]] for c in remote})


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, _clean_labs: None) -> Iterator[Lab]:
    with provisioned_lab(tmp_path_factory.mktemp("overlay"), 3, 0) as name:
        yield Lab(name)
