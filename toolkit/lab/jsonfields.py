"""Read one JSON object into typed fields, naming the path of any field that is wrong.

The state records (``toolkit.lab.records``) are built with it, so a damaged or
hand-edited state file is refused in one line that says which field is wrong,
never with a KeyError or a TypeError from deep inside a reader.
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.errors import OvlabError

_MISSING = object()


class Fields:
    """A JSON object being read; ``where`` is its dotted path (``nodes.vm1``), for messages.

    Getters return the field, or the default when it is absent or null, and raise
    through ``fail`` (which must raise) when it is present with the wrong type.
    Fields no getter asks for are ignored: a newer writer may add some.
    """

    def __init__(self, raw: object, where: str, fail: Callable[[str], OvlabError]) -> None:
        self._fail = fail
        self.where = where
        if not isinstance(raw, dict):
            raise fail(f"{where or 'the file'} is {_kind(raw)}, not an object")
        self.raw: dict[str, object] = raw

    def fail(self, problem: str) -> OvlabError:
        """The error for a problem found in this object (the caller raises it)."""
        return self._fail(problem)

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, required: bool) -> object:
        value = self.raw.get(key)
        if value is None and required:
            raise self._fail(f"{self._path(key)} is missing")
        return value

    def _wrong(self, key: str, value: object, want: str) -> OvlabError:
        return self._fail(f"{self._path(key)} is {_kind(value)}, not {want}")

    def string(self, key: str, default: str | None = None) -> str:
        """A string field; required when ``default`` is None."""
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, str):
            raise self._wrong(key, value, "a string")
        return value

    def opt_string(self, key: str) -> str | None:
        """A string field that may be absent or null."""
        value = self._get(key, False)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, value, "a string")
        return value

    def integer(self, key: str) -> int:
        """A required integer field (JSON booleans are not integers here)."""
        value = self.opt_integer(key)
        if value is None:
            raise self._fail(f"{self._path(key)} is missing")
        return value

    def opt_integer(self, key: str) -> int | None:
        """An integer field that may be absent or null."""
        value = self._get(key, False)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._wrong(key, value, "an integer")
        return value

    def opt_number(self, key: str) -> float | None:
        """A number field that may be absent or null, as a float."""
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, value, "a number")
        return float(value)

    def obj(self, key: str) -> Fields | None:
        """A nested object, or None when absent or null."""
        value = self._get(key, False)
        return None if value is None else Fields(value, self._path(key), self._fail)

    def mapping(self, key: str) -> dict[str, object]:
        """A free-form object (e.g. Ansible variables), empty when absent."""
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._wrong(key, value, "an object")
        return value

    def strs(self, key: str) -> tuple[str, ...]:
        """A list of strings, empty when absent."""
        value = self._get(key, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, value, "a list of strings")
        return tuple(value)

    def objs(self, key: str) -> list[Fields]:
        """A list of objects, empty when absent."""
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, value, "a list")
        return [Fields(v, f"{self._path(key)}[{i}]", self._fail) for i, v in enumerate(value)]

    def items(self, key: str) -> list[tuple[str, Fields]]:
        """An object whose values are objects, as (key, fields) pairs in file order."""
        where = self._path(key)
        return [(k, Fields(v, f"{where}.{k}", self._fail)) for k, v in self.mapping(key).items()]


def _kind(value: object) -> str:
    """How a JSON value reads in a message: 'a string ('x')', 'null', 'a list', …."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "a list"
    return "an object"
