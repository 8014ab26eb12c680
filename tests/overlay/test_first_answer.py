"""first_answer: "ask any live agent" against real unix sockets in a tmpdir, no root.

Each stand-in is a real socket: an agent API server answering, a socket file nobody
listens on (connection refused), a missing socket, a listener that never answers, and
an agent whose store is down. The order asked, what is passed over and the one line
when nobody answers are what the doctor, graph, capture and CLI all rely on.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from toolkit.errors import EXIT_RUNTIME, UsageError
from toolkit.overlay import api, client
from toolkit.overlay.client import NoAgentAnswers, first_answer
from toolkit.overlay.locate import AgentRef
from toolkit.overlay.model import Snapshot
from toolkit.overlay.operations import StoreDown


class Agent:
    """A stand-in agent: says who it is; its store may be down."""

    def __init__(self, host: str, store_down: bool = False) -> None:
        self.host = host
        self.store_down = store_down
        self.asked: list[str] = []

    def info(self) -> dict[str, str]:
        self.asked.append("info")
        return {"host": self.host}

    def fresh_snapshot(self) -> Snapshot:
        self.asked.append("snapshot")
        if self.store_down:
            raise StoreDown(f"the store (consul) is not reachable from {self.host}: no leader")
        return Snapshot(index=7)

    def network_rm(self, name: str, op_id: str | None) -> dict[str, str | None]:
        self.asked.append(f"network_rm {op_id}")
        raise UsageError(f"no network {name!r}")


@contextmanager
def serving(path: Path, agent: Agent) -> Iterator[None]:
    server = api.Server(str(path), agent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def refusing(path: Path) -> Iterator[None]:
    """A socket file with nobody listening: connect() gets ECONNREFUSED."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    try:
        yield
    finally:
        s.close()


@contextmanager
def silent(path: Path) -> Iterator[None]:
    """A listener that takes the request and never answers (a wedged agent)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen()
    try:
        yield
    finally:
        s.close()


def ref(tmp_path: Path, node: str) -> AgentRef:
    return AgentRef(str(tmp_path / f"{node}.sock"), node, str(tmp_path / node))


def test_the_first_agent_that_answers_wins_in_order(tmp_path: Path):
    a, b, c = Agent("vm2"), Agent("vm3"), Agent("vm4")
    refs = [ref(tmp_path, n) for n in ("vm1", "vm2", "vm3", "vm4")]
    with (
        refusing(tmp_path / "vm1.sock"),
        serving(tmp_path / "vm2.sock", a),
        serving(tmp_path / "vm3.sock", b),
        serving(tmp_path / "vm4.sock", c),
    ):
        assert first_answer("lab", "info", refs=refs) == {"host": "vm2"}
    assert (a.asked, b.asked, c.asked) == (["info"], [], [])


def test_no_answer_is_one_line_naming_each_agent_and_why(tmp_path: Path):
    refs = [ref(tmp_path, n) for n in ("vm1", "vm2", "vm3")]
    with refusing(tmp_path / "vm1.sock"), silent(tmp_path / "vm3.sock"):
        t0 = time.monotonic()
        with pytest.raises(NoAgentAnswers) as err:
            first_answer("lab", "snapshot", refs=refs, timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert err.value.message == (
        "no overlay agent answers (vm1: connection refused; vm2: socket missing;"
        " vm3: the overlay agent did not answer within 0.3s)"
    )
    assert err.value.exit_code == EXIT_RUNTIME and "\n" not in str(err.value)
    assert err.value.hint == "is it running? see 'supervisorctl status' in the VM"
    assert [m.ref.node for m in err.value.misses] == ["vm1", "vm2", "vm3"]


def test_an_agent_whose_store_is_down_is_passed_over(tmp_path: Path):
    down, up = Agent("vm1", store_down=True), Agent("vm2")
    refs = [ref(tmp_path, "vm1"), ref(tmp_path, "vm2")]
    with serving(tmp_path / "vm1.sock", down), serving(tmp_path / "vm2.sock", up):
        snap = client.snapshot(refs=refs)
    assert snap == Snapshot(index=7)
    assert (down.asked, up.asked) == (["snapshot"], ["snapshot"])


def test_an_agents_own_error_is_its_answer_not_a_miss(tmp_path: Path):
    a, b = Agent("vm1"), Agent("vm2")
    refs = [ref(tmp_path, "vm1"), ref(tmp_path, "vm2")]
    with (
        serving(tmp_path / "vm1.sock", a),
        serving(tmp_path / "vm2.sock", b),
        pytest.raises(UsageError, match="no network 'x'"),
    ):
        first_answer("lab", "network_rm", refs=refs, name="x")
    assert len(a.asked) == 1 and a.asked[0].startswith("network_rm ") and b.asked == []
    assert a.asked[0] != "network_rm None"  # a write carries an op id


def test_a_write_that_timed_out_is_not_sent_to_another_agent(tmp_path: Path):
    b = Agent("vm2")
    refs = [ref(tmp_path, "vm1"), ref(tmp_path, "vm2")]
    with (
        silent(tmp_path / "vm1.sock"),
        serving(tmp_path / "vm2.sock", b),
        pytest.raises(api.AgentTimeout),
    ):
        first_answer("lab", "network_rm", refs=refs, timeout=0.3, name="x")
    assert b.asked == []


def test_nobody_to_ask_says_so(tmp_path: Path):
    with pytest.raises(NoAgentAnswers, match="no overlay agent to ask"):
        first_answer("lab", "info", refs=[])


def test_without_refs_the_lab_s_agents_are_located(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from toolkit.overlay import locate

    asked: list[tuple[str | None, str | None]] = []

    def agents_for(node: str | None, lab: str | None, need_node: bool = False) -> list[AgentRef]:
        asked.append((node, lab))
        return [ref(tmp_path, "vm1")]

    monkeypatch.setattr(locate, "agents_for", agents_for)
    with serving(tmp_path / "vm1.sock", Agent("vm1")):
        assert first_answer("lab", "info") == {"host": "vm1"}
    assert asked == [(None, "lab")]
