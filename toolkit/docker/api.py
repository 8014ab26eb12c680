"""A small Docker Engine API client over the daemon's unix socket (no docker CLI needed).

Requests go to unversioned paths, so the daemon answers in its own API version (Docker
20.10 speaks 1.41). The peer's pid comes from SO_PEERCRED on the connection (unix(7)):
that is how a socket path leads to the daemon's /proc entry.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any
from urllib.parse import quote

from toolkit.docker.http import exchange
from toolkit.errors import EnvError, OvlabError

SO_PEERCRED = 17  # <asm-generic/socket.h>


class DockerUnreachable(EnvError):
    """No daemon answers on the socket (exit 3: start dockerd, or point --host at it)."""


class DockerApi:
    """One daemon's API at ``sock`` (a path this process can open); ``label`` names it."""

    def __init__(self, sock: str, label: str | None = None, timeout: float = 10.0) -> None:
        self.sock = sock
        self.label = label or f"unix://{sock}"
        self.timeout = timeout

    def _fail(self, exc: OSError) -> OvlabError:
        return DockerUnreachable(
            f"no Docker daemon answers on {self.label}: {exc.strerror or exc}",
            hint="start dockerd, or pass --host unix:///PATH/docker.sock",
        )

    def peer_pid(self) -> int:
        """The pid of the process serving the socket (SO_PEERCRED; DockerUnreachable)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            raw = s.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, struct.calcsize("3i"))
        except OSError as exc:
            raise self._fail(exc) from None
        finally:
            s.close()
        return int(struct.unpack("3i", raw)[0])

    def request(self, method: str, path: str, body: bytes | None = None) -> Any:
        """One request; the decoded JSON answer (None for an empty body).

        Raises DockerUnreachable when nothing answers, OvlabError (exit 4) on an error status.
        """
        kind = "application/json" if body is None or body[:1] == b"{" else "application/x-tar"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.sock)
            status, data = exchange(s, method, path, body, kind)
        except OSError as exc:
            raise self._fail(exc) from None
        finally:
            s.close()
        if status >= 400:
            try:
                msg = json.loads(data).get("message", "")
            except ValueError:
                msg = data.decode(errors="replace").strip()
            raise OvlabError(f"docker {method} {path.split('?')[0]} on {self.label}: {msg}")
        if not data.strip():
            return None
        text = data.decode()
        try:
            return json.loads(text)
        except ValueError:
            # /images/create streams one JSON object per line
            return [json.loads(line) for line in text.splitlines() if line.strip()]

    def get(self, path: str) -> Any:
        """GET ``path`` (JSON)."""
        return self.request("GET", path)

    def info(self) -> dict[str, Any]:
        """``/info``: Name, ClusterStore, ClusterAdvertise, Swarm{NodeAddr, …}."""
        return dict(self.get("/info"))

    def networks(self) -> list[dict[str, Any]]:
        """``/networks``: every network, as ``docker network ls`` knows them."""
        return list(self.get("/networks"))

    def network(self, nid: str, verbose: bool = False) -> dict[str, Any]:
        """``/networks/ID``: containers attached here (and with verbose, peers/services)."""
        q = "?verbose=true" if verbose else ""
        return dict(self.get(f"/networks/{quote(nid)}{q}"))

    def containers(self) -> list[dict[str, Any]]:
        """``/containers/json``: running containers."""
        return list(self.get("/containers/json"))

    def inspect(self, cid: str) -> dict[str, Any]:
        """``/containers/ID/json``: State.Pid, NetworkSettings.Networks, …"""
        return dict(self.get(f"/containers/{quote(cid)}/json"))
