"""VmRef's paths and enter(): a VM's namespaces reached from the host (no lab needed)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import pytest

from tests.conftest import TEST_PREFIX, delete_netns, run
from toolkit.lab.registry import VmRef


def test_paths_of_a_vm():
    vm = VmRef("lab1", "vm1", 42, True)
    assert vm.netns_path == "/proc/42/ns/net" and vm.ns_path("uts") == "/proc/42/ns/uts"
    assert vm.root("/etc/hosts") == "/proc/42/root/etc/hosts"
    assert vm.agent_socket == "/proc/42/root/run/ovlab/agent.sock"
    assert vm.overlay_ns("1-abcdef0123") == "/proc/42/root/run/docker/netns/1-abcdef0123"


@pytest.mark.root
def test_enter_runs_the_body_in_the_vms_namespace_and_comes_back():
    name = f"{TEST_PREFIX}-{secrets.token_hex(3)}"
    run("ip", "netns", "add", name)
    proc = None
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", "import time; time.sleep(60)"]
        )
        want = os.stat(f"/run/netns/{name}").st_ino
        vm = VmRef("lab1", "vm1", proc.pid, True)
        deadline = time.monotonic() + 5
        while os.stat(vm.netns_path).st_ino != want:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        home = os.stat("/proc/thread-self/ns/net").st_ino
        with pytest.raises(KeyError), vm.enter("net"):
            assert os.stat("/proc/thread-self/ns/net").st_ino == want
            raise KeyError("the body failed")
        assert os.stat("/proc/thread-self/ns/net").st_ino == home
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
        delete_netns(name)
