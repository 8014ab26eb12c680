"""How ovlab reaches the machine a lab VM runs on: this one, or a lab host over SSH.

One layer for every command: a multi-host lab's VM is reached by running the *host's*
own ovlab there (the same code as on one machine) through :class:`Ssh`; a one-machine
lab's VM through :class:`Local`. Commands never build ssh command lines themselves.
"""

from __future__ import annotations

from toolkit.transport.base import Local, Ssh, Transport, for_host

__all__ = ["Local", "Ssh", "Transport", "for_host"]
