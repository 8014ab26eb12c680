"""The overlay's client side without any CLI framework: find an agent, ask it, validate input.

Every "ask any live agent" goes through ``first_answer`` (once round the agents) or
``ask_agents`` (rounds with backoff while the store or an agent comes back). Both the
typer commands and the typer-free fast path of ``ovlab run`` use these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from toolkit.errors import OvlabError, UsageError

if TYPE_CHECKING:
    from toolkit.consul.retry import Backoff
    from toolkit.overlay.locate import AgentRef
    from toolkit.overlay.model import Snapshot

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
# Requests that change the store: each carries an op id, the same on every attempt, so the
# agent recognises its own earlier attempt's work (toolkit/overlay/store.py explains why).
WRITE_OPS = frozenset({"run", "rm", "network_create", "network_rm"})

Waiter = Callable[[str], None]


class StoreTimeout(OvlabError):
    """The store (or the agent) did not come back within the store timeout."""


class Miss(NamedTuple):  # not a dataclass: this module is on ovlab run's fast path
    """One agent that gave no answer, and why (an error another agent may not have)."""

    ref: AgentRef
    error: OvlabError

    @property
    def will_return(self) -> bool:
        """Worth waiting for: an installed agent restarting, or its store electing a leader."""
        from toolkit.overlay import api

        if isinstance(self.error, api.AgentUnreachable):
            return self.ref.installed
        return isinstance(self.error, api.StoreUnreachable)

    @property
    def waiting_for(self) -> str:
        """What a client waits for, said on the waiting line."""
        from toolkit.overlay import api

        if isinstance(self.error, api.StoreUnreachable):
            return f"the store (consul) on {self.ref.node}: {_short(self.error)}"
        return f"the overlay agent on {self.ref.node} to come back"

    @property
    def failure(self) -> str:
        """What failed, as one line."""
        from toolkit.overlay import api

        if isinstance(self.error, api.StoreUnreachable):
            return self.error.message
        return f"the overlay agent on {self.ref.node} is not answering: {_short(self.error)}"


class NoAgentAnswers(OvlabError):
    """Every agent asked failed in a way another one might not have (exit 4); ``misses``
    holds each agent and its error, in the order asked."""

    def __init__(self, misses: list[Miss]) -> None:
        why = "; ".join(f"{m.ref.node}: {_short(m.error)}" for m in misses)
        super().__init__(
            f"no overlay agent answers ({why})" if misses else "no overlay agent to ask",
            hint=next((m.error.hint for m in misses if m.error.hint), None)
            or "run 'ovlab provision LAB'",
        )
        self.misses = misses


def first_answer(
    lab: str | None,
    op: str,
    *,
    node: str | None = None,
    refs: list[AgentRef] | None = None,
    timeout: float = 60.0,
    **args: Any,
) -> Any:
    """The answer to ``op`` of the first agent that gives one, each asked once, best first.

    ``refs`` are the agents to ask; by default ``locate.agents_for(node, lab)`` (NODE's,
    else this host's, else every live VM's of the lab; its UsageError/NotFound when there
    is none). An agent is passed over when it is not reached (``api.AgentUnreachable``),
    when its store is down for now (a transient ``api.StoreUnreachable``) and, for reads,
    when it gives no answer within ``timeout`` seconds. Any other error is that agent's
    answer and is raised. Raises NoAgentAnswers (exit 4), one line naming each agent and
    why, when no agent answers.
    """
    from toolkit.overlay import locate

    if refs is None:
        refs = locate.agents_for(node, lab)
    if op in WRITE_OPS and "op_id" not in args:
        args["op_id"] = os.urandom(16).hex()  # not `secrets`: its import costs the fast path
    return _ask_each(refs, op, timeout, args)


def _ask_each(refs: list[AgentRef], op: str, timeout: float, args: dict[str, Any]) -> Any:
    """One round of ``first_answer``: the first answer, or NoAgentAnswers."""
    from toolkit.overlay import api

    misses = []
    for ref in refs:
        try:
            return api.call(ref.socket, op, timeout, **args)
        except api.AgentUnreachable as exc:
            misses.append(Miss(ref, exc))  # not delivered: another agent knows the same store
        except api.StoreUnreachable as exc:
            if not exc.transient:
                raise  # the agent may have done part of it: not for another agent to repeat
            misses.append(Miss(ref, exc))
        except api.AgentTimeout as exc:
            if op in WRITE_OPS:
                raise  # delivered, and maybe still under way there
            misses.append(Miss(ref, exc))
    raise NoAgentAnswers(misses)


def snapshot(
    lab: str | None = None,
    *,
    node: str | None = None,
    refs: list[AgentRef] | None = None,
    timeout: float = 60.0,
) -> Snapshot:
    """The store as the first answering agent reads it now (``first_answer``'s errors, and
    model.WireError for an answer this version cannot read)."""
    from toolkit.overlay.model import Snapshot

    return Snapshot.from_wire(first_answer(lab, "snapshot", node=node, refs=refs, timeout=timeout))


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
    """``first_answer`` in rounds: while the agents that failed will be back (an installed
    agent restarting, a store electing a leader), pause by ``backoff`` and ask again, with
    the same op id for a write. StoreTimeout when the backoff runs out; a lone agent's own
    error, or NoAgentAnswers, when no agent is worth waiting for."""
    if op in WRITE_OPS:
        args["op_id"] = os.urandom(16).hex()  # not `secrets`: its import costs the fast path
    while True:
        try:
            return _ask_each(refs, op, 60.0, args)
        except NoAgentAnswers as none:
            failed = none
        waiting = [m for m in failed.misses if m.will_return]
        if not waiting:
            raise failed.misses[0].error if len(failed.misses) == 1 else failed
        if on_wait is not None:
            on_wait("waiting for " + waiting[0].waiting_for)
        if not backoff.sleep():
            raise StoreTimeout(
                f"{waiting[0].failure} (gave up after {backoff.elapsed():.0f}s)",
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
