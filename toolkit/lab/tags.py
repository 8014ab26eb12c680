"""The process tag: one argv word that marks ovlab's long-lived processes, built and parsed here.

Teardown and lookup find processes by this word in ``/proc/<pid>/cmdline``, with no
saved state (Mininet's ``mininet:<node>`` does the same). Three forms:

    ovlab:<lab>:<node>               a lab VM's init (lab/vm.py, lab/vminit.py)
    ovlab:<lab>:<host>/<container>   a container's init, started by a lab VM's agent
    ovlab-ctr:<host>/<container>     a container's init on a host outside any lab

Lab names hold no ``:`` and node names neither ``:`` nor ``/`` (lab/names.py), so each
part is found by splitting. A container's init carries its tag as one argument of
``python -S cinit.py …`` (overlay/containers.py lays that command line out).
"""

from __future__ import annotations

from dataclasses import dataclass

LAB_PREFIX = "ovlab:"
LONE_PREFIX = "ovlab-ctr:"  # a container whose agent runs with no --lab
_PREFIXES = (LAB_PREFIX.encode(), LONE_PREFIX.encode())


@dataclass(frozen=True)
class Tag:
    """A parsed tag: a VM's (``container`` None) or a container's (``node`` is its host)."""

    lab: str | None
    node: str
    container: str | None = None

    def __str__(self) -> str:
        where = f"{self.node}/{self.container}" if self.container is not None else self.node
        return f"{LAB_PREFIX}{self.lab}:{where}" if self.lab else f"{LONE_PREFIX}{where}"


def vm_tag(lab: str, node: str) -> str:
    """The tag every process of a lab VM's init carries: ``ovlab:<lab>:<node>``."""
    return str(Tag(lab, node))


def container_tag(lab: str | None, host: str, name: str) -> str:
    """A container init's tag: ``ovlab:<lab>:<host>/<name>``, or without a lab
    ``ovlab-ctr:<host>/<name>`` (no lab's teardown may take it)."""
    return str(Tag(lab or None, host, name))


def parse(word: str | bytes) -> Tag | None:
    """The tag in one argv word, or None when the word is not a well-formed tag."""
    if isinstance(word, bytes):
        word = word.decode(errors="replace")
    if word.startswith(LAB_PREFIX):
        lab, sep, where = word[len(LAB_PREFIX) :].partition(":")
        if not (sep and lab and where) or ":" in where:
            return None
    elif word.startswith(LONE_PREFIX):
        lab, where = "", word[len(LONE_PREFIX) :]
        if "/" not in where or ":" in where:
            return None
    else:
        return None
    node, slash, name = where.partition("/")
    if not node or (slash and not name):
        return None
    return Tag(lab or None, node, name if slash else None)


def in_cmdline(raw: bytes) -> Tag | None:
    """The first tag among the NUL-separated words of a ``/proc/<pid>/cmdline``.

    The tag comes before a container's own command, so a CMD that happens to hold
    a tag-like word cannot pass for it.
    """
    for word in raw.split(b"\0"):
        if word.startswith(_PREFIXES):
            tag = parse(word)
            if tag is not None:
                return tag
    return None
