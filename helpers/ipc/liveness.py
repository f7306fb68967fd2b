"""Liveness the kernel keeps: one open-file-description lock per peer slot.

A peer holds a write lock (``F_OFD_SETLK``) on one byte of the backing
object for as long as it lives: byte ``BASE + slot``, far past the end of
the object (a lock needs no data under it).  The kernel drops the lock when
the last descriptor of that open file description closes, which happens
when the process dies, however it dies.  Asking whether a slot's byte is
locked (``F_OFD_GETLK``) therefore answers "is its peer alive" exactly, in
every PID namespace alike: no pid is stored or compared, no /proc is read,
and a question the kernel does not answer raises instead of guessing "dead".

Each handle opens its own open file description (through
``/proc/self/fd``), because OFD locks belong to the description, and a
description shared with another handle, another process (a passed memfd)
or a forked child would make their locks one lock.  A forked child closes
the description it inherited (``forget``) and opens its own on first use.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import struct
from collections.abc import Iterator

from helpers.ipc.errors import ChannelError, errno_name

#: the first locked byte; slots follow.  Far past any object this code makes.
BASE = 1 << 40
#: the byte attachers and the creator lock while they set a segment up.
SETUP = BASE - 1
#: struct flock on Linux for 64-bit off_t: type, whence, start, len, pid.
FLOCK = struct.Struct("hhqqi4x")

_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)


def _request(kind: int, start: int, length: int) -> bytes:
    return FLOCK.pack(kind, os.SEEK_SET, start, length, 0)


def open_private(fd: int) -> int:
    """Return a new open file description of the object behind ``fd``, for its locks.

    Raises ``ChannelError`` where the system cannot give one: without it the
    liveness of peers could not be told, and the channel does not guess.
    """
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise ChannelError(
            f"cannot open a private description of the channel for liveness locks: "
            f"{errno_name(exc.errno)}"
        ) from exc


def try_lock(fd: int, start: int, length: int = 1) -> bool:
    """Take a write lock on ``length`` bytes at ``start``; False if another holds one."""
    try:
        fcntl.fcntl(fd, _OFD_SETLK, _request(fcntl.F_WRLCK, start, length))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise ChannelError(f"liveness lock failed: {errno_name(exc.errno)}") from exc
    return True


def unlock(fd: int, start: int, length: int = 1) -> None:
    """Drop this description's lock on ``length`` bytes at ``start``."""
    try:
        fcntl.fcntl(fd, _OFD_SETLK, _request(fcntl.F_UNLCK, start, length))
    except OSError as exc:
        raise ChannelError(f"liveness unlock failed: {errno_name(exc.errno)}") from exc


def first_locked(fd: int, start: int, length: int = 1) -> tuple[int, int] | None:
    """Return (start, length) of the first lock another description holds in the range.

    None when there is none.  Raises ``ChannelError`` if the kernel does not
    answer: "cannot tell" is never taken for "dead".
    """
    try:
        answer = fcntl.fcntl(fd, _OFD_GETLK, _request(fcntl.F_WRLCK, start, length))
    except OSError as exc:
        raise ChannelError(f"liveness query failed: {errno_name(exc.errno)}") from exc
    kind, _, found, size, _ = FLOCK.unpack(answer)
    return None if kind == fcntl.F_UNLCK else (found, size)


def locked_by_other(fd: int, start: int, length: int = 1) -> bool:
    """Return whether another description holds a lock on any of the bytes."""
    return first_locked(fd, start, length) is not None


def live_slots(fd: int, max_peers: int) -> int:
    """Return how many slots of the table other descriptions hold (one query per run)."""
    count = 0
    start, end = BASE, BASE + max_peers
    while start < end:
        found = first_locked(fd, start, end - start)
        if found is None:
            break
        lock_start, lock_len = found
        lock_end = end if lock_len == 0 else min(lock_start + lock_len, end)
        count += lock_end - max(lock_start, start)
        start = lock_end
    return count


def slot_alive(fd: int, slot: int) -> bool:
    """Return whether a live peer (another description) holds slot ``slot``."""
    return locked_by_other(fd, BASE + slot)


def anyone_alive(fd: int, max_peers: int) -> bool:
    """Return whether any other description holds any slot of the table."""
    return locked_by_other(fd, BASE, max_peers)


#: signals that report a fault of the running code: never blocked.
_SYNCHRONOUS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP}


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back asynchronous signals (so their Python handlers) for a slow step.

    Claiming a slot takes a kernel lock and records it in the handle in
    several steps; an exception between them would leave a slot held by a
    handle that does not know it.  Blocking costs a few microseconds, which
    only attach and first use after a fork pay, never a message.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - _SYNCHRONOUS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
