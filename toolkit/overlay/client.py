"""The overlay's client side without any CLI framework: find an agent, ask it, validate input.

Both the typer commands and the typer-free fast path of ``ovlab run`` use these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toolkit.errors import OvlabError, UsageError

if TYPE_CHECKING:
    from toolkit.consul.retry import Backoff
    from toolkit.overlay.locate import AgentRef

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
# Requests that change the store: each carries an op id, the same on every attempt, so the
# agent recognises its own earlier attempt's work (toolkit/overlay/store.py explains why).
WRITE_OPS = frozenset({"run", "rm", "network_create", "network_rm"})

Waiter = Callable[[str], None]


class StoreTimeout(OvlabError):
    """The store (or the agent) did not come back within the store timeout."""


def resolve_timeout(value: float | None) -> float:
    """``--store-timeout`` or ``$OVLAB_STORE_TIMEOUT`` or 15 s; UsageError when invalid."""
    from toolkit.consul.retry import store_timeout

    try:
        return store_timeout(value)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. --store-timeout 30") from None


def call(
    node: str | None,
    lab: str | None,
    op: str,
    need_node: bool = False,
    store_timeout: float | None = None,
    on_wait: Waiter | None = None,
    **args: Any,
) -> Any:
    """Send one request to the right agent (any live one, when no node is named).

    While Consul elects a leader (or the local Consul agent or the overlay agent
    restarts) the request is sent again with exponential backoff, 50 ms to 500 ms,
    for up to ``store_timeout`` seconds (see ``resolve_timeout``); ``on_wait(text)``
    hears why, on every pause. Then StoreTimeout (exit 4), one line. Only failures
    that are safe to repeat are retried: the agent was not reached at all, or it
    answered "store down, nothing done / done under this op id".
    """
    from toolkit.consul.retry import Backoff
    from toolkit.overlay import locate

    limit = resolve_timeout(store_timeout)
    refs = locate.agents_for(node, lab, need_node)
    return ask_agents(refs, op, Backoff(limit), on_wait, **args)


def ask_agents(
    refs: list[AgentRef], op: str, backoff: Backoff, on_wait: Waiter | None = None, **args: Any
) -> Any:
    """Ask the agents in turn, best first, each round; pause by ``backoff`` between rounds."""
    from toolkit.overlay import api

    if op in WRITE_OPS:
        args["op_id"] = os.urandom(16).hex()  # not `secrets`: its import costs the fast path
    while True:
        waiting: list[tuple[str, str]] = []  # (what we wait for, what failed)
        absent: OvlabError | None = None
        for ref in refs:
            try:
                return api.call(ref.socket, op, **args)
            except api.AgentUnreachable as exc:
                if not ref.installed:
                    absent = exc
                    continue  # never started there; another VM's agent knows the same store
                waiting.append(
                    (
                        f"the overlay agent on {ref.node} to come back",
                        f"the overlay agent on {ref.node} is not answering: {_short(exc)}",
                    )
                )
            except api.StoreUnreachable as exc:
                if not exc.transient:
                    raise
                waiting.append((f"the store (consul) on {ref.node}: {_short(exc)}", exc.message))
        if not waiting:
            raise absent or UsageError("no overlay agent to ask", hint="run 'ovlab provision LAB'")
        if on_wait is not None:
            on_wait("waiting for " + waiting[0][0])
        if not backoff.sleep():
            raise StoreTimeout(
                f"{waiting[0][1]} (gave up after {backoff.elapsed():.0f}s)",
                hint="wait longer with --store-timeout SECONDS (or OVLAB_STORE_TIMEOUT);"
                " see 'ovlab consul members LAB'",
            )


def _short(exc: OvlabError) -> str:
    """The reason part of an agent's one-line error."""
    text = exc.message
    if ": " in text:
        return text.split(": ", 1)[1]
    return text[text.rfind("(") + 1 : -1] if text.endswith(")") else text


def parse_publish(spec: str) -> tuple[str, str]:
    """``SVC.NET[.DRIVER]`` to (service, network), as Docker 1.9's --publish-service."""
    parts = spec.split(".")
    if len(parts) == 3 and parts[2] != "overlay":
        raise UsageError(
            f"--publish-service {spec}: driver {parts[2]!r} is not supported",
            hint="use SVC.NET.overlay",
        )
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise UsageError(f"--publish-service {spec!r} is not SVC.NET.overlay")
    return parts[0], parts[1]


def run_container(
    node: str | None,
    lab: str | None,
    name: str,
    net: str | None,
    publish_service: str | None,
    cmd: list[str],
    store_timeout: float | None = None,
    on_wait: Waiter | None = None,
) -> dict[str, Any]:
    """Validate a `run` and ask the node's agent to start the container."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"container name {name!r} is invalid", hint="use letters, digits, '_', '.', '-'"
        )
    service = None
    if publish_service:
        service, pnet = parse_publish(publish_service)
        if net and net != pnet:
            raise UsageError(
                f"--net {net} and --publish-service {publish_service} name different networks"
            )
        net = pnet
    return dict(
        call(
            node,
            lab,
            "run",
            need_node=True,
            store_timeout=store_timeout,
            on_wait=on_wait,
            name=name,
            network=net or "default",
            service=service,
            cmd=cmd,
        )
    )
