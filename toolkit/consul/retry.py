"""Riding out a Consul leader election: which failures are worth waiting for, and how long.

A Consul cluster without a leader answers every write (and every consistent
read) with HTTP 500 ``No cluster leader`` — after holding the request for up to
``rpc_hold_timeout`` (7 s by default) — or, seen from a client agent, ``rpc
error making call: No cluster leader``; a local agent that is restarting refuses
connections; a leader that steps down mid-commit says ``leadership lost while
committing log``. Each of these ends by itself within seconds, so a command
waits for it, as Docker's daemon waits for its store. Anything else (a 403 from
an ACL, a 400 from a bad request, a 409 from a failed check) is an answer, and
waiting would not change it.

Pure functions and one small policy object: nothing here sleeps or does I/O
except ``Backoff.sleep``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 15.0  # seconds; a 3-server election takes 1-10 s with Consul's defaults
ENV_TIMEOUT = "OVLAB_STORE_TIMEOUT"
MAX_TIMEOUT = 3600.0

# Substrings (lower case) of Consul and raft error texts that mean "no leader right now".
# Sources: consul agent/structs (ErrNoLeader "No cluster leader", ErrNoServers "No known
# Consul servers"), hashicorp/raft (ErrLeadershipLost, ErrNotLeader, ErrEnqueueTimeout,
# ErrLeadershipTransferInProgress), and net/rpc's connection errors between agent and server.
TRANSIENT_MARKERS = (
    "no cluster leader",
    "no known consul servers",
    "leadership lost",
    "node is not the leader",
    "not leader",
    "leadership transfer in progress",
    "timed out enqueuing operation",
    "rpc error making call: eof",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "raft is already shutdown",
)


def is_transient(status: int | None, body: str = "", path: str = "") -> bool:
    """Whether a Consul HTTP failure is worth retrying: True for "no leader (yet)".

    ``status`` None means no HTTP answer at all (refused, reset, timed out): the
    local agent is restarting or holding the request, so wait. 429/502/503/504 are
    transient by definition. A 500 is transient when its text names a leader or
    connection problem, or when it answers ``/v1/txn`` (a txn's own errors are 409,
    400 or 413; a 500 there is Consul's RPC to the leader failing). 2xx and other
    4xx/5xx are final answers.
    """
    if status is None:
        return True
    if status in (429, 502, 503, 504):
        return True
    if status == 500:
        text = body.lower()
        return path.startswith("/v1/txn") or any(m in text for m in TRANSIENT_MARKERS)
    return False


def store_timeout(value: float | None = None, environ: dict[str, str] | None = None) -> float:
    """The store timeout in seconds: ``value``, else ``$OVLAB_STORE_TIMEOUT``, else 15.

    Raises ValueError with a one-line reason for a negative, huge or non-numeric value
    (the CLI turns it into a usage error).
    """
    env = os.environ if environ is None else environ
    if value is None:
        raw = env.get(ENV_TIMEOUT, "").strip()
        if not raw:
            return DEFAULT_TIMEOUT
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{ENV_TIMEOUT}={raw!r} is not a number of seconds") from None
        where = f"{ENV_TIMEOUT}={raw}"
    else:
        where = f"--store-timeout {value:g}"
    if not 0 <= value <= MAX_TIMEOUT or value != value:  # value != value: NaN
        raise ValueError(f"{where}: give 0 to {MAX_TIMEOUT:g} seconds")
    return float(value)


@dataclass
class Backoff:
    """Exponential backoff under a deadline: ``first`` doubling up to ``cap`` seconds.

    The cap is small on purpose: an election ends at an unknown moment, and a
    command should notice within half a second. ``clock`` and ``sleeper`` are
    injectable so the policy is tested without waiting.
    """

    timeout: float = DEFAULT_TIMEOUT
    first: float = 0.05
    cap: float = 0.5
    factor: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleeper: Callable[[float], None] = time.sleep
    start: float = field(default=-1.0)
    attempts: int = 0
    _next: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.clock()
        self._next = self.first

    def elapsed(self) -> float:
        """Seconds since the policy started."""
        return self.clock() - self.start

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.timeout - self.elapsed())

    def next_delay(self) -> float | None:
        """The pause before the next attempt, or None when the deadline has passed.

        The last pause is shortened so the final attempt starts at the deadline,
        not after it.
        """
        self.attempts += 1
        left = self.remaining()
        if left <= 0:
            return None
        delay = min(self._next, left)
        self._next = min(self._next * self.factor, self.cap)
        return delay

    def sleep(self) -> bool:
        """Sleep the next pause; False (without sleeping) when time is up."""
        delay = self.next_delay()
        if delay is None:
            return False
        self.sleeper(delay)
        return True
