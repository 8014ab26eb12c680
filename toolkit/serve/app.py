"""The web app (Starlette) and its server (uvicorn) on a socket bound before anything runs.

Loopback is the default and needs nothing more: the page answers only requests whose Host
is a loopback name (so another web site cannot reach it through DNS rebinding). Any other
address must be asked for, and then every request needs the token printed at start, as
``?token=`` (the page then keeps it in a same-site cookie), the ``ovlab_token`` cookie, or
an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import ipaddress
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from toolkit.errors import OvlabError, UsageError
from toolkit.serve.api import Served

COOKIE = "ovlab_token"
# The browser itself holds the page to this server: nothing loads from elsewhere, and no
# other site may frame it.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(addr: str) -> bool:
    """Whether a listen address is loopback (127.0.0.0/8, ::1, ``localhost``)."""
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        raise UsageError(
            f"--listen {addr!r} is not an IP address", hint="e.g. --listen 127.0.0.1"
        ) from None


@dataclass
class Listener:
    """A bound, listening TCP socket, the URL that reaches it, and the token it needs
    (None on loopback)."""

    sock: socket.socket
    url: str
    token: str | None


def bind(addr: str, port: int) -> Listener:
    """Bind and listen; UsageError (one line, exit 2) when the port is in use or the
    address is not this machine's. The token is made here for a non-loopback address."""
    loop = is_loopback(addr)
    host = "127.0.0.1" if addr == "localhost" else addr
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is in use", hint="pick another with --port N"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(
                f"{host} is not an address of this machine", hint="see 'ip -brief addr'"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    token = None if loop else secrets.token_urlsafe(24)
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    return Listener(sock, url, token)


def _given_token(scope: Scope) -> tuple[str | None, bool]:
    """The token a request carries and whether it came in the query string."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    cookie: SimpleCookie = SimpleCookie()
    with contextlib.suppress(Exception):
        cookie.load(headers.get("cookie", ""))
    return (cookie[COOKIE].value if COOKIE in cookie else None), False


def _loopback_name(name: str) -> bool:
    if name in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode())],
        }
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def gate(app: Asgi, token: str | None) -> Asgi:
    """Wrap an ASGI app: with a token, refuse (401) a request without it; without one
    (loopback), refuse (421) a Host that is not a loopback name. A request that changes
    something (not GET/HEAD) needs the ``X-Ovlab`` header."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD") and not any(
            k.lower() == b"x-ovlab" for k, _v in scope["headers"]
        ):
            # A custom header makes a browser ask first (CORS), which we never allow: another
            # site's page cannot make this one run a step.
            await _refuse(send, 403, "send the X-Ovlab header (the page does)")
            return
        if token is None:
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not _loopback_name(name):
                await _refuse(send, 421, "this page answers on loopback names only")
                return
            await app(scope, receive, send)
            return
        given, in_query = _given_token(scope)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            await _refuse(send, 401, "a token is needed: open the URL ovlab serve printed")
            return
        if not in_query:
            await app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value.encode())]
            await send(message)

        await app(scope, receive, with_cookie)

    return guarded


def build(served: Served, token: str | None) -> Asgi:
    """The whole app: the page, its static files, the API, behind the gate."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from toolkit.serve import api, page

    walk_title = served.walk.walk.title if served.walk else None

    def index(request: Any) -> HTMLResponse:
        return HTMLResponse(page.index_html(served.lab, walk_title), headers=PAGE_HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        import asyncio

        served.live.run(asyncio.get_running_loop())
        try:
            yield
        finally:
            served.live.close()

    static = str(resources.files("toolkit.serve").joinpath("static"))
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            *api.routes(served),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={OvlabError: api.error_response},
    )
    return gate(app, token)


def serve(
    app: Asgi,
    listener: Listener,
    stop: Callable[[Callable[[], None]], None],
    on_exit: Callable[[], None] = lambda: None,
) -> None:
    """Run the server on the bound socket until Ctrl-C / SIGTERM, or until ``stop`` is
    handed a callable and something calls it (the lab went down). ``on_exit`` runs once
    when the shutdown is asked for: it ends the open event streams, which uvicorn would
    otherwise wait for and then cancel (with tracebacks) after its graceful timeout."""
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        # uvicorn re-raises a caught SIGINT/SIGTERM once it has shut down, which would
        # kill us before the watch is let go: here a signal only asks for the shutdown
        # (a second one forces it), and `ovlab serve` then ends normally, exit 0.
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            def asked(*_args: Any) -> None:
                if self.should_exit:
                    self.force_exit = True
                else:
                    on_exit()
                self.should_exit = True

            sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
            old = {sig: signal.signal(sig, asked) for sig in sigs}
            try:
                yield
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, access_log=False
    )
    server = Server(config)

    def shut() -> None:
        if not server.should_exit:
            on_exit()
        server.should_exit = True

    stop(shut)
    server.run(sockets=[listener.sock])
