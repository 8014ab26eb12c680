"""Every well-known path ovlab reads or writes, in one place.

Paths here are as seen from inside the machine that owns them (a lab VM, a real
VM, a Docker host). To reach one of a lab VM's paths from the lab's host, prefix
it with that VM's ``/proc/<pid>/root`` (see :func:`in_root`).
"""

from __future__ import annotations

import os

# iproute2's named network namespaces (`ip netns add`): lib/namespace.h NETNS_RUN_DIR.
NAMED_NETNS_DIR = "/run/netns"
# Where libnetwork pins sandboxes and overlay namespaces (osl/namespace_linux.go,
# the daemon's default exec-root /var/run/docker plus "netns").
DOCKER_NETNS_DIR = "/run/docker/netns"
# The overlay agent's local API socket (toolkit/overlay/api.py), under the VM's /run.
AGENT_SOCKET = "/run/ovlab/agent.sock"
# The overlay agent's own files on a VM: containers, the agent's state file.
AGENT_STATE_DIR = "/var/lib/ovlab"
# supervisord's control socket inside a lab VM (playbooks/roles/*/templates).
SUPERVISOR_SOCKET = "/run/supervisor/supervisor.sock"
SUPERVISOR_LOG = "/var/log/supervisor/supervisord.log"
# Where provisioning installs Consul in a lab VM (playbooks/roles/consul/defaults).
CONSUL_BIN = "/var/lib/consul/bin/consul"
# Lab state on the controller: /run is a tmpfs, so lab state vanishes with a reboot,
# exactly like the namespaces it names.
DEFAULT_STATE_ROOT = "/run/ovlab"


def state_root() -> str:
    """Directory holding every lab's state; ``OVLAB_STATE_ROOT`` overrides it."""
    return os.environ.get("OVLAB_STATE_ROOT", DEFAULT_STATE_ROOT)


def labs_root() -> str:
    """Directory of every lab's own directory (``<state root>/labs``; toolkit.lab.state)."""
    return os.path.join(state_root(), "labs")


def proc(pid: int | str, name: str = "") -> str:
    """``/proc/<pid>/<name>``: one file of a process (``stat``, ``cmdline``, …; proc(5)).

    ``pid`` may be ``"self"`` or ``"thread-self"``; no name gives the directory.
    """
    return f"/proc/{pid}/{name}" if name else f"/proc/{pid}"


def proc_ns(pid: int | str, kind: str = "net") -> str:
    """``/proc/<pid>/ns/<kind>``: a process's namespace of one kind (proc(5))."""
    return f"/proc/{pid}/ns/{kind}"


def proc_root(pid: int | str) -> str:
    """``/proc/<pid>/root``: the process's view of the file system (proc(5))."""
    return f"/proc/{pid}/root"


def in_root(pid: int | str, path: str) -> str:
    """``path`` as the process ``pid`` sees it, reached from here through its root."""
    return f"/proc/{pid}/root{path}"
