"""Plain helpers every test package shares (fixtures live in tests/conftest.py).

Import from here, never from another package's conftest: a conftest is pytest's to load.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.jsonout import data as json_data
from toolkit.host.paths import NAMED_NETNS_DIR

T = TypeVar("T")

OVLAB = [sys.executable, "-m", "toolkit.cli.main"]
# Labs made by tests are named TEST_PREFIX-<hex>; a second test session on the same
# machine (another checkout) sets OVLAB_TEST_PREFIX so the two never sweep each other.
TEST_PREFIX = os.environ.get("OVLAB_TEST_PREFIX", "ovt")


def lab_name() -> str:
    """A fresh lab name for a test: ``TEST_PREFIX-<6 hex>``."""
    return f"{TEST_PREFIX}-{secrets.token_hex(3)}"


def netns_names() -> list[str]:
    """Names in /run/netns, sorted."""
    try:
        return sorted(os.listdir(NAMED_NETNS_DIR))
    except FileNotFoundError:
        return []


def run(*argv: str) -> str:
    """Run a command (argv list, no shell), fail loudly, return its stdout."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def delete_netns(name: str) -> None:
    """Remove a named namespace if it exists (ignores one already gone)."""
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def wait_for(
    probe: Callable[[], T], timeout: float = 30.0, step: float = 0.2, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail after
    ``timeout`` seconds naming ``what`` and the last answer (or AssertionError) seen.

    An AssertionError raised by the probe counts as "not yet", so a probe may assert.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last: {last!r}")
        time.sleep(step)


def ovlab(
    *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a separate process."""
    proc = subprocess.run(
        [*OVLAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"ovlab {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (no traceback), for exact asserts."""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def ovlab_json(*args: str) -> Any:
    """Run ``ovlab lab CMD …`` with --json and return its data (envelope checked)."""
    return json_data(ovlab(*args, "--json").stdout, " ".join(args[:2]))


def rendered(table: Any, width: int = 160) -> list[str]:
    """What a rich renderable prints on a plain, colourless terminal: its non-blank
    lines, right-stripped."""
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(table)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]


def topology_text(name: str, n: int = 2, subnet: str = "192.168.100", impair: str = "") -> str:
    """A small topology with n VMs named vm1…vmN."""
    lines = [f"name: {name}", "underlay:", f"  subnet: {subnet}.0/24", "nodes:"]
    for i in range(1, n + 1):
        lines += [f"  vm{i}:", f"    eth1: {subnet}.{10 + i}"]
        if impair and i == 1:
            lines += ["    impair:", *[f"      {kv}" for kv in impair.split(",")]]
    return "\n".join(lines) + "\n"


def host_snapshot() -> dict[str, object]:
    """What a lab could leak on the host: namespaces, mounts, root links, tagged processes."""
    from toolkit.lab.cleanup import leftovers

    netns = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    with open("/proc/self/mountinfo") as fh:
        mounts = sorted(line.split()[4] for line in fh)
    links = sorted(
        x["ifname"]
        for x in json.loads(
            subprocess.run(
                ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True
            ).stdout
        )
    )
    state = sorted(os.listdir("/run/ovlab/labs")) if os.path.isdir("/run/ovlab/labs") else []
    return {
        "netns": _ours(netns),
        "mounts": _ours(mounts),
        "links": _ours(links),
        "tagged": leftovers(TEST_PREFIX + "-"),
        "state": _ours(state),
    }


# A lab made by a test is PREFIX-<6 hex> (tests.conftest.lab_name). Another test session,
# with its own OVLAB_TEST_PREFIX, may make and remove labs at the same time: its objects
# are not this session's to judge.
_LAB_NAME = re.compile(r"(?<![A-Za-z0-9])([a-z][a-z0-9]*)-[0-9a-f]{6}(?![0-9a-f])")


def _ours(names: list[str]) -> list[str]:
    return [n for n in names if all(m.group(1) == TEST_PREFIX for m in _LAB_NAME.finditer(n))]


UNDERLAY_IPS = {"vm1": "192.168.100.23", "vm2": "192.168.100.24", "vm3": "192.168.100.25"}


def consul_topology(name: str, servers: int, clients: int) -> str:
    """A lab of vm1…vmN on the demo's underlay: the first `servers` VMs run Consul servers."""
    lines = [f"name: {name}", "underlay:", "  subnet: 192.168.100.0/24", "nodes:"]
    for i in range(1, servers + clients + 1):
        group = "consul_servers" if i <= servers else "consul_clients"
        lines += [f"  vm{i}:", f"    eth1: {UNDERLAY_IPS[f'vm{i}']}", f"    groups: [{group}]"]
    return "\n".join(lines) + "\n"


def lab_containers(lab: str) -> dict[str, dict[str, Any]]:
    """The lab's containers by name, as ``ovlab ps --json`` lists them ({} when it fails)."""
    proc = ovlab("ps", "--lab", lab, "--json", check=False)
    return {c["name"]: c for c in json_data(proc.stdout, "ps")} if proc.returncode == 0 else {}


def start_capture(*args: str) -> subprocess.Popen[str]:
    """``ovlab capture ARGS`` in the background, returned once its socket is bound (it
    prints "capturing on …" on stderr then)."""
    proc = subprocess.Popen(
        [*OVLAB, "capture", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("capturing on"), first + proc.stderr.read()
    return proc


@contextlib.contextmanager
def dev_consul(ns: str, timeout: float = 10.0) -> Iterator[Any]:
    """A ``consul agent -dev`` on 127.0.0.1 inside the named namespace ``ns``, once it has
    elected itself; yields a ``toolkit.consul.client.Consul`` for it (``timeout`` seconds
    per request) and stops the agent on leaving. Skips when consul is not in the cache."""
    import pytest

    from toolkit.consul.client import Consul, ConsulError
    from toolkit.provision import consul_bin

    binary = consul_bin.find()
    if binary is None:
        pytest.skip("consul is not in the cache (make venv installs it)")
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    argv = ["ip", "netns", "exec", ns, str(binary), "agent", "-dev", "-bind", "127.0.0.1"]
    proc = subprocess.Popen(
        [*argv, "-client", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    consul = Consul(netns=os.path.join(NAMED_NETNS_DIR, ns), timeout=timeout)

    def ready() -> Any:
        # A leader is not enough: sessions need the agent's own node in the catalog
        # ("Missing node registration"), which anti-entropy adds just after the election.
        try:
            return consul.get_json("/v1/status/leader") and consul.get_json("/v1/catalog/nodes")
        except ConsulError:
            return None

    try:
        wait_for(ready, 30, step=0.1, what="consul -dev electing itself and registering its node")
        yield consul
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def provisioned_lab(
    directory: Path,
    servers: int = 1,
    clients: int = 1,
    text: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """A lab made for a test module: ``consul_topology(name, servers, clients)`` (or
    ``text(name)``) written to DIRECTORY/topology.yml, ``ovlab lab up --provision``, its
    name yielded; torn down on leaving, whatever failed."""
    from toolkit.lab import cleanup

    name = lab_name()
    path = directory / "topology.yml"
    path.write_text(text(name) if text else consul_topology(name, servers, clients))
    try:
        ovlab("lab", "up", str(path), "--provision", timeout=300)
        yield name
    finally:
        cleanup.teardown(name)


def run_detached(lab: str, name: str, node: str, service: str) -> subprocess.CompletedProcess[str]:
    """``ovlab run -d --name NAME --publish-service SERVICE --node LAB/NODE``, within 60 s;
    a failure fails the test with ovlab's own line (no second try: a flaky run is a bug)."""
    return ovlab(
        "run", "-d", "--name", name, "--publish-service", service,
        "--node", f"{lab}/{node}", timeout=60,
    )  # fmt: skip


def start_containers(lab: str, want: dict[str, tuple[str, str]], net: str = "") -> None:
    """Run each container of ``want`` (name -> (node, service)) once on a provisioned lab,
    as SERVICE.NET.overlay (or SERVICE.overlay without ``net``), and wait until the store
    lists them all."""
    for ctr, (node, svc) in want.items():
        run_detached(lab, ctr, node, f"{svc}.{net}.overlay" if net else f"{svc}.overlay")
    wait_for(lambda: set(want) <= set(lab_containers(lab)), 15, what=f"containers {sorted(want)}")


def check_golden_error(
    load: Callable[[Any], Any], errors_dir: Any, case: str, expected: tuple[str, str | None]
) -> None:
    """``errors_dir/<case>.yml`` fails to ``load`` with exactly ``expected`` (message,
    hint), exit 2. Run from ``errors_dir`` (chdir) so messages name the file as typed."""
    import pytest

    from toolkit.errors import UsageError

    message, hint = expected
    with pytest.raises(UsageError) as err:
        load(Path(f"{case}.yml"))
    assert (err.value.message, err.value.hint) == (message, hint)
    assert err.value.exit_code == 2


def check_golden_style(case: str, expected: tuple[str, str | None]) -> None:
    """FILE[:LINE]: then lowercase text, no trailing period, in message and hint."""
    message, hint = expected
    assert message.startswith(f"{case}.yml:")
    problem = message.split(": ", 1)[1]
    assert problem[:1] and not problem[0].isupper()
    assert not message.endswith(".")
    assert hint is None or not hint.endswith(".")
