"""The fork server: one small single-threaded process per test worker.

It reads requests (``target``, arguments, timeout, resource limits) as
length-prefixed pickle frames on stdin, forks one child per request, watches
it until it ends or its time is up, and answers with the outcome as a frame on
stdout.  Forking this small, already-initialised interpreter costs about a
millisecond where starting a fresh one costs tens.

The server is single-threaded so that fork is safe; it is the children's
subreaper and kills each child's process group when the child ends, so no
descendant outlives its probe; and it dies with its parent
(``PR_SET_PDEATHSIG``), so a crashed test worker leaves no server behind.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from helpers.isolate import child, siginfo

_HEADER = struct.Struct("!I")
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PRELOAD_ENV = "MMAPCHECK_PRELOAD"
#: How long a probe's killed descendants get to die before the answer goes out.
STRAY_GRACE_S = 5.0


def read_frame(fd: int) -> bytes | None:
    """Return the next frame's payload from ``fd``, None at end of file."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    return _read_exact(fd, size) if size else b""


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    """Write ``payload`` to ``fd`` as one frame."""
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def resolve(target: str) -> Callable[..., Any]:
    """Return the function named ``"package.module:qualname"``; raise LookupError if absent."""
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise LookupError(f"target {target!r} is not of the form 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import module {module_name!r} of target {target!r}: {exc}") \
            from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LookupError(f"module {module_name!r} has no attribute {qualname!r}") from None
    if not callable(obj):
        raise LookupError(f"target {target!r} is not callable")
    return obj


class Server:
    """Serve probe requests until stdin closes."""

    def __init__(self) -> None:
        from helpers import libc

        self._libc = libc
        libc.bind_all()  # once here, not in every child
        self._ptrace = libc._function("ptrace") if libc.available("ptrace") else None
        if libc.available("prctl"):
            prctl = libc._function("prctl")
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self._devnull = child.prepare_server()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    def serve_forever(self) -> None:
        """Answer requests on fd 0 with outcomes on fd 1 until fd 0 closes."""
        while (frame := read_frame(0)) is not None:
            try:
                request = pickle.loads(frame)
                answer = self.serve(request)
            except Exception as exc:  # a malformed request must not kill the server
                answer = {"kind": "error", "message": f"fork server: bad request: {exc!r}"}
            write_frame(1, pickle.dumps(answer))

    def serve(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one request in a fresh child and return its outcome as a dict."""
        target = request["target"]
        timeout = float(request.get("timeout", 5.0))
        try:
            func = resolve(target)
        except LookupError as exc:
            return {"kind": "error", "target": target, "message": str(exc)}
        result_r, result_w = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(result_r)
            os.close(self._wake_r)
            os.close(self._wake_w)
            child.main(result_w, func, tuple(request.get("args", ())),
                       request.get("kwargs", {}), request.get("rlimits", {}),
                       devnull=self._devnull, ptrace=self._ptrace)
        os.close(result_w)
        try:
            answer = self._watch(pid, result_r, start + timeout)
        finally:
            os.close(result_r)
            self._reap_strays(pid)
        answer["target"] = target
        answer["duration_s"] = round(time.perf_counter() - start, 6)
        if answer["kind"] == "timeout":
            answer["message"] = f"the probe ran longer than its timeout of {timeout} s"
        return answer

    def _watch(self, pid: int, result_r: int, deadline: float) -> dict[str, Any]:
        os.set_blocking(result_r, False)
        buffer = b""
        eof = False
        status: int | None = None
        fault: tuple[int, int, int | None] | None = None
        messages: list[dict[str, Any]] = []
        garbage: str | None = None
        while status is None or not eof:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self._kill_group(pid)
                if status is None:
                    os.waitpid(pid, 0)
                return {"kind": "timeout", "notes": _notes(messages)}
            watched = [self._wake_r] if eof else [self._wake_r, result_r]
            # Once the child is gone only stray descendants can hold the pipe
            # open: they are killed, so the end of file comes at once.
            ready, _, _ = select.select(watched, [], [], remaining if status is None else 0.05)
            if result_r in ready or status is not None:
                with contextlib.suppress(BlockingIOError):
                    while chunk := os.read(result_r, 65536):
                        buffer += chunk
                    eof = True
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        messages.append(json.loads(line))
                    except ValueError:
                        garbage = garbage or line[:80].decode("utf-8", "replace")
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass
            while status is None:
                waited, raw = os.waitpid(pid, os.WNOHANG)
                if waited == 0:
                    break
                if os.WIFSTOPPED(raw):
                    signum = os.WSTOPSIG(raw)
                    if signum in siginfo.FAULT_SIGNALS and self._ptrace is not None:
                        fault = siginfo.read_siginfo(self._ptrace, pid) or fault
                    self._ptrace(siginfo.PTRACE_CONT, pid, None, signum)  # type: ignore[misc]
                    continue
                status = raw
                self._kill_group(pid)
        if buffer.strip():
            garbage = garbage or buffer[:80].decode("utf-8", "replace")
        return _outcome(status, messages, fault, garbage)

    def _kill_group(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def _reap_strays(self, pid: int) -> None:
        """Kill and reap what the probe left in its process group (we are their subreaper).

        SIGKILL is delivered asynchronously: the answer waits, bounded by
        :data:`STRAY_GRACE_S`, until every member of the group is reaped, so
        that no descendant of a probe is still alive, or a zombie, when its
        outcome is reported.
        """
        self._kill_group(pid)
        deadline = time.perf_counter() + STRAY_GRACE_S
        while True:
            try:
                reaped, _ = os.waitpid(-pid, os.WNOHANG)
            except ChildProcessError:
                break  # nobody of the group is left
            left = deadline - time.perf_counter()
            if reaped == 0:
                if left <= 0:
                    break  # stuck in the kernel (D state): reaped after a later probe
                select.select([self._wake_r], [], [], min(left, 0.05))
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass
        with contextlib.suppress(ChildProcessError):  # strays that left the group
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


def _notes(messages: list[dict[str, Any]]) -> dict[str, Any]:
    notes: dict[str, Any] = {}
    for message in messages:
        notes.update(message.get("note", {}))
    return notes


def _outcome(status: int, messages: list[dict[str, Any]],
             fault: tuple[int, int, int | None] | None, garbage: str | None) -> dict[str, Any]:
    notes = _notes(messages)
    results = [m["result"] for m in messages if isinstance(m.get("result"), dict)]
    answer: dict[str, Any] = {"notes": notes}
    if garbage is not None:
        return {**answer, "kind": "error",
                "message": f"the child sent a malformed message: {garbage!r}"}
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        answer.update(kind="signalled", signal=siginfo.signal_name(signum))
        if fault is not None and fault[0] == signum:
            answer["si_code"] = siginfo.si_code_name(signum, fault[1])
            address = fault[2]
            answer["fault_address"] = address
            base = notes.get("base")
            if address is not None and isinstance(base, int):
                answer["fault_offset"] = address - base
        return answer
    if results:
        answer.update(results[-1])
        answer.pop("traceback", None) if answer.get("kind") != "raised" else None
        return answer
    code = os.WEXITSTATUS(status)
    if code == child.HARNESS_FAILED:
        reasons = [m["harness"] for m in messages if isinstance(m.get("harness"), str)]
        reason = reasons[-1] if reasons else "it died before it could say why"
        return {**answer, "kind": "error",
                "message": f"the isolation harness failed inside the child: {reason}"}
    return {**answer, "kind": "exited", "exit_code": code}


def main() -> None:
    """Entry point of the server process."""
    sys.stdin = sys.stdout = None  # type: ignore[assignment]  # fds 0 and 1 carry frames
    # Modules named here are imported once, before any fork, so every child
    # starts with them loaded: probe families a run uses heavily, or a shim
    # that self-tests put in place of a platform call to prove checks bite.
    for module in filter(None, os.environ.get(PRELOAD_ENV, "").split(",")):
        importlib.import_module(module.strip())
    server = Server()
    # Objects that exist now are never collected: children then do not touch
    # (and copy) their pages when a collection runs.
    gc.freeze()
    server.serve_forever()


if __name__ == "__main__":
    main()
