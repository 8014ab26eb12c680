"""Ansible stdout callback that writes one JSON object per event, for ``ovlab provision``.

The ovlab CLI reads these lines to draw per-host progress and to name the
host and task of a failure, instead of scraping Ansible's human output.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: ovlab_events
    type: stdout
    short_description: JSON lines for the ovlab CLI
    description:
      - Writes one JSON object per playbook event to the file descriptor in
        OVLAB_EVENTS_FD (stdout when unset).
"""


class CallbackModule(CallbackBase):
    """Emit playbook events as JSON lines."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "ovlab_events"

    def __init__(self) -> None:
        super().__init__()
        fd = os.environ.get("OVLAB_EVENTS_FD")
        self._out = os.fdopen(int(fd), "w", buffering=1) if fd else sys.stdout

    def _emit(self, event: str, **fields: Any) -> None:
        self._out.write(json.dumps({"event": event, **fields}, default=str) + "\n")

    def _result(self, event: str, result: Any) -> None:
        res = result._result
        if event in ("failed", "unreachable") and self._out is not sys.stdout:
            # The human log (stdout, a file) gets the whole result: the event line keeps
            # only its last line, and "see the full log" must then have something to show.
            sys.stdout.write(
                f"{event.upper()}: {result._host.get_name()} | {result._task.get_name()}\n"
                + json.dumps(self._clean(res), indent=2, default=str, sort_keys=True)
                + "\n"
            )
            sys.stdout.flush()
        msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
        if not msg and res.get("results"):  # loops: the first failed item speaks
            failed = [r for r in res["results"] if r.get("failed")]
            msg = (failed[0].get("msg") or failed[0].get("stderr") or "") if failed else ""
        self._emit(
            event,
            host=result._host.get_name(),
            task=result._task.get_name(),
            changed=bool(res.get("changed")),
            msg=str(msg).strip().splitlines()[-1] if str(msg).strip() else "",
        )

    @staticmethod
    def _clean(res: dict[str, Any]) -> dict[str, Any]:
        """The result without Ansible's internal keys and never a secret the task hid."""
        if res.get("_ansible_no_log"):
            return {"msg": "the output was hidden since 'no_log: true' was set for this result"}
        return {k: v for k, v in res.items() if not k.startswith("_ansible")}

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._emit(
            "play", name=play.get_name(), hosts=[h for h in play.hosts] if play.hosts else []
        )

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._emit("task", name=task.get_name())

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._emit("task", name=task.get_name(), handler=True)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result("ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result("unreachable", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result("skipped", result)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        self._emit("recap", hosts=recap)
