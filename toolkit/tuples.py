"""``NamedTuple`` without importing ``typing``, for records on start-up-timed paths.

Importing typing (it brings re and enum) costs ~41M instructions, more than the
interpreter's own start (~39M, callgrind), and ``ovlab netns fdb|neigh`` would need
nothing else from it. Modules declare ``TYPE_CHECKING = False`` and import
``typing.NamedTuple`` under it, this one otherwise: mypy sees the real thing, and at
run time ``class X(NamedTuple)`` makes the class typing.NamedTuple makes (a
collections.namedtuple with the annotated fields in order, their defaults, and the
class body's methods, properties and docstring). Annotations are kept as typing keeps
postponed ones, as forward references (``__forward_arg__`` holds the text).
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# typing.NamedTupleMeta's own rules: these names are not copied from the class body.
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})


class _Ref:
    """What typing.ForwardRef is to annotation text, reduced to the attribute readers use."""

    __slots__ = ("__forward_arg__",)

    def __init__(self, text: str) -> None:
        self.__forward_arg__ = text

    def __repr__(self) -> str:
        return f"ForwardRef({self.__forward_arg__!r})"


class _Meta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        if not bases:  # NamedTuple itself
            return super().__new__(mcs, name, bases, ns)
        types = ns.get("__annotations__", {})
        fields = list(types)
        defaults = [ns[f] for f in fields if f in ns]
        cls = namedtuple(name, fields, defaults=defaults, module=ns["__module__"])  # type: ignore[misc]  # noqa: PYI024
        cls.__annotations__ = cls.__new__.__annotations__ = {
            f: _Ref(t) if isinstance(t, str) else t for f, t in types.items()
        }
        for key, value in ns.items():
            if key not in _SPECIAL and key not in fields:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_Meta):
    """Base of a record class (see the module's docstring)."""
