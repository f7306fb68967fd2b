"""The C library and the raw system-call numbers the channel needs, loaded once.

The channel needs one thing neither the standard library nor its atomics
package offers: futex wait/wake.  It comes from libc's ``syscall`` through
ctypes with ``use_errno=True``; an unknown architecture makes it unavailable
(with the reason), and the channel then polls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

#: (futex, membarrier) system-call numbers per machine name (membarrier: unused now).
_SYSCALLS: dict[str, tuple[int, int]] = {
    "x86_64": (202, 324),
    "amd64": (202, 324),
    "aarch64": (98, 283),
    "arm64": (98, 283),
    "riscv64": (98, 283),
    "i386": (240, 375),
    "i686": (240, 375),
    "armv7l": (240, 389),
    "ppc64le": (221, 365),
    "ppc64": (221, 365),
    "s390x": (238, 356),
}


class Timespec(ctypes.Structure):
    """``struct timespec``: seconds and nanoseconds, native longs."""

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    @classmethod
    def from_seconds(cls, seconds: float) -> Timespec:
        """Return a timespec for a non-negative number of seconds."""
        whole = int(seconds)
        return cls(whole, int((seconds - whole) * 1e9))


def _load_libc() -> ctypes.CDLL | None:
    """Return the process's C library, or None where there is none to load."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


LIBC = _load_libc()
MACHINE = platform.machine().lower()
SYS_FUTEX, SYS_MEMBARRIER = _SYSCALLS.get(MACHINE, (-1, -1))

_syscall = None
if LIBC is not None and SYS_FUTEX >= 0:
    _syscall = LIBC.syscall
    _syscall.restype = ctypes.c_long


def syscall_available() -> str | None:
    """Return None if raw system calls can be made here, else why not."""
    if LIBC is None:
        return f"no C library to load on {sys.platform}"
    if SYS_FUTEX < 0:
        return f"system-call numbers unknown for machine {MACHINE!r}"
    return None


def raw_syscall(number: int, *args: int | ctypes._SimpleCData | ctypes.Array
                | ctypes._Pointer | None) -> tuple[int, int]:
    """Return ``(result, errno)`` of one raw system call.

    Arguments are passed as C longs unless already ctypes objects; the errno
    is only meaningful when the result is -1.
    """
    assert _syscall is not None, syscall_available()
    result = _syscall(ctypes.c_long(number), *(
        ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args
    ))
    return result, (ctypes.get_errno() if result == -1 else 0)
