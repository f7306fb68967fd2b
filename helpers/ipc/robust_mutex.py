"""A process-shared robust pthread mutex living in a shared mapping.

Pure Python has no compare-and-swap, so mutual exclusion between processes
has to come from the kernel or libc.  A robust mutex is the one lock whose
owner can die at any instant without leaving the others stuck: glibc keeps
the mutex on the owning thread's robust list, the kernel walks that list
when the thread dies, marks the lock "owner died" and wakes a waiter, whose
lock call then returns ``EOWNERDEAD``.  That waiter owns the lock, repairs
what the dead owner may have left half done, and calls ``consistent()``.
"""

from __future__ import annotations

import ctypes
import errno
import time

from helpers.ipc import native
from helpers.ipc.errors import ChannelError, CorruptChannel, errno_name

PTHREAD_PROCESS_SHARED = 1
PTHREAD_MUTEX_ROBUST = 1
CLOCK_MONOTONIC = 1
#: longest single blocking lock call, so that signal handlers get to run.
SLICE = 0.2

ACQUIRED = "acquired"
OWNER_DIED = "owner-died"
TIMED_OUT = "timed-out"


def unavailable_reason() -> str | None:
    """Return why robust process-shared mutexes cannot be used here, or None."""
    lib = native.PTHREAD
    if lib is None:
        return "no pthread library to load"
    for symbol in ("pthread_mutexattr_setrobust", "pthread_mutex_consistent",
                   "pthread_mutex_timedlock"):
        if not hasattr(lib, symbol):
            return f"libc lacks {symbol}"
    return None


def _lib() -> ctypes.CDLL:
    lib = native.PTHREAD
    if lib is None:
        raise ChannelError(f"robust mutexes unavailable: {unavailable_reason()}")
    return lib


def initialise(address: int) -> None:
    """Initialise a robust, process-shared mutex in the 64 bytes at ``address``.

    Only the creator calls this, before any peer can see the segment (or,
    after a reboot, while it holds the segment's exclusive lock).
    """
    lib = _lib()
    attr = ctypes.create_string_buffer(64)
    steps = (
        ("pthread_mutexattr_init", (attr,)),
        ("pthread_mutexattr_setpshared", (attr, PTHREAD_PROCESS_SHARED)),
        ("pthread_mutexattr_setrobust", (attr, PTHREAD_MUTEX_ROBUST)),
        ("pthread_mutex_init", (ctypes.c_void_p(address), attr)),
    )
    try:
        for name, args in steps:
            code = getattr(lib, name)(*args)
            if code:
                raise ChannelError(f"{name} failed: {errno_name(code)}")
    finally:
        lib.pthread_mutexattr_destroy(attr)


class RobustMutex:
    """Handle on a robust mutex at a fixed address inside a live mapping.

    The mapping must stay mapped while the handle is used; the channel drops
    its handles before it unmaps.
    """

    __slots__ = ("_address", "_clocklock", "_consistent", "_lock", "_timedlock", "_unlock")

    def __init__(self, address: int) -> None:
        lib = _lib()
        self._address = ctypes.c_void_p(address)
        self._lock = lib.pthread_mutex_lock
        self._unlock = lib.pthread_mutex_unlock
        self._consistent = lib.pthread_mutex_consistent
        self._timedlock = lib.pthread_mutex_timedlock
        self._clocklock = getattr(lib, "pthread_mutex_clocklock", None)

    def acquire(self, deadline: float | None) -> str:
        """Lock; return ``ACQUIRED``, ``OWNER_DIED`` (locked, repair needed) or ``TIMED_OUT``.

        ``deadline`` is a ``time.monotonic()`` value, or None to wait for ever
        (in slices of ``SLICE`` seconds so that signals are handled).
        ``ENOTRECOVERABLE`` or ``EINVAL`` mean the mutex memory is not a
        mutex any more, which is ``CorruptChannel``.
        """
        while True:
            now = time.monotonic()
            if deadline is None:
                step = SLICE
            else:
                step = min(deadline - now, SLICE)
                if step <= 0:
                    code = self._trylock()
                    return self._result(code) or TIMED_OUT
            code = self._timed(step)
            outcome = self._result(code)
            if outcome is not None:
                return outcome

    def _trylock(self) -> int:
        return self._timed(0.0)

    def _timed(self, seconds: float) -> int:
        if self._clocklock is not None:
            spec = native.Timespec.from_seconds(time.monotonic() + seconds)
            return self._clocklock(self._address, CLOCK_MONOTONIC, ctypes.byref(spec))
        spec = native.Timespec.from_seconds(time.time() + seconds)
        return self._timedlock(self._address, ctypes.byref(spec))

    @staticmethod
    def _result(code: int) -> str | None:
        if code == 0:
            return ACQUIRED
        if code == errno.EOWNERDEAD:
            return OWNER_DIED
        if code in (errno.ETIMEDOUT, errno.EINTR, errno.EBUSY):
            return None
        raise CorruptChannel(f"robust mutex lock failed with {errno_name(code)}")

    def consistent(self) -> None:
        """Mark the state protected by the lock as repaired after ``OWNER_DIED``."""
        code = self._consistent(self._address)
        if code:
            raise CorruptChannel(f"pthread_mutex_consistent failed: {errno_name(code)}")

    def release(self) -> None:
        """Unlock; the caller must hold the lock."""
        code = self._unlock(self._address)
        if code:
            raise CorruptChannel(f"robust mutex unlock failed with {errno_name(code)}")
