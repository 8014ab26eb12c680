"""The server's door: loopback by default, a token for any other address, one-line refusals
for a port in use or an address that is not this machine's; the page renderers never load
the kernel side. Raw ASGI calls, a real socket on loopback; no lab, no root."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from tests.test_layers import KERNEL, loaded_at_import
from toolkit.errors import UsageError
from toolkit.serve import app, page
from toolkit.serve.app import COOKIE, bind, gate, is_loopback


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def call(
    token: str | None,
    host: str = "127.0.0.1:8470",
    query: str = "",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[int, dict[bytes, bytes]]:
    """Status and headers of one request through the gate."""
    sent: list[dict[str, Any]] = []
    raw = [(b"host", host.encode())] + [
        (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
    ]
    scope = {"type": "http", "method": method, "path": "/", "query_string": query.encode(),
             "headers": raw}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gate(_ok, token)(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start.get("headers", []))


def test_loopback_answers_loopback_names_only() -> None:
    assert call(None)[0] == 200
    assert call(None, host="localhost:8470")[0] == 200
    assert call(None, host="[::1]:8470")[0] == 200
    assert call(None, host="127.0.0.2:1")[0] == 200
    # DNS rebinding: another site's name pointing at 127.0.0.1
    assert call(None, host="evil.example:8470")[0] == 421


def test_a_token_is_needed_in_the_query_a_cookie_or_a_header() -> None:
    tok = "s3cret-Token"
    assert call(tok, host="10.1.2.3:8470")[0] == 401
    assert call(tok, query="token=wrong")[0] == 401
    status, headers = call(tok, query=f"token={tok}")
    assert status == 200
    assert headers[b"set-cookie"].startswith(f"{COOKIE}={tok};".encode())
    assert b"HttpOnly" in headers[b"set-cookie"] and b"SameSite=Strict" in headers[b"set-cookie"]
    assert call(tok, headers={"Cookie": f"{COOKIE}={tok}"}) == (200, {})
    assert call(tok, headers={"Authorization": f"Bearer {tok}"})[0] == 200
    assert call(tok, headers={"Authorization": "Bearer nope"})[0] == 401


def test_a_change_needs_the_page_s_own_header() -> None:
    assert call(None, method="POST")[0] == 403
    assert call(None, method="POST", headers={"X-Ovlab": "1"})[0] == 200


def test_what_counts_as_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.3.2.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.100.23")
    with pytest.raises(UsageError, match="not an IP address"):
        is_loopback("lab-vm-1")


def test_bind_prints_a_token_only_off_loopback_and_refuses_a_port_in_use() -> None:
    first = bind("127.0.0.1", 0)
    try:
        port = first.sock.getsockname()[1]
        assert first.token is None and first.url == f"http://127.0.0.1:{port}/"
        with pytest.raises(UsageError) as err:
            bind("127.0.0.1", port)
        assert (err.value.message, err.value.hint) == (
            f"port {port} on 127.0.0.1 is in use", "pick another with --port N",
        )  # fmt: skip
    finally:
        first.sock.close()
    wide = bind("0.0.0.0", 0)
    try:
        assert wide.token and len(wide.token) >= 32 and wide.url.endswith(f"?token={wide.token}")
    finally:
        wide.sock.close()
    with pytest.raises(UsageError, match="is not an address of this machine"):
        bind("192.0.2.1", 0)  # TEST-NET-1: never ours; bind() fails, nothing is sent


def test_nothing_is_left_listening_after_a_refusal() -> None:
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        with pytest.raises(UsageError):
            bind("127.0.0.1", port)
    finally:
        held.close()
    again = bind("127.0.0.1", port)  # the refused attempt holds nothing
    again.sock.close()


def test_the_page_renderers_never_load_the_kernel_side() -> None:
    for module in ("toolkit.serve.page", "toolkit.serve.walkrun"):
        assert not loaded_at_import(module) & KERNEL, module
    assert "pyroute2" not in loaded_at_import("toolkit.serve.app")


def test_the_index_page_escapes_the_lab_name_and_ships_its_own_script() -> None:
    html = page.index_html("<x>", "a & b")
    assert "&lt;x&gt;" in html and "<x>" not in html and "a &amp; b" in html
    assert 'src="static/app.js"' in html and "http" not in html.split("<body", 1)[1]
    js = page.static_text("app.js")
    assert "EventSource" in js and "://" not in js.replace("http://", "")  # nothing fetched
    assert app.COOKIE not in js  # the cookie is HttpOnly: the script never sees the token
