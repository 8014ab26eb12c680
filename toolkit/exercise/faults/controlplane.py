"""Control-plane faults: the overlay agent, the Consul gossip keyring, ACL tokens, sessions.

Facts: the agent holds a Consul session with TTL 10 s and behaviour "delete"
(toolkit.overlay.store), so Consul deletes its host key and endpoints when the session
is invalidated; Consul reads the gossip key from ``data_dir/serf/local.keyring`` before
the ``encrypt`` of its config (Consul docs, "encrypt"); the overlay agent's token is
``/etc/ovlab/overlay.token`` in each VM (roles/overlay_agent).
"""

from __future__ import annotations

import base64
import json
import random
import shlex
from typing import Any

from toolkit.doctor.findings import in_vm, supervisor
from toolkit.exercise.faults.base import (
    AGENT,
    CONSUL_BIN,
    CONSUL_PROGRAM,
    SUPERVISOR_CONF,
    Fault,
    FaultError,
    Target,
    bootstrap_token,
    bootstrap_token_file,
    ctl,
    sh,
    start_agent_fix,
    stop_agent,
    stop_program,
    vm_cmd,
)
from toolkit.host import paths

KEYRING = "/var/lib/consul/serf/local.keyring"
TOKEN_FILE = "/etc/ovlab/overlay.token"
AGENT_STATE = f"{paths.AGENT_STATE_DIR}/agent/state.json"


class AgentDead(Fault):
    name = "agent-dead"
    plane = "control"
    summary = "a VM's overlay agent is stopped"
    finds = "supervisorctl status in the VM; the agent's socket does not answer"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        stop_agent(t)
        return {}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"{AGENT} on {t.vm.node} was stopped: nothing programs that VM's tables, "
            "publishes its containers or answers 'ovlab run' there"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [start_agent_fix(t)]

    def finding_commands(self, t: Target) -> list[str]:
        return [vm_cmd(t, f"{t.bin}/supervisorctl", "-c", SUPERVISOR_CONF, "status")]


class GossipKey(Fault):
    name = "gossip-key"
    plane = "control"
    summary = "a Consul client's keyring holds the wrong gossip key"
    finds = "ovlab consul members (the client is failed); its log: no installed keys"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        key = base64.b64encode(rng.randbytes(32)).decode()
        stop_program(t, t.vm, CONSUL_PROGRAM)
        sh(t.vm, f"printf '%s' {shlex.quote(json.dumps([key]))} > {shlex.quote(KEYRING)}")
        sh(t.vm, ctl(t, t.vm, "start", CONSUL_PROGRAM))
        return {"key": key}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"Consul on {t.vm.node} restarted with a keyring ({KEYRING}) holding another "
            "gossip key than the cluster's; Consul prefers the keyring to the config's "
            "'encrypt', so the client cannot decrypt gossip and is left out of the cluster"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        # Without the keyring file Consul takes the key of its config (/etc/consul.d).
        return [
            vm_cmd(t, "rm", "-f", KEYRING),
            supervisor(t.lab, t.vm.node, "restart", CONSUL_PROGRAM),
        ]

    def finding_commands(self, t: Target) -> list[str]:
        return [f"ovlab consul members {t.lab}", vm_cmd(t, "cat", KEYRING)]


def _consul_fix(t: Target, *argv: str) -> str:
    """A consul CLI command on a server VM with the lab's bootstrap token."""
    token = f"CONSUL_HTTP_TOKEN=$(cat {shlex.quote(bootstrap_token_file(t.lab))}) "
    return token + in_vm(t.lab, t.server.node, CONSUL_BIN, *argv)


class TokenNoKv(Fault):
    name = "token-no-kv"
    plane = "control"
    summary = "a VM's overlay agent runs with an ACL token without KV rights"
    finds = "the agent's log: 403 Permission denied; consul acl token read -self"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        out = sh(
            t.server,
            shlex.join(
                [
                    CONSUL_BIN,
                    "acl",
                    "token",
                    "create",
                    "-description",
                    f"overlay agent {t.vm.node}",
                    "-policy-name",
                    "agent",
                    "-format",
                    "json",
                ]
            ),
            token=bootstrap_token(t.lab),
        )
        made = json.loads(out)
        sh(t.vm, f"printf '%s\\n' {shlex.quote(made['SecretID'])} > {shlex.quote(TOKEN_FILE)}")
        sh(t.vm, ctl(t, t.vm, "restart", AGENT))
        return {"accessor": made["AccessorID"]}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"the overlay agent on {t.vm.node} reads {TOKEN_FILE}, now a token (accessor "
            f"{params['accessor']}) with only the 'agent' policy: it may register its node but "
            "not read or write docker/network/v1.0/ nor hold a session, so its host and "
            "endpoints drop out of the store"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        return [
            _consul_fix(
                t,
                "acl",
                "token",
                "update",
                "-id",
                params["accessor"],
                "-policy-name",
                "overlay",
                "-merge-policies",
            ),  # fmt: skip
            supervisor(t.lab, t.vm.node, "restart", AGENT),
        ]

    def finding_commands(self, t: Target) -> list[str]:
        return [
            vm_cmd(t, "tail", "-n", "20", "/var/log/supervisor/ovlab-agent.log"),
            _consul_fix(t, "acl", "token", "list"),
        ]

    def undo(self, t: Target, params: dict[str, Any]) -> None:
        """Give the agent the lab's overlay token again, then delete the one made (reset)."""
        from toolkit.lab import state

        secret = (state.lab_dir(t.lab) / "secrets" / "overlay.token").read_text().strip()
        sh(t.vm, f"printf '%s\\n' {shlex.quote(secret)} > {shlex.quote(TOKEN_FILE)}")
        sh(t.vm, ctl(t, t.vm, "restart", AGENT), check=False)
        sh(t.server, shlex.join([CONSUL_BIN, "acl", "token", "delete", "-id", params["accessor"]]),
           check=False, token=bootstrap_token(t.lab))  # fmt: skip


class SessionReaped(Fault):
    name = "session-reaped"
    plane = "control"
    summary = "a live host was reaped: its agent stalled past its session's TTL"
    finds = "ovlab consul kv LAB docker/network/v1.0/hosts/ (the host is gone); ps: state T"

    def inject(self, t: Target, rng: random.Random) -> dict[str, Any]:
        pid = int(sh(t.vm, ctl(t, t.vm, "pid", AGENT)).strip() or 0)
        if pid <= 0:
            raise FaultError(f"{t.lab}/{t.vm.node}: {AGENT} is not running")
        state = json.loads(sh(t.vm, f"cat {shlex.quote(AGENT_STATE)}", check=False) or "{}")
        sh(t.vm, f"kill -STOP {pid}")
        # What an expired TTL does, without waiting 2 x TTL for it: Consul invalidates the
        # session and, its behaviour being "delete", deletes the keys it held.
        if state.get("session"):
            _destroy_session(t, state["session"])
        return {"pid": pid, "session": state.get("session")}

    def describe(self, t: Target, params: dict[str, Any]) -> str:
        return (
            f"the overlay agent on {t.vm.node} (pid {params['pid']}) was frozen (SIGSTOP) "
            "longer than its session's TTL: Consul invalidated the session and deleted the "
            "host key and endpoints it held, though the VM and its containers still run, so "
            "every other VM removed their FDB and neighbour entries"
        )

    def fix(self, t: Target, params: dict[str, Any]) -> list[str]:
        # Woken, the agent finds its session gone, makes a new one and republishes.
        return [vm_cmd(t, "kill", "-CONT", str(params["pid"]))]

    def finding_commands(self, t: Target) -> list[str]:
        return [
            f"ovlab consul kv {t.lab} docker/network/v1.0/hosts/",
            vm_cmd(t, "ps", "-o", "pid,stat,args", "-C", "python3"),
        ]


def _destroy_session(t: Target, session: str) -> None:
    import urllib.request

    from toolkit.host.ns import inside

    req = urllib.request.Request(
        f"http://127.0.0.1:8500/v1/session/destroy/{session}",
        method="PUT",
        headers={"X-Consul-Token": bootstrap_token(t.lab)},
    )
    with inside(t.server.netns_path), urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        resp.read()


FAULTS: tuple[Fault, ...] = (AgentDead(), GossipKey(), TokenNoKv(), SessionReaped())
