"""The zygote: a small process that forks one actor per sequence and watches it.

Starting an interpreter costs tens of milliseconds; forking this one, which
has already imported the actor, costs about one.  The zygote reads a
``{"spawn": config}`` line, starts an actor (forked in advance, see
:class:`Spare`) that inherits its standard input and output (the actor then
talks to the test process directly), and waits for it.  It traces the
actor, so when a step kills it by a signal the zygote reads the fault's
``si_code`` and address before the actor dies, and then
writes ``{"end": outcome}`` on the same pipe, in the place of the answer the
actor never gave.  It is the subreaper of everything below it, kills the
actor's process group when the actor ends, and dies with the test process.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
from typing import Any

from helpers import libc
from helpers.isolate import child
from helpers.model import actor

PR_SET_CHILD_SUBREAPER = 36


def watch(pid: int) -> tuple[int, tuple[int, int, int | None] | None]:
    """Return the final status of the traced actor ``pid`` and the siginfo of its fault."""
    fault = None
    while True:
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            return status, fault
        fault = actor._resume(pid, os.WSTOPSIG(status)) or fault


def reap(pid: int) -> None:
    """Kill what is left of the actor's process group and reap every finished child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


class Spare:
    """An actor forked ahead of time, set up and waiting for the word to start.

    Forking and the first pages an actor touches cost a few milliseconds;
    a spare pays them while the test process is busy elsewhere, so that a
    new sequence starts at once.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        go_r, self.go = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the actor
            os.close(self.go)
            actor.main(config, go_fd=go_r)
        os.close(go_r)

    def start(self) -> int | None:
        """Let the spare announce itself and serve; return its pid, None if it is gone."""
        try:
            os.write(self.go, b"g")
        except BrokenPipeError:
            self.discard()
            return None
        finally:
            with contextlib.suppress(OSError):
                os.close(self.go)
        return self.pid

    def discard(self) -> None:
        """Kill the spare (its configuration is not the one asked for, or it died)."""
        with contextlib.suppress(OSError):
            os.close(self.go)
        reap(self.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def serve() -> None:
    """Start and watch actors, one per ``spawn`` line, until standard input closes."""
    spare: Spare | None = None
    while (line := actor.read_line(0)) is not None:
        config = json.loads(line)["spawn"]
        if spare is not None and spare.config != config:
            spare.discard()
            spare = None
        pid = spare.start() if spare is not None else None
        if pid is None:
            pid = Spare(config).start()
        assert pid is not None
        spare = Spare(config)  # it sets itself up while this actor works
        status, fault = watch(pid)
        reap(pid)
        actor.write_line(1, {"end": actor.ended(status, fault, 0)})
    if spare is not None:
        spare.discard()


def main() -> None:
    """Entry point of the zygote process."""
    sys.stdin = sys.stdout = None  # type: ignore[assignment]  # fds 0 and 1 carry messages
    if libc.available("prctl"):
        prctl = libc._function("prctl")
        prctl(actor.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # Bind every C function an actor calls now, once: binding shm_open looks for
    # librt, which takes milliseconds, and each actor would otherwise pay it again.
    for name in ("mmap", "munmap", "mprotect", "msync", "shm_open", "shm_unlink", "ftruncate",
                 "ptrace", "prctl"):
        if libc.available(name):
            libc._function(name)
    os.close(child.prepare_server())  # default fault signals, no core dumps
    # A spare that died makes its start pipe broken: an error to handle, not a death.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    gc.freeze()
    serve()


if __name__ == "__main__":
    main()
