"""The client's waiting loop against a real unix-socket agent API whose agent is a stand-in.

No Consul here: the stand-in answers as an agent does while Consul has no leader
(a transient StoreDown), so the loop, the op id it repeats and the final line are
checked without waiting for a real election (tests/overlay/test_overlay.py does that).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit.consul.retry import Backoff
from toolkit.errors import EXIT_RUNTIME, UsageError
from toolkit.overlay import api
from toolkit.overlay.client import StoreTimeout, ask_agents
from toolkit.overlay.locate import AGENT_SERVICE_FILES, AgentRef
from toolkit.overlay.operations import StoreDown


class Agent:
    """Fails the first ``down`` requests as a leaderless store would, then answers."""

    def __init__(self, down: int, transient: bool = True) -> None:
        self.down = down
        self.transient = transient
        self.op_ids: list[str | None] = []

    def network_create(self, name: str, subnet: Any, driver: str, op_id: str | None) -> dict:
        self.op_ids.append(op_id)
        if len(self.op_ids) <= self.down:
            raise StoreDown(
                "the store (consul) is not reachable from vm9: No cluster leader",
                transient=self.transient,
            )
        return {"name": name, "id": "n1"}

    def info(self) -> dict:
        return {"host": "vm9"}


def serve(path: Path, agent: Agent) -> Iterator[api.Server]:
    server = api.Server(str(path), agent)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A VM root where the agent is installed as a service (so a dead socket means restart)."""
    conf = tmp_path / AGENT_SERVICE_FILES[0].lstrip("/")
    conf.parent.mkdir(parents=True)
    conf.write_text("[program:ovlab-agent]\n")
    return tmp_path


def test_a_write_is_repeated_with_one_op_id_until_the_store_answers(root: Path, tmp_path: Path):
    agent = Agent(down=3)
    sock = tmp_path / "agent.sock"
    heard: list[str] = []
    for _ in serve(sock, agent):
        ref = AgentRef(str(sock), "vm9", str(root))
        net = ask_agents([ref], "network_create", Backoff(5), heard.append, name="n")
    assert net == {"name": "n", "id": "n1"}
    assert len(agent.op_ids) == 4 and len(set(agent.op_ids)) == 1 and agent.op_ids[0]
    assert heard == ["waiting for the store (consul) on vm9: No cluster leader"] * 3


def test_reads_carry_no_op_id(root: Path, tmp_path: Path):
    agent = Agent(down=0)
    sock = tmp_path / "agent.sock"
    for _ in serve(sock, agent):
        assert ask_agents([AgentRef(str(sock), "vm9", str(root))], "info", Backoff(1)) == {
            "host": "vm9"
        }


def test_a_store_that_stays_down_ends_in_one_line_and_exit_4(root: Path, tmp_path: Path):
    agent = Agent(down=10**6)
    sock = tmp_path / "agent.sock"
    t0 = time.monotonic()
    for _ in serve(sock, agent):
        with pytest.raises(StoreTimeout) as err:
            ask_agents(
                [AgentRef(str(sock), "vm9", str(root))], "network_create", Backoff(0.6), name="n"
            )
    took = time.monotonic() - t0
    assert 0.6 <= took < 2.0
    assert err.value.exit_code == EXIT_RUNTIME
    assert err.value.message == (
        "the store (consul) is not reachable from vm9: No cluster leader (gave up after 1s)"
    )
    assert "--store-timeout" in (err.value.hint or "")
    assert 4 <= len(agent.op_ids) <= 8  # 50, 100, 200, 250 ms pauses: a handful of attempts


def test_a_final_store_error_is_not_waited_for(root: Path, tmp_path: Path):
    agent = Agent(down=1, transient=False)
    sock = tmp_path / "agent.sock"
    for _ in serve(sock, agent):
        with pytest.raises(api.StoreUnreachable):
            ask_agents(
                [AgentRef(str(sock), "vm9", str(root))], "network_create", Backoff(5), name="n"
            )
    assert len(agent.op_ids) == 1


def test_an_installed_agent_that_restarts_is_waited_for(root: Path, tmp_path: Path):
    sock = tmp_path / "agent.sock"
    agent = Agent(down=0)
    started = threading.Event()

    def restart_later() -> None:
        time.sleep(0.4)
        for _ in serve(sock, agent):
            started.set()
            time.sleep(2)

    threading.Thread(target=restart_later, daemon=True).start()
    heard: list[str] = []
    net = ask_agents(
        [AgentRef(str(sock), "vm9", str(root))],
        "network_create",
        Backoff(5),
        heard.append,
        name="n",
    )
    assert started.is_set() and net["id"] == "n1"
    assert heard and set(heard) == {"waiting for the overlay agent on vm9 to come back"}


def test_an_agent_never_installed_fails_at_once(tmp_path: Path):
    t0 = time.monotonic()
    with pytest.raises(api.AgentUnreachable, match="socket missing"):
        ask_agents(
            [AgentRef(str(tmp_path / "none.sock"), "vm9", str(tmp_path))], "info", Backoff(5)
        )
    assert time.monotonic() - t0 < 0.5


def test_another_agent_answers_while_one_restarts(root: Path, tmp_path: Path):
    sock = tmp_path / "b.sock"
    agent = Agent(down=0)
    for _ in serve(sock, agent):
        refs = [AgentRef(str(tmp_path / "a.sock"), "vm8", str(root)), AgentRef(str(sock), "vm9")]
        assert ask_agents(refs, "info", Backoff(5)) == {"host": "vm9"}


def test_a_usage_error_from_the_agent_is_not_retried(tmp_path: Path):
    class Taken(Agent):
        def network_create(self, *a: Any) -> dict:
            self.op_ids.append(a[-1])
            raise UsageError("network 'n' already exists")

    agent = Taken(down=0)
    sock = tmp_path / "agent.sock"
    for _ in serve(sock, agent):
        with pytest.raises(UsageError, match="already exists"):
            ask_agents([AgentRef(str(sock), "vm9")], "network_create", Backoff(5), name="n")
    assert len(agent.op_ids) == 1
