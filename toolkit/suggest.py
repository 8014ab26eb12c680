"""Close-match suggestions for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return a 'did you mean …?' hint for the closest known names, or None."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=3, cutoff=0.5)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
