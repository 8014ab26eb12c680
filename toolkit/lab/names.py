"""Lab, node and group names, and the kernel object names derived from them.

Lab and node names end up inside namespace names, interface names, hostnames
and state directories, so they are checked here once, with a reason a user can act on.
"""

from __future__ import annotations

import re
import zlib

from toolkit.errors import UsageError

LAB_NAME_MAX = 20
NODE_NAME_MAX = 32
IFNAMSIZ = 15  # usable characters: the kernel's IFNAMSIZ is 16 including the NUL
NETNS_PREFIX = "ovlab-"

_LAB_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_NODE_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
_GROUP_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_IFNAME_SAFE = re.compile(r"^[a-z0-9-]*$")
_HASH_LEN = 6

# Ansible makes these groups itself; listing them in a topology means nothing.
_RESERVED_GROUPS = {"all", "ungrouped"}


def _label_problem(name: str, what: str, maximum: int) -> str | None:
    """Why ``name`` is not a lowercase DNS-style label, or None when it is one."""
    if not name:
        return f"{what} is empty"
    if len(name) > maximum:
        return f"{what} {name!r} is too long ({len(name)} characters, at most {maximum})"
    if not "a" <= name[0] <= "z":
        return f"{what} {name!r} must start with a lowercase letter"
    for ch in name:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "-"):
            return (
                f"{what} {name!r} contains {ch!r}"
                " (only lowercase letters, digits and '-' are allowed)"
            )
    if name.endswith("-"):
        return f"{what} {name!r} must not end with '-'"
    return None


def _valid_label(name: str, what: str, maximum: int, pattern: re.Pattern[str], hint: str) -> str:
    """``name`` if it is a label of at most ``maximum`` characters matching ``pattern``;
    else UsageError with the first problem found and ``hint``."""
    problem = _label_problem(name, what, maximum)
    if problem is None and pattern.match(name):
        return name
    raise UsageError(problem or f"{what} {name!r} is invalid", hint=hint)


def validate_lab_name(name: str) -> str:
    """Return ``name`` if it is a valid lab name, else raise UsageError saying why."""
    return _valid_label(
        name,
        "lab name",
        LAB_NAME_MAX,
        _LAB_RE,
        "a lab name is 1-20 lowercase letters, digits or '-', starts with a letter and"
        " does not end with '-' (it becomes part of namespace names and state directories)",
    )


def validate_node_name(name: str) -> str:
    """Return ``name`` if it is a valid node (hostname label) name, else raise UsageError."""
    return _valid_label(
        name,
        "node name",
        NODE_NAME_MAX,
        _NODE_RE,
        "a node name is a hostname label: 1-32 lowercase letters, digits or '-',"
        " starting with a letter and not ending with '-'",
    )


def validate_group_name(name: str) -> str:
    """Return ``name`` if it is a usable Ansible group name, else raise UsageError."""
    if name in _RESERVED_GROUPS:
        raise UsageError(
            f"group {name!r} is implicit in Ansible",
            hint="every host is already in 'all'; 'ungrouped' holds hosts with no group",
        )
    if _GROUP_RE.match(name):
        return name
    raise UsageError(
        f"group name {name!r} is invalid",
        hint="Ansible group names use lowercase letters, digits and '_' (no '-')"
        " and do not start with a digit",
    )


def ifname(prefix: str, name: str) -> str:
    """Interface name ``prefix + name`` if it fits in 15 characters, else a hashed short form.

    The short form keeps as much of ``name`` as fits and ends with 6 hex digits
    of its CRC-32, so it stays stable across runs and readable in ``ip link``.
    """
    room = IFNAMSIZ - len(prefix)
    if not prefix or not _IFNAME_SAFE.match(prefix) or room < _HASH_LEN + 1:
        # A programming error, not user input: prefixes are constants in the toolkit.
        raise ValueError(f"interface prefix {prefix!r} must be 1-8 of [a-z0-9-]")
    if name and len(name) <= room and _IFNAME_SAFE.match(name):
        return prefix + name
    digest = f"{zlib.crc32(name.encode()) & 0xFFFFFF:0{_HASH_LEN}x}"
    head = re.sub(r"[^a-z0-9-]", "", name.lower())[: room - _HASH_LEN].rstrip("-")
    return prefix + head + digest


def netns_name(lab: str, role: str) -> str:
    """Name of a lab's network namespace for ``role``: ``ovlab-<lab>-<role>``.

    Lab names may contain '-', so lab "a" role "b-ul" and lab "a-b" role "ul" would
    collide: keep roles to a fixed set of words (e.g. "ul"), never node names.
    """
    validate_lab_name(lab)
    if not _NODE_RE.match(role):
        # A programming error: roles are constants in the toolkit.
        raise ValueError(f"namespace role {role!r} must be a lowercase label")
    return f"{NETNS_PREFIX}{lab}-{role}"
