"""Forked child processes for the channel's multi-process tests, benchmark and stress run.

A child runs one function and reports its return value (or its exception,
as text) over a pipe, then leaves with ``os._exit`` so that nothing of the
parent (pytest's hooks, atexit handlers) runs twice.  Waits are bounded:
``join`` takes a timeout and kills a child that overstays it.  Exit statuses
are reported by name (``"exit 0"``, ``"SIGKILL"``), never as bare numbers.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ChildFailed(Exception):
    """The child raised, died by a signal, or did not finish in time."""


@dataclass
class Child:
    """A forked child running one function."""

    pid: int
    _reader: int
    status: str | None = None
    _raw: bytes = b""

    def alive(self) -> bool:
        """Return whether the child has not been reaped yet (reaping it if it ended)."""
        if self.status is not None:
            return False
        pid, code = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.status = describe_status(code)
        return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the child if it has not been reaped."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait(self, timeout: float) -> str:
        """Reap the child within ``timeout`` s (killing it if it overstays); return its status."""
        deadline = time.monotonic() + timeout
        self._drain(deadline)
        while self.alive():
            if time.monotonic() >= deadline:
                self.kill()
                _, code = os.waitpid(self.pid, 0)
                self.status = "timeout, then " + describe_status(code)
                break
            _wait_exit(self.pid, min(0.05, max(deadline - time.monotonic(), 0.001)))
        if self._reader >= 0:
            self._drain(time.monotonic() + 0.5)
        return self.status or "unknown"

    def _drain(self, deadline: float) -> None:
        """Read the child's report until it closes the pipe or ``deadline`` passes."""
        while self._reader >= 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self._reader], [], [], left)
            if not ready:
                return
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                os.close(self._reader)
                self._reader = -1
                return
            self._raw += chunk

    def join(self, timeout: float) -> Any:
        """Return the child's result; raise ``ChildFailed`` if it failed or overstayed."""
        status = self.wait(timeout)
        if not self._raw:
            raise ChildFailed(f"child {self.pid} ended with {status} and reported nothing")
        ok, value = pickle.loads(self._raw)
        if not ok:
            raise ChildFailed(f"child {self.pid} raised:\n{value}")
        return value

    def close(self) -> None:
        """Kill and reap the child if needed and close the pipe (for cleanup paths)."""
        if self.status is None:
            self.kill()
            _, code = os.waitpid(self.pid, 0)
            self.status = describe_status(code)
        if self._reader >= 0:
            os.close(self._reader)
            self._reader = -1


def _wait_exit(pid: int, timeout: float) -> None:
    """Block up to ``timeout`` s for ``pid`` to exit, without busy polling where possible."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        time.sleep(min(timeout, 0.002))
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def describe_status(code: int) -> str:
    """Return a wait status as text: ``"exit 3"`` or the signal's name."""
    if os.WIFSIGNALED(code):
        return signal.Signals(os.WTERMSIG(code)).name
    if os.WIFEXITED(code):
        return f"exit {os.WEXITSTATUS(code)}"
    return f"status {code:#x}"


def spawn(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Child:
    """Fork a child that runs ``target(*args, **kwargs)`` and reports its result."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(reader)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            # A child may be killed or crash on purpose: no core file, no traceback dump.
            faulthandler.disable()
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            try:
                payload = pickle.dumps((True, target(*args, **kwargs)))
            except BaseException:
                payload = pickle.dumps((False, traceback.format_exc()))
                code = 1
            view = memoryview(payload)
            while view:
                view = view[os.write(writer, view):]
        finally:
            os._exit(code)
    os.close(writer)
    return Child(pid, reader)
