"""The retry policy and the classification of Consul failures (pure logic, no Consul)."""

from __future__ import annotations

import re

import pytest

from toolkit.consul.client import ConsulError
from toolkit.consul.retry import DEFAULT_TIMEOUT, Backoff, is_transient, store_timeout


class FakeClock:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def policy(timeout: float, clock: FakeClock) -> Backoff:
    return Backoff(timeout, clock=clock, sleeper=clock.sleep)


def test_backoff_doubles_from_50ms_and_is_capped_at_500ms():
    clock = FakeClock()
    b = policy(60, clock)
    for _ in range(8):
        assert b.sleep()
    assert clock.slept == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5])


def test_backoff_ends_at_the_deadline_and_never_sleeps_past_it():
    clock = FakeClock()
    b = policy(1.0, clock)
    while b.sleep():
        pass
    # 0.05+0.1+0.2+0.4 = 0.75, then only 0.25 s were left.
    assert clock.slept == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.25])
    assert sum(clock.slept) == pytest.approx(1.0)
    assert b.remaining() == 0 and b.next_delay() is None


def test_zero_timeout_means_one_attempt_and_no_waiting():
    clock = FakeClock()
    b = policy(0, clock)
    assert not b.sleep() and clock.slept == []


def test_time_spent_in_attempts_counts_against_the_deadline():
    clock = FakeClock()
    b = policy(2.0, clock)
    clock.now += 1.9  # a slow attempt (Consul held the request)
    assert b.next_delay() == pytest.approx(0.05)
    clock.now += 0.2
    assert b.next_delay() is None


@pytest.mark.parametrize(
    ("status", "body", "path"),
    [
        (None, "", "/v1/kv/x"),  # refused / reset / timed out: the local agent restarts
        (500, "No cluster leader", "/v1/kv/x"),
        (500, "rpc error making call: No cluster leader", "/v1/session/renew/x"),
        (500, "rpc error making call: rpc error making call: No cluster leader", "/v1/kv/x"),
        (500, "No known Consul servers", "/v1/kv/x"),
        (500, "leadership lost while committing log", "/v1/kv/x"),
        (500, "node is not the leader", "/v1/kv/x"),
        (500, "rpc error making call: EOF", "/v1/kv/x"),
        (500, "timed out enqueuing operation", "/v1/kv/x"),
        (500, "anything at all", "/v1/txn"),  # a txn's own errors are 409/400/413
        (503, "", "/v1/kv/x"),
        (502, "", "/v1/kv/x"),
        (504, "", "/v1/kv/x"),
        (429, "rate limit exceeded", "/v1/kv/x"),
    ],
)
def test_leaderless_and_restart_failures_are_transient(status, body, path):
    assert is_transient(status, body, path)


@pytest.mark.parametrize(
    ("status", "body", "path"),
    [
        (403, "Permission denied", "/v1/txn"),
        (403, "ACL not found", "/v1/kv/x"),
        (400, "Missing key name", "/v1/kv/x"),
        (409, "failed to lock key", "/v1/txn"),
        (413, "Request body too large", "/v1/txn"),
        (404, "", "/v1/kv/x"),
        (500, "invalid session name", "/v1/kv/x"),  # a 500 that names no leader problem
        (200, "", "/v1/kv/x"),
    ],
)
def test_answers_are_final(status, body, path):
    assert not is_transient(status, body, path)


def test_consul_errors_carry_their_classification():
    err = ConsulError.from_answer("vm1", "PUT", "/v1/txn", 500, b"No cluster leader\n")
    assert err.transient and err.status == 500
    assert err.message == "consul on vm1: PUT /v1/txn -> 500 No cluster leader"
    denied = ConsulError.from_answer("vm1", "GET", "/v1/kv/a", 403, b"Permission denied")
    assert not denied.transient


def test_store_timeout_from_option_env_or_default():
    assert store_timeout(None, {}) == DEFAULT_TIMEOUT == 15.0
    assert store_timeout(None, {"OVLAB_STORE_TIMEOUT": "2.5"}) == 2.5
    assert store_timeout(4, {"OVLAB_STORE_TIMEOUT": "2.5"}) == 4.0  # the option wins
    assert store_timeout(0, {}) == 0.0


@pytest.mark.parametrize(
    ("value", "env", "says"),
    [
        (-1, {}, "--store-timeout -1: give 0 to 3600 seconds"),
        (1e9, {}, "--store-timeout 1e+09: give 0 to 3600 seconds"),
        (float("nan"), {}, "--store-timeout nan: give 0 to 3600 seconds"),
        (None, {"OVLAB_STORE_TIMEOUT": "soon"}, "OVLAB_STORE_TIMEOUT='soon' is not a number"),
        (None, {"OVLAB_STORE_TIMEOUT": "-3"}, "OVLAB_STORE_TIMEOUT=-3: give 0 to 3600"),
    ],
)
def test_bad_store_timeouts_say_what_is_wrong(value, env, says):
    with pytest.raises(ValueError, match="^" + re.escape(says)):
        store_timeout(value, env)
