"""Loading YAML input files line-precisely: the file as UTF-8 text, its one document
composed into nodes that keep their marks, and the one-line error that names the place.

Every complaint is one ``UsageError`` of the form ``FILE:LINE: field.path: problem``
with an optional hint (:func:`fail`). PyYAML's compose API is used instead of
``safe_load`` because composed nodes keep their line numbers and keep duplicate keys,
which ``safe_load`` silently collapses to the last one (PyYAML issue #165); checking
the nodes against what a file type expects is ``toolkit.yamlcheck``'s job.

Refused here, whatever the file is for: text that is not UTF-8, control characters,
tabs where YAML forbids them, more than one document, any other syntax error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from toolkit.errors import UsageError

T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (T + t for t in ("str", "int", "float", "bool", "null"))
TIMESTAMP, MERGE, SEQ, MAP = (T + t for t in ("timestamp", "merge", "seq", "map"))
_KIND = {
    STR: "a string",
    INT: "an integer",
    FLOAT: "a number",
    BOOL: "a boolean",
    NULL: "nothing",
    TIMESTAMP: "a date",
}
# Tags a plain YAML file resolves to on its own; anything else was written on purpose
# (`!vault`, `!!binary`, `!!set`, `!!python/...`) and means something we do not read.
PLAIN_TAGS = frozenset((STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, SEQ, MAP))

# libyaml composes about 20x faster than the pure-Python parser (`ovlab walk` starts on it);
# errors are worded by the pure-Python one, whose messages the golden files hold.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def kind(node: YamlNode) -> str:
    """How a YAML node reads to a user: 'a list', 'an integer', 'a value tagged !vault'."""
    if isinstance(node, MappingNode) and node.tag == MAP:
        return "a mapping"
    if isinstance(node, SequenceNode) and node.tag == SEQ:
        return "a list"
    return _KIND.get(node.tag, f"a value tagged {short_tag(node.tag)}")


def short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:binary' -> '!!binary', as the user wrote it."""
    return "!!" + tag.removeprefix(T) if tag.startswith(T) else tag


def line(node: YamlNode) -> int:
    """1-based line where a node starts."""
    return int(node.start_mark.line) + 1


def join(path: str, key: str) -> str:
    """'a.b' + 'c' -> 'a.b.c'; '' + 'c' -> 'c'."""
    return f"{path}.{key}" if path else key


def is_null(node: YamlNode) -> bool:
    """True for 'key:' with nothing after it (or ~ / null)."""
    return isinstance(node, ScalarNode) and node.tag == NULL


def read_text(
    path: str | os.PathLike[str],
    what: str,
    missing_hint: str,
    dir_hint: str | None = None,
) -> str:
    """A file's text as UTF-8 (a byte-order mark tolerated), or a one-line UsageError.

    ``what`` names the file in messages ('cannot read topology: …'); the hints say
    what to do when it is missing or a directory.
    """
    label = os.fspath(path)
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        hint = missing_hint
        if isinstance(exc, IsADirectoryError) and dir_hint:
            hint = dir_hint
        elif isinstance(exc, PermissionError):
            hint = "make the file readable, or run as a user who can read it"
        raise UsageError(f"{label}: cannot read {what}: {reason}", hint=hint) from None
    try:
        return data.decode("utf-8-sig")  # -sig: a byte-order mark from Windows editors
    except UnicodeDecodeError as exc:
        at = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{label}:{at}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


def fail(
    source: str, at: YamlNode | int | None, path: str, problem: str, hint: str | None = None
) -> NoReturn:
    """Raise the one-line error: 'SOURCE[:LINE]: [PATH: ]PROBLEM'.

    ``source``: the file name as the user gave it; ``at``: a node (its first line) or a
    1-based line number, None when no line applies; ``path``: the field, e.g. ``nodes.vm1``.
    """
    where = source
    if at is not None:
        where += f":{at if isinstance(at, int) else line(at)}"
    raise UsageError(f"{where}: {path}: {problem}" if path else f"{where}: {problem}", hint)


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str, str | None]:
    """Line, problem and hint of a PyYAML parse error, on one line."""
    mark = exc.problem_mark or exc.context_mark
    at = int(mark.line) + 1 if mark is not None else None
    problem = " ".join(str(exc.problem or "syntax error").split())
    context = " ".join(str(exc.context or "").split())
    if context and problem.startswith("but "):
        # The composer splits "expected X ... but found Y" across the two fields.
        problem = f"{context} {problem}"
    elif context and exc.context_mark is not None:
        problem += f" ({context} at line {int(exc.context_mark.line) + 1})"
    hint = None
    if "'\\t'" in problem:
        hint = "indent with spaces; YAML does not allow tabs there"
    elif "unknown escape character" in problem:
        hint = "YAML reads backslashes in double quotes; single quotes keep them: '\\d+'"
    return at, "invalid YAML: " + problem, hint


def compose(text: str, source: str) -> YamlNode | None:
    """The single document of ``text`` (None when empty); a syntax error fails (:func:`fail`).

    libyaml composes first; only a text it refuses is composed again by the pure-Python
    parser, whose wording of the problem the error messages (and golden files) hold.
    """
    # Characters PyYAML's reader refuses go straight to it, so both paths accept the same.
    if _FAST_LOADER is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, RecursionError):
            pass  # composed again below, for PyYAML's wording of the problem
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        at, problem, hint = _syntax_error(exc)
        fail(source, at, "", problem, hint)
    except yaml.reader.ReaderError as exc:
        fail(
            source,
            text[: exc.position].count("\n") + 1,
            "",
            f"invalid YAML: character #x{exc.character:04x} is not allowed",
            "remove control characters from the file",
        )
    except yaml.YAMLError as exc:  # any other parser failure still gets one line
        fail(source, None, "", "invalid YAML: " + " ".join(str(exc).split()))
    except RecursionError:
        fail(source, None, "", "invalid YAML: nested too deeply")
