"""Probes that exercise the isolated runner itself (used by its self-tests and benchmark)."""

from __future__ import annotations

import os
import time

from helpers import libc
from helpers.isolate import child, note


def noop() -> None:
    """Return None at once: the runner's fixed cost."""


def echo(*args: object, **kwargs: object) -> dict[str, object]:
    """Return the arguments received, to prove they arrive intact."""
    return {"args": list(args), "kwargs": kwargs}


def touch_empty_file_mapping(path: str) -> None:
    """Map an empty file for one page and load its first byte: SIGBUS (BUS_ADRERR)."""
    fd = os.open(path, os.O_RDONLY)
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    note(base=addr)
    libc.load(addr + 8)


def segv_after_munmap() -> None:
    """Touch a page just unmapped: SIGSEGV (SEGV_MAPERR)."""
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.munmap(addr, libc.PAGE_SIZE)
    note(base=addr)
    libc.load(addr)


def hang() -> None:
    """Never return: the runner must kill it at its timeout."""
    while True:
        time.sleep(3600)


def hang_with_grandchild() -> None:
    """Fork a grandchild that hangs too, then hang: both must be killed."""
    pid = os.fork()
    if pid:
        note(grandchild=pid)
    while True:
        time.sleep(3600)


def raise_oserror() -> None:
    """Raise ENOENT from a real call."""
    os.open("/nonexistent-mmapcheck/x", os.O_RDONLY)


def exit_with(code: int) -> None:
    """End the child with ``os._exit(code)`` and no result."""
    os._exit(code)


def send_garbage() -> None:
    """Write a line that is not JSON on the result pipe, then return."""
    assert child._result_fd is not None
    os.write(child._result_fd, b"\x00not json\n")


def not_json() -> object:
    """Return a value JSON cannot carry."""
    return {1, 2}


def kill_server() -> None:
    """Kill the fork server (our parent): the caller must get an error, not a hang."""
    os.kill(os.getppid(), 9)
    time.sleep(5)


def rlimit_as() -> list[int]:
    """Return the RLIMIT_AS the child runs under."""
    import resource

    return list(resource.getrlimit(resource.RLIMIT_AS))


def process_group() -> dict[str, int]:
    """Return the child's pid and process group id."""
    return {"pid": os.getpid(), "pgid": os.getpgid(0)}
