"""One provisioned 3-VM lab (shared by the package) with c1 on vm1 and c2 on vm2, and a live
`ovlab watch --json` on it."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import OVLAB, consul_topology, lab_name, ovlab
from tests.jsonout import data as json_data
from toolkit.lab import cleanup


class Stream:
    """A process printing lines (watch --json, ip monitor), collected by a thread."""

    def __init__(self, argv: list[str], parse: bool) -> None:
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[Any] = []
        self.parse = parse
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line) if self.parse else line.rstrip("\n"))

    def wait(self, pred: Callable[[Any], bool], timeout: float = 20.0, since: int = 0) -> Any:
        """The first line from index ``since`` that satisfies pred (fail after timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[since:]:
                if pred(line):
                    return line
            time.sleep(0.05)
        err = ""
        if self.proc.poll() is not None and self.proc.stderr is not None:
            err = f"; exited {self.proc.returncode}: {self.proc.stderr.read()[-2000:]}"
        raise AssertionError(f"no matching line within {timeout}s{err}; last: {self.lines[-3:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)


@dataclass
class Lab:
    """The lab, its dev network's namespace name and a watch started on it."""

    name: str
    ns: str = ""
    watch: Stream | None = None
    _streams: list[Stream] = field(default_factory=list)

    def sh(self, node: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside a VM."""
        return ovlab("exec", f"{self.name}/{node}", "--", *cmd, check=check)

    def in_ns(self, node: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside the dev network's overlay namespace of a VM (nsenter from here:
        a tenth of the time of 'ovlab exec')."""
        from toolkit.lab import registry

        vm = next(v for v in registry.vms(self.name) if v.node == node)
        proc = subprocess.run(
            ["nsenter", f"--net={vm.overlay_ns(self.ns)}", *cmd],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} on {node}: {proc.stderr.strip()}")
        return proc

    def oracle(self, node: str, *monitor: str, ns: str | None = None) -> Stream:
        """`ip monitor …` / `bridge monitor …` in a namespace of a VM (default: the overlay
        namespace), started by nsenter from here: the independent view of the same kernel."""
        from toolkit.lab import registry

        vm = next(v for v in registry.vms(self.name) if v.node == node)
        path = ns or vm.overlay_ns(self.ns)
        s = Stream(["nsenter", f"--net={path}", *monitor], parse=False)
        self._streams.append(s)
        time.sleep(0.5)  # let it subscribe before the change
        return s

    def close(self) -> None:
        for s in self._streams:
            s.stop()


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory, _clean_labs: None) -> Iterator[Lab]:
    name = lab_name()
    path: Path = tmp_path_factory.mktemp("watch") / "topology.yml"
    path.write_text(consul_topology(name, 1, 2))
    lab = Lab(name)
    try:
        ovlab("lab", "up", str(path), "--provision", timeout=300)
        for i, node in enumerate(("vm1", "vm2"), 1):
            ovlab("run", "-d", "--name", f"c{i}", "--net", "dev", "--node", f"{name}/{node}")
        nets = json_data(ovlab("network", "ls", "--lab", name, "--json").stdout, "network ls")
        lab.ns = "1-" + next(n["id"] for n in nets if n["name"] == "dev")[:10]
        lab.watch = Stream([*OVLAB, "watch", name, "--json"], parse=True)
        lab.watch.wait(lambda e: e["type"] == "start", timeout=30)
        yield lab
    finally:
        lab.close()
        if lab.watch is not None:
            lab.watch.stop()
        cleanup.teardown(name)
