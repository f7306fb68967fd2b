"""Futex wait and wake on a 32-bit word of a shared mapping.

The waiter sleeps in the kernel only while the word still holds the value it
last saw, so a wake that comes between its check and its sleep is never lost
(the kernel compares and sleeps atomically).  The words live in a
``MAP_SHARED`` mapping used by several processes, so the private flag is not
used.  Every wait has a timeout; ``EINTR`` returns to Python so that signal
handlers run, and the caller loops on its own deadline.
"""

from __future__ import annotations

import ctypes
import errno
import os

from helpers.ipc import native

FUTEX_WAIT = 0
FUTEX_WAKE = 1
WAKE_ALL = 0x7FFFFFFF

WOKEN = "woken"
TIMEOUT = "timeout"
CHANGED = "changed"
INTERRUPTED = "interrupted"


def unavailable_reason() -> str | None:
    """Return why futexes cannot be used here, or None if they can."""
    if os.environ.get("MMAPCHECK_IPC_NO_FUTEX"):
        return "disabled by MMAPCHECK_IPC_NO_FUTEX"
    return native.syscall_available()


AVAILABLE = unavailable_reason() is None


def wait(address: int, expected: int, timeout: float) -> str:
    """Sleep while the u32 at ``address`` equals ``expected``, for at most ``timeout`` s.

    Returns ``WOKEN`` (a wake arrived, or a spurious return), ``CHANGED``
    (the word no longer held ``expected``), ``TIMEOUT`` or ``INTERRUPTED``
    (a signal arrived).  Any other errno is a bug in the caller's address and
    raises ``OSError`` with its name.
    """
    spec = native.Timespec.from_seconds(max(timeout, 0.0))
    result, err = native.raw_syscall(
        native.SYS_FUTEX, address, FUTEX_WAIT, expected, ctypes.byref(spec), None, 0
    )
    if result == 0:
        return WOKEN
    if err == errno.EAGAIN:
        return CHANGED
    if err == errno.ETIMEDOUT:
        return TIMEOUT
    if err == errno.EINTR:
        return INTERRUPTED
    raise OSError(err, f"futex wait: {errno.errorcode.get(err, err)}")


def wake(address: int, count: int = WAKE_ALL) -> int:
    """Wake up to ``count`` waiters on the u32 at ``address``; return how many woke."""
    result, err = native.raw_syscall(native.SYS_FUTEX, address, FUTEX_WAKE, count, None, None, 0)
    if result < 0:
        raise OSError(err, f"futex wake: {errno.errorcode.get(err, err)}")
    return result
