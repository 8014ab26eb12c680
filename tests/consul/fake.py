"""An in-memory Consul that speaks just the HTTP the overlay store uses, on 127.0.0.1.

A real HTTP server in a thread, so ``toolkit.consul.client.Consul`` (sockets, status
codes, headers, JSON) runs unchanged against it. What it implements, after Consul's
own semantics (agent/consul/state/kvs.go, txn.go, session.go; agent/kvs_endpoint.go):

- ``GET /v1/kv/<key>`` one entry, ``?recurse`` every entry under a prefix, ``?keys`` key
  names under a prefix; 404 when nothing matches; ``X-Consul-Index`` on every answer;
  ``?index=N&wait=Ds`` blocks until the index passes N or the wait ends (a blocking query).
- ``PUT /v1/txn``: a list of ``{"KV": {Verb, Key, Value, Session, Index}}`` applied
  all-or-nothing at one new index; verbs set, cas, lock, unlock, get, check-not-exists,
  check-index, check-session, delete, delete-tree, delete-cas. Failed ops answer 409 with
  ``Errors: [{OpIndex, What}]``, one per failed op (Consul goes on past the first),
  worded as Consul words them ("key ... exists", "invalid session ...", "failed to lock
  key ..., lock is already held"); tests/consul/test_fake_vs_consul.py checks that.
- ``PUT /v1/session/create|renew/<id>|destroy/<id>``; a session with behaviour "delete"
  takes the keys it holds with it when it is destroyed or invalidated (``invalidate``,
  the test's stand-in for a missed TTL), "release" only unlocks them.
- ``GET /v1/status/leader``.

Not implemented: ACLs, TTL timers (call ``invalidate``), lock-delay, flags, namespaces.

Test hooks: ``txns`` records each transaction's ops as sent; ``before_txn`` is called
(outside the store lock) before a transaction is applied, e.g. a barrier to line two
racing writers up; ``fail_next_txn(status, body, commit)`` answers the next
transaction with an error, after applying it when ``commit`` (a write whose answer
was lost, as after a leader change).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from toolkit.consul.client import Consul


class TxnFailed(Exception):
    """One op of a transaction failed; ``what`` is Consul's wording."""

    def __init__(self, index: int, what: str) -> None:
        super().__init__(what)
        self.index = index
        self.what = what


class TxnRolledBack(Exception):
    """A transaction with failed ops: every failure, as Consul lists them (it goes on
    past the first failed op and reports each one, then applies nothing)."""

    def __init__(self, failures: list[TxnFailed]) -> None:
        super().__init__("; ".join(f.what for f in failures))
        self.failures = failures


@dataclass
class Entry:
    """One KV entry, as Consul stores it."""

    key: str
    value: bytes | None
    create_index: int
    modify_index: int
    lock_index: int = 0
    session: str = ""

    def to_json(self, with_value: bool = True) -> dict[str, Any]:
        """The entry as Consul's HTTP API answers it (Value base64, or null)."""
        out: dict[str, Any] = {
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": 0,
            "Value": (
                base64.b64encode(self.value).decode()
                if with_value and self.value is not None
                else None
            ),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        if self.session:
            out["Session"] = self.session
        return out


@dataclass
class Session:
    """A session: its name, TTL text and behaviour ("release" or "delete")."""

    id: str
    name: str
    ttl: str
    behavior: str
    create_index: int


@dataclass
class FakeConsul:
    """The in-memory state and the hooks; ``serve()`` puts it on the wire."""

    index: int = 1
    kv: dict[str, Entry] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    txns: list[list[dict[str, Any]]] = field(default_factory=list)
    before_txn: Callable[[list[dict[str, Any]]], None] | None = None
    _fail: list[tuple[int, str, bool]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    # -- state changes (each under the lock, each a new index) ------------------

    def _bump(self) -> int:
        self.index += 1
        self._cond.notify_all()  # wake blocking queries
        return self.index

    def txn(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply KV ops atomically; TxnRolledBack (nothing applied) when any fails."""
        with self._cond:
            kv = dict(self.kv)  # work on a copy: all or nothing
            idx = self.index + 1
            results: list[dict[str, Any]] = []
            failures: list[TxnFailed] = []
            for i, op in enumerate(ops):
                try:
                    got = self._apply(kv, idx, i, op)
                except TxnFailed as exc:
                    failures.append(exc)
                    continue
                if got is not None:
                    results.append({"KV": got.to_json(with_value=op["Verb"] == "get")})
            if failures:
                raise TxnRolledBack(failures)
            self.kv = kv
            self._bump()
            return results

    def _apply(self, kv: dict[str, Entry], idx: int, i: int, op: dict[str, Any]) -> Entry | None:
        verb, key = op["Verb"], op["Key"]
        value = base64.b64decode(op["Value"]) if op.get("Value") is not None else None
        cur = kv.get(key)
        if verb == "set":
            kv[key] = self._written(cur, key, value, idx)
            return kv[key]
        if verb == "cas":
            want = int(op.get("Index") or 0)
            if (want == 0 and cur is not None) or (want and (not cur or cur.modify_index != want)):
                raise TxnFailed(i, f'failed to set key "{key}", index is stale')
            kv[key] = self._written(cur, key, value, idx)
            return kv[key]
        if verb == "lock":
            sid = op.get("Session") or ""
            if sid not in self.sessions:
                raise TxnFailed(i, f'invalid session "{sid}"')
            if cur is not None and cur.session and cur.session != sid:
                raise TxnFailed(i, f'failed to lock key "{key}", lock is already held')
            entry = self._written(cur, key, value, idx)
            if not (cur is not None and cur.session == sid):
                entry.lock_index += 1  # a new acquisition, not a re-lock by the holder
            entry.session = sid
            kv[key] = entry
            return entry
        if verb == "unlock":
            sid = op.get("Session") or ""
            if cur is None or cur.session != sid:
                raise TxnFailed(i, f'failed to unlock key "{key}", lock isn\'t held')
            entry = self._written(cur, key, value, idx)
            entry.session = ""
            kv[key] = entry
            return entry
        if verb == "get":
            if cur is None:
                raise TxnFailed(i, f'key "{key}" doesn\'t exist')
            return cur
        if verb == "check-not-exists":
            if cur is not None:
                raise TxnFailed(i, f'key "{key}" exists')
            return None
        if verb == "check-index":
            if cur is None or cur.modify_index != int(op.get("Index") or 0):
                raise TxnFailed(i, f"current modify index {cur and cur.modify_index} != wanted")
            return None
        if verb == "check-session":
            if cur is None or cur.session != (op.get("Session") or ""):
                raise TxnFailed(i, f'key "{key}" is not locked by that session')
            return None
        if verb == "delete":
            kv.pop(key, None)
            return None
        if verb == "delete-tree":
            for k in [k for k in kv if k.startswith(key)]:
                del kv[k]
            return None
        if verb == "delete-cas":
            # Consul (kvsDeleteCASTxn): a missing key is success; a changed one is not.
            if cur is not None:
                if cur.modify_index != int(op.get("Index") or 0):
                    raise TxnFailed(i, f'failed to delete key "{key}", index is stale')
                del kv[key]
            return None
        raise TxnFailed(i, f"unknown KV verb {verb!r}")

    @staticmethod
    def _written(cur: Entry | None, key: str, value: bytes | None, idx: int) -> Entry:
        # A plain set keeps a holder's lock (Consul's kvsSetTxn copies Session/LockIndex).
        if cur is None:
            return Entry(key, value, idx, idx)
        return Entry(key, value, cur.create_index, idx, cur.lock_index, cur.session)

    def session_create(self, body: dict[str, Any]) -> str:
        """A new session; its id."""
        with self._cond:
            sid = str(uuid.uuid4())
            self.sessions[sid] = Session(
                sid,
                str(body.get("Name", "")),
                str(body.get("TTL", "")),
                str(body.get("Behavior", "release")),
                self._bump(),
            )
            return sid

    def invalidate(self, sid: str) -> None:
        """End a session as Consul does on destroy or a missed TTL: its locked keys go
        (behaviour delete) or are unlocked (release)."""
        with self._cond:
            sess = self.sessions.pop(sid, None)
            if sess is None:
                return
            for key, entry in list(self.kv.items()):
                if entry.session != sid:
                    continue
                if sess.behavior == "delete":
                    del self.kv[key]
                else:
                    entry.session = ""
            self._bump()

    def fail_next_txn(self, status: int, body: str, commit: bool = False) -> None:
        """Answer the next transaction with ``status``/``body``; apply it first when
        ``commit`` (the write went through but its answer was lost)."""
        with self._cond:
            self._fail.append((status, body, commit))

    # -- reading -----------------------------------------------------------------

    def wait_past(self, index: int, wait: float) -> None:
        """Block until the index passes ``index`` or ``wait`` seconds go by."""
        end = time.monotonic() + wait
        with self._cond:
            while self.index <= index:
                left = end - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def entries(self, prefix: str) -> list[Entry]:
        """Entries whose key starts with prefix, sorted by key."""
        with self._cond:
            return [self.kv[k] for k in sorted(self.kv) if k.startswith(prefix)]

    def stored(self) -> list[str]:
        """Every key, sorted (for asserting what a store left behind)."""
        with self._cond:
            return sorted(self.kv)

    # -- on the wire ---------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[Consul]:
        """Serve on 127.0.0.1 (a free port) in a thread; a client pointed at it."""
        fake = self

        class Handler(_Handler):
            consul = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-consul", daemon=True
        )  # a short poll interval: shutdown() waits for one
        thread.start()
        try:
            yield Consul(host="127.0.0.1", port=server.server_address[1], where="fake consul")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


def _wait_seconds(text: str) -> float:
    """Consul's ``wait`` parameter ("30s", "1m", "500ms"), capped at 10 minutes."""
    for unit, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return min(float(text[: -len(unit)]) * mult, 600.0)
    return 300.0  # Consul's default wait


class _Handler(BaseHTTPRequestHandler):
    consul: FakeConsul
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # quiet: tests read outcomes, not access logs

    def _answer(self, status: int, body: Any, raw: bool = False) -> None:
        data = body if raw else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Consul-Index", str(self.consul.index))
        self.end_headers()
        self.wfile.write(data)

    def _split(self) -> tuple[str, dict[str, str]]:
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        return urllib.parse.unquote(url.path), params

    def do_GET(self) -> None:
        path, params = self._split()
        fake = self.consul
        if path == "/v1/status/leader":
            self._answer(200, "127.0.0.1:8300")
            return
        if not path.startswith("/v1/kv/"):
            self._answer(404, b"no such endpoint", raw=True)
            return
        key = path[len("/v1/kv/") :]
        if "index" in params:
            fake.wait_past(int(params["index"]), _wait_seconds(params.get("wait", "")))
        if "keys" in params:
            found = [e.key for e in fake.entries(key)]
            self._answer(200, found) if found else self._answer(404, b"", raw=True)
            return
        if "recurse" in params:
            hits = fake.entries(key)
        else:
            with fake._cond:
                one = fake.kv.get(key)
            hits = [one] if one is not None else []
        if not hits:
            self._answer(404, b"", raw=True)
            return
        self._answer(200, [e.to_json() for e in hits])

    def do_PUT(self) -> None:
        path, _ = self._split()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.consul
        if path == "/v1/txn":
            self._txn(json.loads(body or b"[]"))
        elif path == "/v1/session/create":
            self._answer(200, {"ID": fake.session_create(json.loads(body or b"{}"))})
        elif path.startswith("/v1/session/renew/"):
            sid = path.rsplit("/", 1)[-1]
            sess = fake.sessions.get(sid)
            if sess is None:
                self._answer(404, f"Session id '{sid}' not found".encode(), raw=True)
            else:
                self._answer(200, [{"ID": sid, "TTL": sess.ttl, "Behavior": sess.behavior}])
        elif path.startswith("/v1/session/destroy/"):
            fake.invalidate(path.rsplit("/", 1)[-1])
            self._answer(200, True)
        else:
            self._answer(404, b"no such endpoint", raw=True)

    def _txn(self, ops: list[dict[str, Any]]) -> None:
        fake = self.consul
        kv_ops = [op["KV"] for op in ops]
        fake.txns.append(kv_ops)
        if fake.before_txn is not None:
            fake.before_txn(kv_ops)
        with fake._cond:
            fail = fake._fail.pop(0) if fake._fail else None
        results: list[dict[str, Any]] = []
        try:
            if fail is None or fail[2]:
                results = fake.txn(kv_ops)
        except TxnRolledBack as exc:
            errors = [{"OpIndex": f.index, "What": f.what} for f in exc.failures]
            self._answer(409, {"Results": None, "Errors": errors})
            return
        if fail is not None:
            self._answer(fail[0], fail[1].encode(), raw=True)
            return
        self._answer(200, {"Results": results, "Errors": None})
