"""The recorder as a background process of a lab (``ovlab lab up --record``).

It runs ``python -m toolkit.watch.daemon LAB DIR ovlab:LAB:recorder``: the last
argument is the lab's process tag, so ``lab down`` finds it with the lab's other
processes (toolkit.lab.cleanup.tagged_pids) and stops it with SIGTERM, on which it
writes its last line and fsyncs. Its own messages go to DIR/recorder.log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from toolkit.errors import OvlabError, UsageError

LOG = "recorder.log"


def spawn(lab: str, directory: str) -> int:
    """Start a detached recorder of ``lab`` into ``directory``; its pid.

    Raises UsageError when the directory cannot be made.
    """
    directory = os.path.abspath(directory)
    try:
        os.makedirs(directory, exist_ok=True)
        log = open(os.path.join(directory, LOG), "ab")  # noqa: SIM115 (handed to the child)
    except OSError as exc:
        raise UsageError(f"cannot record into {directory}: {exc.strerror}") from None
    with log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "toolkit.watch.daemon", lab, directory, f"ovlab:{lab}:recorder"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the command that started it
        )
    return proc.pid


def main(argv: list[str]) -> int:
    """Record until stopped or the lab goes; 0, or 4 with one line on stderr."""
    from toolkit.watch.journal import Writer
    from toolkit.watch.lab import LabWatch
    from toolkit.watch.recorder import record

    lab, directory = argv[0], argv[1]
    try:
        w = LabWatch(lab)
        w.start()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_a: w.stop())
        writer = Writer(directory, lab)
        last = record(w, writer)
    except OvlabError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 4
    sys.stderr.write(f"recorded {writer.written} events; {last.get('op', 'stopped')}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
