"""The test side of the isolated runner: starts the fork server and talks to it.

One :class:`ForkServer` per process (per pytest-xdist worker).  Every wait on
the server has a deadline: a server that dies or stops answering becomes an
``error`` outcome and is replaced at the next call, never a hang.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import select
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from helpers.isolate.outcome import Outcome, OutcomeKind
from helpers.isolate.server import _HEADER, write_frame

#: Extra time the server gets beyond a probe's own timeout to answer.
GRACE_S = 10.0
_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
    "from helpers.isolate.server import main; main()"
)
#: Environment variables that would make children dump tracebacks or cores.
_SCRUBBED = ("PYTHONFAULTHANDLER", "PYTHONDEVMODE", "PYTHONTRACEMALLOC")


class IsolationMisuse(TypeError):
    """The runner was called with something it cannot send to a child."""


def target_name(target: Callable[..., Any] | str) -> str:
    """Return ``"package.module:qualname"`` for a module-level function or such a string."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise IsolationMisuse(
            f"{target!r} is not a module-level function of an importable module; "
            "define the probe at module level (helpers/probes/<family>.py) or pass "
            "'package.module:function'"
        )
    return f"{module}:{qualname}"


class ForkServer:
    """A fork server process and the pipe pair to it."""

    def __init__(self, *, stderr: int | None = subprocess.DEVNULL) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        self._stderr = stderr

    @property
    def pid(self) -> int | None:
        """Return the server's pid while it runs."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def _start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        path = [os.path.abspath(p) for p in sys.path]
        return subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, close_fds=True,
        )

    def call(self, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any],
             *, timeout: float, rlimits: Mapping[str, tuple[int, int]]) -> Outcome:
        """Run one probe and return its outcome; never raises for a broken server."""
        if self._owner != os.getpid():  # we are a forked copy: the server is not ours
            self._proc, self._owner = None, os.getpid()
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        request = {"target": target, "args": args, "kwargs": dict(kwargs),
                   "timeout": timeout, "rlimits": dict(rlimits)}
        try:
            payload = pickle.dumps(request)
        except Exception as exc:
            raise IsolationMisuse(f"arguments for {target} cannot be sent to a child: {exc}") \
                from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None
        started = time.perf_counter()
        try:
            write_frame(self._proc.stdin.fileno(), payload)
            answer = self._read(self._proc.stdout.fileno(), started + timeout + GRACE_S)
        except (BrokenPipeError, EOFError, TimeoutError) as exc:
            self.close()
            return Outcome(OutcomeKind.ERROR, target=target,
                           message=f"the fork server failed: {exc or type(exc).__name__}",
                           duration_s=round(time.perf_counter() - started, 6))
        return Outcome.from_dict(answer)

    @staticmethod
    def _read(fd: int, deadline: float) -> dict[str, Any]:
        def exact(size: int) -> bytes:
            chunks: list[bytes] = []
            while size:
                left = deadline - time.perf_counter()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError("no answer before the deadline")
                chunk = os.read(fd, size)
                if not chunk:
                    raise EOFError("the server closed its pipe (it died)")
                chunks.append(chunk)
                size -= len(chunk)
            return b"".join(chunks)

        (size,) = _HEADER.unpack(exact(_HEADER.size))
        answer = pickle.loads(exact(size))
        if not isinstance(answer, dict) or "kind" not in answer:
            raise EOFError(f"the server sent a malformed answer: {answer!r:.80}")
        return answer

    def close(self) -> None:
        """Stop the server (its children die with it) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None and self._owner == os.getpid():
            proc.kill()
        if self._owner == os.getpid():
            proc.wait(timeout=GRACE_S)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


_default: ForkServer | None = None


def default_server() -> ForkServer:
    """Return this process's fork server, creating it on first use."""
    global _default
    if _default is None or _default._owner != os.getpid():
        if _default is None:
            atexit.register(shutdown)
        _default = ForkServer()
    return _default


def shutdown() -> None:
    """Stop this process's fork server if it runs."""
    global _default
    if _default is not None:
        _default.close()
        _default = None
