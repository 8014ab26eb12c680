"""Host primitives: namespaces, mounts, /proc and well-known paths.

This layer imports nothing from the toolkit except :mod:`toolkit.errors`, so every
other package may use it and it can be tested without a lab.

- ``paths``: every well-known path (netns dirs, agent socket, state root, /proc/<pid>/…).
- ``ns``: setns/unshare, ``inside(path, kind)`` (in and back, this thread), ``join``.
- ``procs``: the one /proc scanner (liveness, start time, namespaces, command lines).
- ``mounts``: mount/umount/bind and a process's mount table.
- ``ifaces``: interfaces by ioctl (MTU, MAC, IPv4, hardware type, up).
- ``netlink``: pyroute2 bound to a namespace; NetlinkError becomes KernelRefused.

None imports pyroute2 at import time; ``paths``, ``ns``, ``procs``, ``mounts`` and
``ifaces`` not even typing or dataclasses, since a lab VM's init loads them.
"""
