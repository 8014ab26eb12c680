"""Line-precise checking of YAML input files (topologies, walkthroughs) against what
each file type expects: fixed key sets, strict scalar types, ranges, choices.

Subclasses (``toolkit.lab.topology``, ``toolkit.walk.model``) read a composed document
node by node through a ``Checker``; ``toolkit.yamlload`` reads the file, composes it
and words the one-line ``FILE:LINE: field.path: problem`` error every complaint is.

What the checker refuses whatever the file is for: duplicate keys (naming both
lines), merge keys (``<<``), keys that are not strings, YAML tags other than the
plain ones (``!vault``, ``!!binary``, ``!!set``). The typed readers are strict
where Python's truthiness is not: the strings ``"no"``/``"false"`` are not
booleans, ``true`` is not a number, a boolean is not an integer.
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from toolkit import yamlload
from toolkit.suggest import did_you_mean
from toolkit.yamlload import (
    BOOL,
    FLOAT,
    INT,
    MERGE,
    NULL,
    PLAIN_TAGS,
    STR,
    TIMESTAMP,
    is_null,
    join,
    kind,
    line,
    short_tag,
)

# Strings an author typed as booleans; YAML reads the quoted ones as text.
_TRUE_WORDS = frozenset(("true", "yes", "on", "y"))
_FALSE_WORDS = frozenset(("false", "no", "off", "n"))
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BUDGET = 100_000  # nodes visited after alias expansion; stops a "billion laughs" file

_SCALARS = SafeConstructor()

Pairs = list[tuple[str, YamlNode, YamlNode]]
Fields = dict[str, tuple[YamlNode, YamlNode]]


class Checker:
    """Typed, line-precise reading of one composed YAML document.

    ``source`` is the file name as the user gave it; every ``fail`` starts with it.
    Paths name fields the way the file nests them: ``nodes.vm1.eth1``, ``steps[2].run[1]``.
    """

    def __init__(
        self,
        source: str,
        *,
        key_hints: dict[str, str] | None = None,
        missing_hints: dict[str, str] | None = None,
        budget: int = BUDGET,
    ) -> None:
        self.source = source
        self.key_hints = key_hints or {}  # unknown key -> what to write instead
        self.missing_hints = missing_hints or {}  # missing key (full path or key) -> hint
        self.budget = budget

    def fail(
        self, at: YamlNode | int | None, path: str, problem: str, hint: str | None = None
    ) -> NoReturn:
        """Raise the one-line error: 'SOURCE[:LINE]: [PATH: ]PROBLEM' (``yamlload.fail``)."""
        yamlload.fail(self.source, at, path, problem, hint)

    def _spend(self, node: YamlNode, path: str) -> None:
        self.budget -= 1
        if self.budget < 0:
            self.fail(node, path, "too large after expanding aliases")

    def _plain_tag(
        self, node: YamlNode, path: str, hint: str | None = "remove the tag; plain values only"
    ) -> None:
        if node.tag not in PLAIN_TAGS:
            self.fail(node, path, f"unsupported YAML tag {short_tag(node.tag)}", hint)

    # -- the document ---------------------------------------------------------

    def compose(self, text: str) -> YamlNode | None:
        """The single document of ``text`` (None when empty); syntax errors fail."""
        return yamlload.compose(text, self.source)

    def document(self, text: str, empty_hint: str, shape_hint: str) -> MappingNode:
        """The top-level mapping of ``text``; an empty file or another shape fails."""
        root = self.compose(text)
        if root is None:
            self.fail(None, "", "file is empty", empty_hint)
        if not isinstance(root, MappingNode):
            self.fail(root, "top level", f"expected a mapping, got {kind(root)}", shape_hint)
        return root

    # -- structure ------------------------------------------------------------

    def pairs(
        self,
        node: YamlNode,
        path: str,
        duplicate: str = "key",
        type_hint: str | None = None,
    ) -> Pairs:
        """Key, key node and value node of a mapping, in file order; null reads as empty.

        Fails on: another shape, a tag such as !!set, merge keys, keys that are not
        strings, and duplicate keys (naming the line of the first).
        """
        if is_null(node):
            return []  # 'key:' with nothing after it reads as an empty mapping
        self._plain_tag(node, path or "top level")
        if not isinstance(node, MappingNode):
            self.fail(node, path or "top level", f"expected a mapping, got {kind(node)}", type_hint)
        out: Pairs = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            self._spend(key_node, path)
            if isinstance(key_node, ScalarNode) and key_node.tag == MERGE:
                self.fail(
                    key_node,
                    join(path, "<<"),
                    "merge keys are not supported",
                    "write the keys out in full",
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != STR:
                self.fail(
                    key_node,
                    path or "top level",
                    f"keys must be strings, got {kind(key_node)}",
                    "quote the key" if isinstance(key_node, ScalarNode) else None,
                )
            key = str(key_node.value)
            if key in seen:
                self.fail(
                    key_node,
                    join(path, key),
                    f"duplicate {duplicate} (first defined on line {seen[key]})",
                    "YAML keeps only the last one; remove or rename one of them",
                )
            seen[key] = line(key_node)
            out.append((key, key_node, value_node))
        return out

    def fields(
        self,
        node: YamlNode,
        path: str,
        known: tuple[str, ...],
        required: tuple[str, ...] = (),
        at: int | None = None,
        type_hint: str | None = None,
    ) -> Fields:
        """A mapping with a fixed key set, in file order: unknown keys and missing ones fail.

        An unknown key's hint is ``self.key_hints[key]``, else a did-you-mean, else the
        known keys. A missing key is reported at line ``at`` (default: the mapping's first
        line) with ``self.missing_hints`` looked up by full path, then by key.
        """
        found: Fields = {}
        for key, key_node, value_node in self.pairs(node, path, type_hint=type_hint):
            if key not in known:
                hint = (
                    self.key_hints.get(key)
                    or did_you_mean(key, known)
                    or "known keys: " + ", ".join(known)
                )
                self.fail(key_node, join(path, key), "unknown key", hint)
            found[key] = (key_node, value_node)
        for key in required:
            if key not in found:
                full = join(path, key)
                self.fail(
                    at if at is not None else line(node),
                    full,
                    "missing required key",
                    self.missing_hints.get(full) or self.missing_hints.get(key),
                )
        return found

    def items(
        self, node: YamlNode, path: str, type_hint: str | None = None, first: int = 0
    ) -> list[tuple[str, YamlNode]]:
        """Path and node of each list item (``path[first]``, …); null reads as empty."""
        if is_null(node):
            return []
        self._plain_tag(node, path)
        if not isinstance(node, SequenceNode):
            self.fail(node, path, f"expected a list, got {kind(node)}", type_hint)
        out: list[tuple[str, YamlNode]] = []
        for i, item in enumerate(node.value, start=first):
            self._spend(item, path)
            out.append((f"{path}[{i}]", item))
        return out

    # -- scalars --------------------------------------------------------------

    def string(self, node: YamlNode, path: str, *, nonempty: bool = False) -> str:
        """Text the user meant as text; '2024' or 'yes' unquoted are type errors."""
        self._plain_tag(node, path)
        if isinstance(node, ScalarNode) and node.tag == STR:
            text = str(node.value)
            if nonempty and not text.strip():
                self.fail(node, path, "must not be empty")
            return text
        quotable = isinstance(node, ScalarNode) and node.tag != NULL and node.value
        hint = f'quote it: "{node.value}"' if quotable else None
        self.fail(node, path, f"expected a string, got {kind(node)}", hint)

    def boolean(self, node: YamlNode, path: str) -> bool:
        """true or false (YAML's yes/no/on/off too); the *string* "no" is not a boolean."""
        self._plain_tag(node, path)
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(_SCALARS.construct_yaml_bool(node))
        hint = "write true or false"
        if isinstance(node, ScalarNode) and node.tag == STR:
            word = str(node.value).strip().lower()
            if word in _TRUE_WORDS or word in _FALSE_WORDS:
                meant = "true" if word in _TRUE_WORDS else "false"
                hint = f"write {meant} without quotes; quoted, it is text"
            what = f"the string {str(node.value)!r}"
        else:
            what = kind(node)
        self.fail(node, path, f"expected a boolean, got {what}", hint)

    def integer(
        self,
        node: YamlNode,
        path: str,
        lo: int | None = None,
        hi: int | None = None,
        hint: str | None = None,
    ) -> int:
        """A whole number in ``lo..hi``; booleans, floats and quoted digits fail.

        ``hint`` (e.g. 'write the exit code, e.g. exit: 1') goes with a wrong type.
        """
        self._plain_tag(node, path)
        if not (isinstance(node, ScalarNode) and node.tag == INT):
            if isinstance(node, ScalarNode) and node.tag == STR and _is_int(str(node.value)):
                hint = f"write {str(node.value).strip()} without quotes"
            self.fail(node, path, f"expected an integer, got {kind(node)}", hint)
        value = int(_SCALARS.construct_yaml_int(node))
        self._range(node, path, value, lo, hi, hint)
        return value

    def number(
        self,
        node: YamlNode,
        path: str,
        *,
        positive: bool = False,
        unit: str = "",
        lo: float | None = None,
        hi: float | None = None,
        hint: str | None = None,
    ) -> float:
        """A finite integer or decimal number; ``true`` and quoted numbers fail.

        ``unit`` (e.g. 'seconds') only words the messages; ``hint`` goes with any failure.
        """
        self._plain_tag(node, path)
        what = f"a number of {unit}" if unit else "a number"
        if not (isinstance(node, ScalarNode) and node.tag in (INT, FLOAT)):
            if isinstance(node, ScalarNode) and node.tag == STR:
                match = re.match(r"^([0-9.]+)\s*([a-z]*)$", str(node.value).strip())
                if match and _is_float(match[1]):
                    bare = "without the unit" if match[2] else "without quotes"
                    hint = f"write {match[1]} {bare}" + (f" ({unit})" if unit else "")
            self.fail(node, path, f"expected {what}, got {kind(node)}", hint)
        constructor = (
            _SCALARS.construct_yaml_int if node.tag == INT else _SCALARS.construct_yaml_float
        )
        value = float(constructor(node))
        if not math.isfinite(value):
            self.fail(node, path, f"{node.value} is not {what}", hint)
        if positive and value <= 0:
            self.fail(
                node,
                path,
                f"{node.value} is not a positive number" + (f" of {unit}" if unit else ""),
                hint,
            )
        self._range(node, path, value, lo, hi, hint)
        return value

    def choice(self, node: YamlNode, path: str, choices: tuple[str, ...]) -> str:
        """One of ``choices`` (exact spelling); otherwise a did-you-mean."""
        value = self.string(node, path)
        if value not in choices:
            hint = did_you_mean(value, choices) or "one of: " + ", ".join(choices)
            self.fail(node, path, f"unknown value {value!r}", hint)
        return value

    def regex(self, node: YamlNode, path: str, flags: int = 0) -> str:
        """A string that compiles as a Python regular expression."""
        pattern = self.string(node, path)
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            self.fail(
                node,
                path,
                f"bad regular expression: {exc.msg}{where}",
                "in YAML, single quotes keep backslashes as they are: '\\d+'",
            )
        return pattern

    def identifier(self, node: YamlNode, path: str, text: str, what: str) -> str:
        """``text`` if it is a name of letters, digits and '_' not starting with a digit."""
        if not _IDENT_RE.match(text):
            self.fail(
                node,
                path,
                f"not a valid {what}",
                "use letters, digits and '_', not starting with a digit",
            )
        return text

    def plain(self, node: YamlNode, path: str, hint: str | None = None) -> Any:
        """Any plain value as JSON-ready Python data (dates stay text; other tags fail)."""
        return self._plain(node, path, hint, set())

    def _plain(self, node: YamlNode, path: str, hint: str | None, active: set[int]) -> Any:
        self._spend(node, path)
        if id(node) in active:
            self.fail(node, path, "recursive alias")
        if node.tag not in PLAIN_TAGS:  # !!set, !!omap, !!binary, !vault, custom tags
            self.fail(node, path, f"unsupported YAML tag {short_tag(node.tag)}", hint)
        if isinstance(node, ScalarNode):
            if node.tag in (STR, TIMESTAMP):
                return str(node.value)  # Ansible would see a date as text anyway
            if node.tag == INT:
                return _SCALARS.construct_yaml_int(node)
            if node.tag == FLOAT:
                return _SCALARS.construct_yaml_float(node)
            if node.tag == BOOL:
                return _SCALARS.construct_yaml_bool(node)
            return None
        active = active | {id(node)}
        if isinstance(node, SequenceNode):
            return [
                self._plain(item, f"{path}[{i}]", hint, active) for i, item in enumerate(node.value)
            ]
        return {
            key: self._plain(value, join(path, key), hint, active)
            for key, _, value in self.pairs(node, path)
        }

    def _range(
        self,
        node: YamlNode,
        path: str,
        value: float,
        lo: float | None,
        hi: float | None,
        hint: str | None = None,
    ) -> None:
        text = str(node.value)
        if lo is not None and hi is not None and not lo <= value <= hi:
            self.fail(node, path, f"{text} is out of range {lo:g}..{hi:g}", hint)
        if lo is not None and value < lo:
            self.fail(node, path, f"{text} is below the minimum {lo:g}", hint)
        if hi is not None and value > hi:
            self.fail(node, path, f"{text} is above the maximum {hi:g}", hint)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*[-+]?[0-9]+\s*", text) is not None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
