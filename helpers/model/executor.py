"""The test side of the step executor: one zygote, one actor per sequence.

Every read has a deadline: an actor or zygote that stops answering is killed
and becomes :class:`ExecutorBroken`, never a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from helpers.model.actor import read_line, write_line

_BOOT = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
         "from helpers.model.zygote import main; main()")
#: Environment variables that would make the zygote's children dump tracebacks or cores.
_SCRUBBED = ("PYTHONFAULTHANDLER", "PYTHONDEVMODE", "PYTHONTRACEMALLOC")


#: Descriptors an actor holds besides its steps' (standard streams, the pipes to its
#: child, a pidfd, /proc files read while it answers): about eight, with room.
BASE_DESCRIPTORS = 16


def descriptors_needed(steps: int) -> int:
    """Return the ``RLIMIT_NOFILE`` a sequence of ``steps`` steps may need in the actor.

    Each step opens at most one descriptor (open, shm_open) and the actor
    keeps one more, read-only, on every object it sees for the first time;
    descriptors are numbered from the lowest free one, so the count bounds
    the numbers too.
    """
    return BASE_DESCRIPTORS + 2 * steps


def descriptor_shortage(steps: int) -> str | None:
    """Return why sequences of ``steps`` steps cannot run under this ``RLIMIT_NOFILE``, or None.

    The model knows no descriptor limit: under a low one an open step would
    observe ``EMFILE`` where the man pages promise a descriptor, and the
    actor's own reads of /proc would fail, neither of them a finding about
    mappings.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = descriptors_needed(steps)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    return (f"RLIMIT_NOFILE is {soft}, below the {needed} descriptors a sequence of {steps} "
            f"steps may hold in the step executor (its calls and its own reads of /proc would "
            f"fail with EMFILE); raise it with `ulimit -n {needed}`")


class ExecutorBroken(RuntimeError):
    """The executor stopped answering or answered nonsense; the message says what it did.

    ``errno`` names the error that stopped it where it was one (``"EMFILE"``
    when the actor ran out of descriptors), so that a caller can tell a
    resource this run lacks from a harness that is broken.
    """

    def __init__(self, message: str, *, errno: str | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class Executor:
    """A zygote process and the actor of the current sequence, driven over two pipes."""

    def __init__(self, config: dict[str, Any], *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        self.running = False
        self._end_pending = False
        self.base = 0

    def _zygote(self) -> subprocess.Popen[bytes]:
        if self._owner != os.getpid():  # a forked copy of us: that zygote is not ours
            self._proc, self._owner, self.running = None, os.getpid(), False
            self._end_pending = False
        if self._proc is None or self._proc.poll() is not None:
            env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
            path = [os.path.abspath(p) for p in sys.path]
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(path)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, close_fds=True)
            self.running = self._end_pending = False
        return self._proc

    def _send(self, message: Any) -> dict[str, Any]:
        proc = self._zygote()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            write_line(proc.stdin.fileno(), message)
            line = read_line(proc.stdout.fileno(), time.monotonic() + self.timeout)
        except (BrokenPipeError, TimeoutError) as exc:
            self.close()
            raise ExecutorBroken(f"the executor did not answer {message!r}: "
                                 f"{exc or type(exc).__name__}") from exc
        if line is None:
            self.close()
            raise ExecutorBroken(f"the executor closed its pipe while answering {message!r}")
        answer = json.loads(line)
        if "end" in answer:
            self.running = False
        elif answer.get("fatal") and self.running:
            # The actor said why it cannot go on and waits for the word to exit;
            # the zygote's notice of its end is read at the next spawn.
            self.finish()
        return answer

    def spawn(self) -> int:
        """Start a fresh actor for a new sequence and return the base address of its window."""
        if self.running:
            self.finish()
        self._collect_end()
        answer = self._send({"spawn": self.config})
        if "ready" not in answer:
            self.close()
            raise ExecutorBroken(f"the actor did not start: {answer.get('harness', answer)}",
                                 errno=answer.get("errno"))
        self.running = True
        self.base = answer["ready"]
        return self.base

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one step (or peek) to the actor and return its answer, or ``{"end": ...}``."""
        if not self.running:
            raise ExecutorBroken("no actor is running; call spawn() first")
        return self._send(message)

    def finish(self) -> None:
        """End the current actor (it closes its descriptors and exits).

        The zygote's notice that the actor has ended is read at the next
        spawn: the actor's exit then overlaps with whatever the test process
        does in between.
        """
        if not self.running:
            return
        proc = self._zygote()
        assert proc.stdin is not None
        try:
            write_line(proc.stdin.fileno(), {"quit": True})
        except BrokenPipeError as exc:
            self.close()
            raise ExecutorBroken("the executor went away before it was asked to quit") from exc
        self.running = False
        self._end_pending = True

    def _collect_end(self) -> None:
        """Read the zygote's notice that the last actor asked to quit has ended."""
        if not self._end_pending:
            return
        self._end_pending = False
        proc = self._zygote()
        assert proc.stdout is not None
        try:
            line = read_line(proc.stdout.fileno(), time.monotonic() + self.timeout)
        except TimeoutError as exc:
            self.close()
            raise ExecutorBroken("the actor did not exit when asked") from exc
        if line is None or "end" not in json.loads(line):
            self.close()
            raise ExecutorBroken(f"the actor did not exit when asked: {line!r}")

    def close(self) -> None:
        """Stop the zygote and its actor."""
        proc, self._proc, self.running = self._proc, None, False
        self._end_pending = False
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
