"""``ovlab run``'s typer-free path (toolkit.cli.fast) does what the typer command does.

No root, no lab: the overlay client's run_container is replaced by a recorder, so both
paths are compared on what they would ask the agent and on what they print. What the
fast path does not fully understand it must leave, untouched, to typer.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from toolkit.cli import common
from toolkit.cli.fast import fast_run
from toolkit.cli.main import build_app
from toolkit.overlay import client

RESULT = {"id": "c0ffee", "name": "c1", "ip": "10.0.0.2", "network": "dev"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def run_container(*args: Any) -> dict[str, Any]:
        seen.append(args[:-1])  # the last one is the spinner, an object of each path's own
        return dict(RESULT)

    monkeypatch.setattr(client, "run_container", run_container)
    monkeypatch.setattr(common, "require_privileges", lambda: None)
    return seen


@pytest.mark.parametrize(
    "argv",
    [
        ["-d", "--name", "c1", "--net", "dev"],
        ["-d", "--name", "c1", "--publish-service", "svc1.dev.overlay", "--node", "L/vm1"],
        ["--detach", "--name", "c1", "--net", "dev", "--lab", "L", "--json"],
        ["--name", "c1", "--net", "dev", "--store-timeout", "1.5", "--json"],
        ["-d", "--name", "c1", "--net", "dev", "--", "ping", "-c", "1", "svc2"],
    ],
)
def test_fast_and_typer_paths_ask_and_print_the_same(
    argv: list[str], calls: list[tuple[Any, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert fast_run(argv) == 0
    fast_out = capsys.readouterr().out
    result = CliRunner().invoke(build_app(), ["run", *argv])
    assert result.exit_code == 0, result.output
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert fast_out == result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-d", "--net", "dev"],  # no --name
        ["--name"],
        ["--name", "c1", "--bogus"],
        ["--name", "c1", "--net", "--json"],
        ["--name", "c1", "--store-timeout", "soon"],
    ],
)
def test_what_it_does_not_understand_is_left_to_typer(
    argv: list[str], calls: list[tuple[Any, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert fast_run(argv) is None
    assert calls == [] and capsys.readouterr() == ("", "")
