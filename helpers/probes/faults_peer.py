"""Another process that performs one action on request: the "someone else" of a fault.

A file truncated under a live mapping is dangerous because *another*
process does it while this one still holds the mapping.  :class:`Peer`
forks that other process before the mapping exists; it waits, blocked on a
pipe, for the word to act, runs its action, sends back ``"ok"`` or the
errno's name, and exits.  Every wait on either side is bounded, so a lost
peer is a ``TimeoutError`` naming the step, never a hang; the peer shares
the probe's process group, so the runner kills it with the probe.
"""

from __future__ import annotations

import json
import os
import select
from collections.abc import Callable
from typing import Any

from helpers.probes.faults_calls import attempt


def _wait_readable(fd: int, timeout: float, step: str) -> None:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise TimeoutError(f"peer: no answer within {timeout} s while {step}")


class Peer:
    """A forked process that runs ``action(*args)`` once, when :meth:`act` is called."""

    def __init__(self, action: Callable[..., Any], *args: Any, timeout: float = 2.0) -> None:
        self.timeout = timeout
        go_r, go_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the peer: only os._exit leaves this branch
            code = 1
            try:
                os.close(go_w)
                os.close(done_r)
                _wait_readable(go_r, timeout, "waiting for the word to act")
                if os.read(go_r, 1) == b"g":
                    os.write(done_w, json.dumps(attempt(action, *args)).encode())
                    code = 0
            finally:
                os._exit(code)
        os.close(go_r)
        os.close(done_w)
        self.pid, self._go, self._done = pid, go_w, done_r

    def act(self) -> str:
        """Tell the peer to act, wait for it to finish; return ``"ok"`` or its errno name."""
        try:
            os.write(self._go, b"g")
            _wait_readable(self._done, self.timeout, "acting")
            answer = os.read(self._done, 4096)
        finally:
            os.close(self._go)
            os.close(self._done)
            os.waitpid(self.pid, 0)  # it exits right after answering (or has timed out)
        if not answer:
            raise RuntimeError("peer: exited without an answer")
        return json.loads(answer)
