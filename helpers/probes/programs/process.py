"""Running a replayed C program as a process: its output, its exit, its orphans.

``say`` and ``perror`` write what ``cout << ... << endl`` / ``printf`` and
``perror`` write (unbuffered: the programs end their lines with ``endl``
or exit normally, so nothing is lost to a buffer); :func:`run_program`
runs a program as a process of its own and collects its output and how
each of its processes ended.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from helpers import libc
from helpers.probes.fork import ended, reap

PR_SET_CHILD_SUBREAPER = 36


def say(*parts: str | bytes) -> None:
    """Write one output line to fd 1, as ``cout << ... << endl`` or ``printf("...\\n")``."""
    line = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts) + b"\n"
    os.write(1, line)


def perror(label: str, exc: OSError) -> None:
    """Write ``perror(label)``'s line to fd 2."""
    os.write(2, f"{label}: {os.strerror(exc.errno or 0)}\n".encode())


def wait_child(pid: int) -> None:
    """Do what ``wait(NULL)`` does in a process whose only child is ``pid`` (0: none)."""
    if pid > 0:
        reap(pid)


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (``PR_SET_CHILD_SUBREAPER``)."""
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)


def read_until_eof(fd: int, deadline: float) -> bytes:
    """Return everything read from ``fd`` until end of file; TimeoutError at ``deadline``."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not ready:
            raise TimeoutError("the program's processes kept its output open past the deadline")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run_program(program: Callable[..., int | None], *args: Any, processes: int = 1,
                timeout: float = 10.0) -> dict[str, Any]:
    """Run ``program(*args)`` as a process whose fds 1 and 2 go to one pipe; return what it did.

    Returns the output (stdout and stderr interleaved, as on a terminal),
    how the program's first process ended (``"exit 0"``, ``"SIGBUS"``) and
    how those of the ``processes - 1`` others it forks that it did not reap
    itself ended (a child orphaned by a parent that died).  This process
    becomes a subreaper so that such orphans are reaped here; every wait is
    bounded by ``timeout``.
    """
    become_subreaper()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.close(read_fd)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            os.close(write_fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            code = program(*args) or 0
        except Exception as exc:  # a Python-level failure, as the interpreter would report it
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    try:
        output = read_until_eof(read_fd, deadline)
        done: dict[int, str] = {}
        while len(done) < processes:
            try:
                got, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if got:
                done[got] = ended(status)
            elif signal.sigtimedwait([signal.SIGCHLD], max(deadline - time.monotonic(), 0)) \
                    is None:
                raise TimeoutError(f"the program's processes did not end within {timeout} s")
    finally:
        os.close(read_fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return {"output": output.decode("utf-8", "backslashreplace"),
            "main": done.pop(pid, "not reaped"), "others": sorted(done.values())}


def c_int(value: int) -> int:
    """Return ``value`` as C's ``int size = lseek(...)`` keeps it (32 bits, signed)."""
    return ctypes.c_int(value).value


def unchecked(call: Callable[..., Any], *args: Any) -> Any:
    """Return ``call(*args)``, or -1 where it failed: a C call whose result the program ignores."""
    try:
        return call(*args)
    except OSError:
        return -1
