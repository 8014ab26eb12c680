"""``docker:NAME`` inspection targets: a Docker network's overlay namespace, or a
container's network namespace, on any dockerd running here.

Forms: ``docker:NETWORK`` and ``docker:CONTAINER`` (a name or id prefix), and
``docker:HOST/NAME`` where HOST is the daemon's Name (its hostname, ``docker info``) when
several daemons know the name. Networks win over containers, as ``docker network`` and
``docker`` keep separate name spaces.
"""

from __future__ import annotations

from toolkit.docker import discover
from toolkit.docker.discover import DockerHost
from toolkit.errors import NotFound, OvlabError, UsageError
from toolkit.host import paths
from toolkit.netns.target import NsTarget

PREFIX = "docker:"


def _network(h: DockerHost, name: str) -> str | None:
    """The overlay namespace of network ``name`` on host ``h`` (None if not pinned there)."""
    try:
        net = h.api.network(name)
    except OvlabError:
        return None
    if net.get("Driver") != "overlay":
        return None
    return h.overlay_namespaces().get(f"1-{str(net['Id'])[:10]}")


def _container(h: DockerHost, name: str) -> str | None:
    try:
        pid = int(h.api.inspect(name)["State"]["Pid"])
    except (OvlabError, KeyError, TypeError, ValueError):
        return None
    return paths.proc_ns(pid, "net") if pid else None


def resolve(spec: str) -> NsTarget:
    """The namespace a ``docker:…`` TARGET names (NotFound / UsageError, one line)."""
    rest = spec[len(PREFIX) :]
    host_name, _, name = rest.rpartition("/")
    if not name:
        raise UsageError(f"bad TARGET {spec!r}", hint="write docker:NETWORK or docker:CONTAINER")
    hosts = []
    for sock in discover.default_hosts():
        try:
            hosts.append(discover.find(sock))
        except OvlabError:
            continue  # a daemon starting or stopping: the others still answer
    if host_name:
        hosts = [h for h in hosts if h.name == host_name]
        if not hosts:
            raise NotFound(f"no Docker daemon named {host_name!r} runs here")
    hits: list[tuple[str, str]] = []
    for h in hosts:
        path = _network(h, name) or _container(h, name)
        if path:
            hits.append((h.name, path))
    if not hits:
        raise NotFound(
            f"no overlay network or container {name!r} on " + ", ".join(h.name for h in hosts),
            hint="an overlay network has a namespace only where a container joined it",
        )
    if len(hits) > 1:
        raise UsageError(
            f"{spec!r} is on several Docker hosts",
            hint="name one: " + ", ".join(f"docker:{n}/{name}" for n, _p in hits),
        )
    return NsTarget(spec, hits[0][1])
