"""The overlay's client side without any CLI framework: find an agent, ask it, validate input.

Both the typer commands and the typer-free fast path of ``ovlab run`` use these.
"""

from __future__ import annotations

import re
from typing import Any

from toolkit.errors import UsageError

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")


def call(node: str | None, lab: str | None, op: str, need_node: bool = False, **args: Any) -> Any:
    """Send one request to the right agent (any live one, when no node is named)."""
    from toolkit.overlay import api, locate

    refs = locate.agents_for(node, lab, need_node)
    for ref in refs[:-1]:
        try:
            return api.call(ref.socket, op, **args)
        except (api.AgentUnreachable, api.StoreUnreachable):
            continue  # that VM's agent or its Consul is down: another one knows the same store
    return api.call(refs[-1].socket, op, **args)


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
            name=name,
            network=net or "default",
            service=service,
            cmd=cmd,
        )
    )
