"""A small Consul HTTP client that can talk to an agent inside any network namespace.

The socket is opened inside the namespace (setns and back), so the CLI on the
host reaches ``127.0.0.1:8500`` of a lab VM without forking anything.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any

from toolkit.consul.retry import is_transient
from toolkit.errors import OvlabError
from toolkit.host.ns import inside


class ConsulError(OvlabError):
    """Consul answered with an error, or not at all.

    ``status`` is the HTTP status (None: no answer at all); ``transient`` says
    whether waiting may help (no leader yet, agent restarting), as decided by
    ``toolkit.consul.retry.is_transient``.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        status: int | None = 0,
        transient: bool = False,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.transient = transient

    @classmethod
    def from_answer(
        cls, where: str, method: str, path: str, status: int, data: bytes
    ) -> ConsulError:
        """The error for a non-2xx answer, classified transient or final."""
        body = data.decode(errors="replace").strip()
        return cls(
            f"consul on {where}: {method} {path} -> {status} {body}",
            status=status,
            transient=is_transient(status, body, path),
        )


class _NsConnection(http.client.HTTPConnection):
    """HTTPConnection whose socket is created inside a network namespace."""

    def __init__(self, host: str, port: int, netns: str | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._netns = netns

    def connect(self) -> None:
        if self._netns is None:
            super().connect()
            return
        with inside(self._netns, "net"):
            self.sock = socket.create_connection((self.host, self.port), self.timeout)


@dataclass
class Consul:
    """Consul's HTTP API at ``addr`` in namespace ``netns`` (None: our own)."""

    netns: str | None = None
    token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8500
    timeout: float = 3.0
    where: str = "consul"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; connection failures become one-line ConsulErrors."""
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"X-Consul-Token": self.token} if self.token else {}
        conn = _NsConnection(self.host, self.port, self.netns, self.timeout)
        try:
            conn.request(method, url, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConsulError(
                f"consul is not answering on {self.where} ({self.host}:{self.port}): {reason}",
                hint="is the lab provisioned? run 'ovlab provision LAB'",
                status=None,
                transient=True,  # refused/reset/timed out: the agent restarts or holds the call
            ) from exc
        finally:
            conn.close()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON; 404 gives None, other errors raise."""
        status, _, data = self.request("GET", path, params=params)
        if status == 404:
            return None
        if status != 200:
            raise ConsulError.from_answer(self.where, "GET", path, status, data)
        return json.loads(data) if data else None

    def put(self, path: str, body: bytes | str = b"", params: dict[str, Any] | None = None) -> Any:
        """PUT; returns decoded JSON (Consul answers true/false for KV)."""
        raw = body.encode() if isinstance(body, str) else body
        status, _, data = self.request("PUT", path, body=raw, params=params)
        if status != 200:
            raise ConsulError.from_answer(self.where, "PUT", path, status, data)
        return json.loads(data) if data else None
