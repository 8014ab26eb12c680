"""One HTTP/1.0 GET or POST over a connected socket: what the Docker API, etcd, Consul and
the diagnostic server need, without importing http.client (and email with it), which
costs more than the whole `docker doctor` run's kernel reads.

HTTP/1.0 makes every server close the connection after the answer (no chunked bodies).
"""

from __future__ import annotations

import socket


def exchange(
    sock: socket.socket,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    """Send one request on ``sock`` and read the answer to its end: (status, body).

    Raises OSError as the socket does, and on an answer that is not HTTP.
    """
    head = f"{method} {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: ovlab\r\n"
    if body is not None:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    sock.sendall(head.encode() + b"\r\n" + (body or b""))
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    raw = b"".join(chunks)
    top, sep, rest = raw.partition(b"\r\n\r\n")
    line = top.split(b"\r\n", 1)[0].split()
    if not sep or len(line) < 2 or not line[0].startswith(b"HTTP/") or not line[1].isdigit():
        raise OSError(f"not an HTTP answer: {raw[:60]!r}")
    return int(line[1]), rest
