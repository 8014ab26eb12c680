"""Three Consul servers and two clients: idempotence, and losing the leader.

supervisord's autorestart is off in this lab, so a SIGKILLed agent stays dead until
the playbook itself brings it back.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from tests.helpers import wait_for
from tests.playbooks.conftest import SUPERVISORCTL, Lab

pytestmark = pytest.mark.root

SERVERS = ["lab-vm-1", "lab-vm-2", "lab-vm-3"]
CLIENTS = ["lab-vm-4", "lab-vm-5"]
ALL = SERVERS + CLIENTS


@pytest.fixture(scope="module")
def ha(make_lab) -> Iterator[Lab]:
    lab = make_lab(
        {**{s: ["consul_servers"] for s in SERVERS}, **{c: ["consul_clients"] for c in CLIENTS}},
        subnet="192.168.110",
    )
    lab.extra = ["-e", "consul_supervisord_autorestart=false"]
    first = lab.playbook()
    assert first.rc == 0, first.output[-8000:]
    print(f"first run: {first.seconds:.1f}s")
    yield lab


def leader(lab: Lab, ask: str) -> str:
    """Node name of the raft leader, as server ``ask`` sees it ('' while none)."""
    out = lab.consul(
        ask, "operator", "raft", "list-peers", token=lab.secret("bootstrap.token"), check=False
    ).stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    return next((r[0] for r in rows if len(r) > 3 and r[3] == "leader"), "")


def test_cluster_formed_with_three_servers(ha: Lab) -> None:
    for node in (SERVERS[0], CLIENTS[-1]):
        wait_for(lambda n=node: ha.all_alive(n, ALL), what=f"all alive in {node}")
    members = ha.consul(CLIENTS[0], "members", token=ha.secret("bootstrap.token")).stdout
    assert sum(" server " in line for line in members.splitlines()) == 3
    assert wait_for(lambda: leader(ha, SERVERS[1]), what="a leader") in SERVERS


def test_second_run_changes_nothing(ha: Lab) -> None:
    again = ha.playbook()
    assert again.rc == 0, again.output[-8000:]
    recap = again.recap()
    assert set(recap) == set(ALL)
    changed = {host: c["changed"] for host, c in recap.items() if c["changed"] or c["failed"]}
    assert not changed, again.output[-8000:]
    print(f"second run: {again.seconds:.1f}s")


def test_leader_loss_then_playbook_restores_the_agent(ha: Lab) -> None:
    old = wait_for(lambda: leader(ha, SERVERS[0]), what="a leader")
    pid = int(ha.exec(old, *SUPERVISORCTL, "pid", "consul").stdout.strip())
    assert pid > 0
    os.kill(pid, signal.SIGKILL)

    survivor = next(s for s in SERVERS if s != old)
    new = wait_for(
        lambda: (lambda ld: ld if ld and ld != old else "")(leader(ha, survivor)),
        timeout=30,
        what="a new leader",
    )
    assert new in SERVERS and new != old

    token = ha.secret("overlay.token")
    wait_for(
        lambda: (
            ha.consul(
                CLIENTS[0], "kv", "put", "ovlab/after-failover", new, token=token, check=False
            ).returncode
            == 0
        ),
        timeout=30,
        what="KV write after failover",
    )
    got = ha.consul(CLIENTS[1], "kv", "get", "ovlab/after-failover", token=token)
    assert got.stdout.strip() == new
    # Still dead: nothing restarted it behind the playbook's back.
    status = ha.exec(old, *SUPERVISORCTL, "status", "consul", check=False).stdout
    assert "RUNNING" not in status, status

    rerun = ha.playbook()
    assert rerun.rc == 0, rerun.output[-8000:]
    assert rerun.recap()[old]["changed"] >= 1
    for node in (old, CLIENTS[0]):
        wait_for(lambda n=node: ha.all_alive(n, ALL), timeout=30, what=f"all alive in {node}")
