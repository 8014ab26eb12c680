"""The agent's local API: one JSON request and one JSON answer per unix-socket connection.

Request ``{"op": OP, "args": {...}}``; answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": LINE, "hint": ..., "code": EXIT, "kind": ..., "transient": ...}``.
Results of ``snapshot`` and ``info`` are typed on both ends: ``model.Snapshot.to_wire`` /
``from_wire`` and ``model.AgentInfo.to_dict`` / ``from_wire``. This module does not load
the model at import: the typer-free ``ovlab run`` only needs ``call``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
from typing import TYPE_CHECKING, Any

from toolkit.errors import EXIT_RUNTIME, OvlabError, UsageError
from toolkit.host import paths

if TYPE_CHECKING:
    from toolkit.overlay.model import AgentInfo

MAX_REQUEST = 1 << 20
SOCKET = paths.AGENT_SOCKET  # the agent's local API, under the host's (VM's) /run


class AgentUnreachable(OvlabError):
    """No agent answers on that socket: it was never started, or it is restarting.

    Raised only when the request was not delivered (no socket, or connection
    refused), so sending it again cannot do anything twice.
    """


class AgentTimeout(OvlabError):
    """The request was delivered but no answer came in time (it may still be carried out)."""


class StoreUnreachable(OvlabError):
    """The agent answers, but its store (Consul) does not; ``transient``: worth waiting for."""

    transient = False


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        agent = self.server.agent  # type: ignore[attr-defined]
        try:
            req = json.loads(self.rfile.readline(MAX_REQUEST))
            result = dispatch(agent, req.get("op", ""), req.get("args") or {})
            answer: dict[str, Any] = {"ok": True, "result": result}
        except OvlabError as exc:
            answer = {
                "ok": False,
                "error": exc.message,
                "hint": exc.hint,
                "code": exc.exit_code,
                "kind": type(exc).__name__,
                "transient": bool(getattr(exc, "transient", False)),
            }
        except (ValueError, TypeError, KeyError) as exc:
            answer = {"ok": False, "error": f"bad request: {exc}", "code": 2, "kind": "UsageError"}
        except Exception as exc:  # noqa: BLE001 - a client must always get an answer
            logging.getLogger("ovlab.agent").exception("request failed")
            answer = {
                "ok": False,
                "error": f"agent error: {type(exc).__name__}: {exc}",
                "code": 4,
                "hint": "see the agent's log (/var/log/supervisor/ovlab-agent.log in the VM)",
            }
        self.wfile.write(json.dumps(answer, default=lambda o: o.to_dict()).encode() + b"\n")


def dispatch(agent: Any, op: str, args: dict[str, Any]) -> Any:
    """Run one API operation on the agent."""
    if op == "info":
        return agent.info()  # an AgentInfo: the handler encodes it by its to_dict()
    op_id = args.get("op_id")  # the same on every attempt of one client request
    if op == "network_create":
        return agent.network_create(
            args["name"], args.get("subnet"), args.get("driver", "overlay"), op_id
        )
    if op == "network_rm":
        return agent.network_rm(args["name"], op_id)
    if op == "snapshot":
        return agent.fresh_snapshot().to_wire()
    if op == "run":
        return agent.run(
            args["name"], args["network"], args.get("service"), list(args.get("cmd") or []), op_id
        )
    if op == "rm":
        return agent.rm(args["name"], op_id)
    if op == "containers":
        return agent.local_containers()
    raise UsageError(f"unknown operation {op!r}")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Threaded unix-socket server bound to the agent."""

    daemon_threads = True

    def __init__(self, path: str, agent: Any) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)  # a previous agent's socket; we are its successor
        super().__init__(path, _Handler)
        os.chmod(path, 0o600)
        self.agent = agent


def call(path: str, op: str, timeout: float = 60.0, **args: Any) -> Any:
    """Call the agent at ``path``; raise its error as an OvlabError.

    One attempt of an operation may wait for Consul several times (up to 10 s each
    while it holds a request without a leader), hence the generous ``timeout``.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except FileNotFoundError as exc:
        raise AgentUnreachable(
            "no overlay agent runs there (socket missing)",
            hint="provision the lab ('ovlab provision LAB') to start agents",
        ) from exc
    except ConnectionRefusedError as exc:
        raise AgentUnreachable(
            "the overlay agent is not answering (connection refused)",
            hint="is it running? see 'supervisorctl status' in the VM",
        ) from exc
    except TimeoutError as exc:
        raise AgentTimeout(f"the overlay agent did not answer within {timeout:g}s") from exc
    answer = json.loads(buf or b'{"ok": false, "error": "empty answer"}')
    if answer.get("ok"):
        return answer["result"]
    err = UsageError if answer.get("code") == 2 else OvlabError
    if answer.get("kind") == "StoreDown":
        err = StoreUnreachable
    exc2 = err(answer.get("error", "agent error"), hint=answer.get("hint"))
    if isinstance(exc2, StoreUnreachable):
        exc2.transient = bool(answer.get("transient"))
    if answer.get("code") not in (None, 2):
        exc2.exit_code = int(answer.get("code") or EXIT_RUNTIME)
    raise exc2


def info(path: str, timeout: float = 3.0) -> AgentInfo:
    """The ``info`` of the agent at ``path``: ``call``'s errors, model.WireError for an
    answer this version cannot read."""
    from toolkit.overlay.model import AgentInfo

    return AgentInfo.from_wire(call(path, "info", timeout))
