"""Reading ovlab's ``--json`` output in tests: the envelope checked, the data returned.

Every JSON document ovlab prints is ``{"ovlab": 1, "kind": KIND, "data": DATA}``
(README "JSON output"; toolkit.cli.common.emit_json). Tests assert on DATA as they
did before the envelope; this is the one place that knows the wrapping.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1


def data(stdout: str, kind: str) -> Any:
    """DATA of one envelope printed on ``stdout``, after checking its version and kind."""
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and set(doc) == {"ovlab", "kind", "data"}, stdout[:300]
    assert doc["ovlab"] == VERSION, doc["ovlab"]
    assert doc["kind"] == kind, (doc["kind"], kind)
    return doc["data"]
