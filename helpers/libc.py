"""ctypes bindings to the C memory-mapping API, as the documents describe it.

They also bind the other C calls the probes make (semaphores, message
queues, namespaces, capabilities, ``prctl``, ``malloc``), so that there is one
table, one error convention and one place where a missing symbol becomes
:class:`Unsupported`.  Only :mod:`helpers.probes.peer` keeps a binding of its
own: it runs in a fresh interpreter that imports nothing of the suite.

Why not Python's ``mmap`` module alone: the documents teach the C calls, and
the module hides what they do (it refuses empty files, checks bounds, rounds
lengths).  These bindings expose the calls as they are: every function returns
what the C function returns on success and raises :class:`OSError` (errno
preserved, name in :func:`errno_name`) on failure, through one signature table
and one call helper; :func:`mmap_raw` and :func:`munmap_raw` return the failure
value and errno's name instead, for checks of the value itself.  A function
the platform's libc lacks raises :class:`Unsupported` naming the symbol, so
checks that need it become ``unsupported`` rather than ``error``.

Constants come from Python's ``mmap`` module where it exposes them and from a
per-architecture table of the Linux UAPI values otherwise (``MAP_SYNC`` and
``MAP_SHARED_VALIDATE`` are not exposed by Python at all).
"""

from __future__ import annotations

import ctypes
import errno
import mmap as _pymmap
import os
import sys
from collections.abc import Callable
from typing import Any

c_void_p, c_size_t, c_int, c_long = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_long
c_char_p, c_uint, c_off_t = ctypes.c_char_p, ctypes.c_uint, ctypes.c_int64
c_ulong, c_ssize_t, c_uint32 = ctypes.c_ulong, ctypes.c_ssize_t, ctypes.c_uint32

PAGE_SIZE: int = os.sysconf("SC_PAGE_SIZE")
MAP_FAILED: int = ctypes.c_void_p(-1).value or -1


class Unsupported(Exception):
    """The platform lacks a symbol or constant a check needs."""

    def __init__(self, symbol: str, why: str = "") -> None:
        self.symbol = symbol
        detail = f": {why}" if why else ""
        super().__init__(f"{symbol} is not available on this platform{detail}")


def errno_name(err: int | OSError | None) -> str | None:
    """Return the symbolic name (``"EINVAL"``) of an errno or of an OSError's errno."""
    if isinstance(err, OSError):
        err = err.errno
    if err is None:
        return None
    return _ERRNO_NAMES.get(err) or errno.errorcode.get(err, f"E?{err}")


def errno_of(call: Callable[..., object], *args: object) -> str | None:
    """Run ``call(*args)``; return the errno name of the OSError it raised, None if none.

    For a step a probe takes on the way to its question (an msync before the
    file is read, a close after the mapping is made): a platform where that
    step fails must not hide what the probe looks at after it, so the
    failure becomes evidence the probe returns, not an exception ending it.
    """
    try:
        call(*args)
    except OSError as exc:
        return errno_name(exc)
    return None


def close_past_deferred_error(fd: int) -> str | None:
    """Close ``fd``; return the errno name of a deferred error close reported, None if none.

    close(2): Linux releases the descriptor before it can report a deferred
    error (EIO, ENOSPC, EDQUOT, EINTR), and the file's mappings stay, so the
    caller has nothing to undo and may go on.  EBADF, a descriptor the
    caller does not hold, is the caller's own bug and is raised.
    """
    try:
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise
        return errno_name(exc)
    return None


#: Where two names share a number, the one the memory-mapping man pages use
#: (Linux gives ENOTSUP and EOPNOTSUPP the same value; mmap(2) says EOPNOTSUPP).
_ERRNO_NAMES = {errno.EOPNOTSUPP: "EOPNOTSUPP", errno.EAGAIN: "EAGAIN"}


# --- constants -----------------------------------------------------------------------------

#: Linux UAPI values for the asm-generic layout, used by x86, arm, arm64,
#: riscv, s390, loongarch.  powerpc, sparc, mips, alpha and parisc differ in
#: some MAP_ and MS_ values; they get the overrides below.
_GENERIC: dict[str, int] = {
    "PROT_NONE": 0x0, "PROT_READ": 0x1, "PROT_WRITE": 0x2, "PROT_EXEC": 0x4,
    "MAP_SHARED": 0x01, "MAP_PRIVATE": 0x02, "MAP_SHARED_VALIDATE": 0x03,
    "MAP_FIXED": 0x10, "MAP_ANONYMOUS": 0x20, "MAP_GROWSDOWN": 0x0100,
    "MAP_DENYWRITE": 0x0800, "MAP_EXECUTABLE": 0x1000, "MAP_LOCKED": 0x2000,
    "MAP_NORESERVE": 0x4000, "MAP_POPULATE": 0x8000, "MAP_NONBLOCK": 0x10000,
    "MAP_STACK": 0x20000, "MAP_HUGETLB": 0x40000, "MAP_SYNC": 0x80000,
    "MAP_FIXED_NOREPLACE": 0x100000,
    "MS_ASYNC": 1, "MS_INVALIDATE": 2, "MS_SYNC": 4,
    "MADV_NORMAL": 0, "MADV_RANDOM": 1, "MADV_SEQUENTIAL": 2, "MADV_WILLNEED": 3,
    "MADV_DONTNEED": 4, "MADV_REMOVE": 9, "MADV_DONTFORK": 10, "MADV_HUGEPAGE": 14,
    "MADV_POPULATE_READ": 22, "MADV_POPULATE_WRITE": 23,
    "MCL_CURRENT": 1, "MCL_FUTURE": 2,
    "IPC_CREAT": 0o1000, "IPC_EXCL": 0o2000, "IPC_RMID": 0, "IPC_SET": 1, "IPC_STAT": 2,
    "IPC_PRIVATE": 0, "IPC_NOWAIT": 0o4000, "SHM_RDONLY": 0o10000, "SHM_RND": 0o20000,
}
_ARCH_OVERRIDES: dict[str, dict[str, int]] = {
    "ppc64le": {"MAP_NORESERVE": 0x40, "MAP_LOCKED": 0x80},
    "ppc64": {"MAP_NORESERVE": 0x40, "MAP_LOCKED": 0x80},
    "ppc": {"MAP_NORESERVE": 0x40, "MAP_LOCKED": 0x80},
    "sparc64": {"MAP_NORESERVE": 0x40, "MAP_LOCKED": 0x100},
}
#: Architectures whose layout we have not tabulated: only what Python exposes.
_UNTABULATED = ("mips", "alpha", "parisc", "hppa")

_ARCH = os.uname().machine


def _constants() -> dict[str, int]:
    if sys.platform != "linux" or _ARCH.startswith(_UNTABULATED):
        table: dict[str, int] = {}
    else:
        table = dict(_GENERIC)
        table.update(_ARCH_OVERRIDES.get(_ARCH, {}))
    for name in [*_GENERIC, "MAP_ANON"]:
        value = getattr(_pymmap, name, None)
        if isinstance(value, int):
            table[name] = value  # the platform's own word wins over our table
    table.setdefault("MAP_ANONYMOUS", table.get("MAP_ANON", -1))
    if table["MAP_ANONYMOUS"] == -1:
        del table["MAP_ANONYMOUS"]
    return table


CONSTANTS: dict[str, int] = _constants()
globals().update(CONSTANTS)
# Names the checks use unconditionally; every POSIX system has them.
PROT_NONE: int
PROT_READ: int
PROT_WRITE: int
PROT_EXEC: int
MAP_SHARED: int
MAP_PRIVATE: int
MAP_FIXED: int
MAP_ANONYMOUS: int
MS_ASYNC: int
MS_SYNC: int
MS_INVALIDATE: int


def constant(name: str) -> int:
    """Return the value of a flag or raise :class:`Unsupported` naming it."""
    try:
        return CONSTANTS[name]
    except KeyError:
        raise Unsupported(name, f"no value known for {_ARCH} {sys.platform}") from None


def flag_names(value: int, prefix: str) -> str:
    """Return ``value`` spelled as ``A|B`` using the constants starting with ``prefix``."""
    if value == 0:
        zero = [n for n, v in CONSTANTS.items() if n.startswith(prefix) and v == 0]
        return zero[0] if zero else "0"
    parts, rest = [], value
    for name, bit in sorted(CONSTANTS.items(), key=lambda kv: -kv[1]):
        if name.startswith(prefix) and bit and rest & bit == bit and name != "MAP_SHARED_VALIDATE":
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(reversed(parts))


# --- structures ----------------------------------------------------------------------------

class Timespec(ctypes.Structure):
    """``struct timespec``: the absolute CLOCK_REALTIME deadline the *timed* calls take."""

    _fields_ = [("tv_sec", c_long), ("tv_nsec", c_long)]


class MqAttr(ctypes.Structure):
    """``struct mq_attr``: the limits ``mq_open`` gives a new POSIX message queue."""

    _fields_ = [("mq_flags", c_long), ("mq_maxmsg", c_long), ("mq_msgsize", c_long),
                ("mq_curmsgs", c_long), ("reserved", c_long * 4)]


class CapHeader(ctypes.Structure):
    """``struct __user_cap_header_struct``: which layout and process ``capget``/``capset`` mean."""

    _fields_ = [("version", c_uint32), ("pid", c_int)]


class CapData(ctypes.Structure):
    """``struct __user_cap_data_struct``: 32 capabilities per set; version 3 takes two of them."""

    _fields_ = [("effective", c_uint32), ("permitted", c_uint32), ("inheritable", c_uint32)]


# --- functions -----------------------------------------------------------------------------

_TIMESPEC_P = ctypes.POINTER(Timespec)
_CAP_HEADER_P, _CAP_DATA_P = ctypes.POINTER(CapHeader), ctypes.POINTER(CapData)

#: name -> (restype, argtypes, library).  "c" is the process's global scope
#: (the C library, and before it any preloaded library that interposes the
#: call), "rt" librt (shm_open and the mq_ calls live there before glibc
#: 2.34), "pthread" libpthread (the sem_ calls, likewise).  The global scope is
#: searched first, so a preloaded definition wins as it does for C programs.
_SIGNATURES: dict[str, tuple[Any, list[Any], str]] = {
    "mmap": (c_void_p, [c_void_p, c_size_t, c_int, c_int, c_int, c_off_t], "c"),
    "munmap": (c_int, [c_void_p, c_size_t], "c"),
    "msync": (c_int, [c_void_p, c_size_t, c_int], "c"),
    "mprotect": (c_int, [c_void_p, c_size_t, c_int], "c"),
    "madvise": (c_int, [c_void_p, c_size_t, c_int], "c"),
    "mlock": (c_int, [c_void_p, c_size_t], "c"),
    "munlock": (c_int, [c_void_p, c_size_t], "c"),
    "mlockall": (c_int, [c_int], "c"),
    "posix_typed_mem_open": (c_int, [c_char_p, c_int, c_int], "rt"),
    "mincore": (c_int, [c_void_p, c_size_t, ctypes.c_char_p], "c"),
    "shm_open": (c_int, [c_char_p, c_int, c_uint], "rt"),
    "shm_unlink": (c_int, [c_char_p], "rt"),
    "ftruncate": (c_int, [c_int, c_off_t], "c"),
    "shmget": (c_int, [c_int, c_size_t, c_int], "c"),
    "shmat": (c_void_p, [c_int, c_void_p, c_int], "c"),
    "shmdt": (c_int, [c_void_p], "c"),
    "shmctl": (c_int, [c_int, c_int, c_void_p], "c"),
    "ptrace": (c_long, [c_long, c_int, c_void_p, c_void_p], "c"),
    "prctl": (c_int, [c_int, c_long, c_long, c_long, c_long], "c"),
    "unshare": (c_int, [c_int], "c"),
    "mount": (c_int, [c_char_p, c_char_p, c_char_p, c_ulong, c_char_p], "c"),
    "umount2": (c_int, [c_char_p, c_int], "c"),
    "capget": (c_int, [_CAP_HEADER_P, _CAP_DATA_P], "c"),
    "capset": (c_int, [_CAP_HEADER_P, _CAP_DATA_P], "c"),
    "sem_init": (c_int, [c_void_p, c_int, c_uint], "pthread"),
    "sem_destroy": (c_int, [c_void_p], "pthread"),
    "sem_post": (c_int, [c_void_p], "pthread"),
    "sem_timedwait": (c_int, [c_void_p, _TIMESPEC_P], "pthread"),
    "mq_open": (c_int, [c_char_p, c_int, c_uint, ctypes.POINTER(MqAttr)], "rt"),
    "mq_close": (c_int, [c_int], "rt"),
    "mq_unlink": (c_int, [c_char_p], "rt"),
    "mq_timedsend": (c_int, [c_int, c_char_p, c_size_t, c_uint, _TIMESPEC_P], "rt"),
    "mq_timedreceive": (c_ssize_t, [c_int, c_char_p, c_size_t, c_void_p, _TIMESPEC_P], "rt"),
    "msgget": (c_int, [c_int, c_int], "c"),
    "msgsnd": (c_int, [c_int, c_void_p, c_size_t, c_int], "c"),
    "msgrcv": (c_ssize_t, [c_int, c_void_p, c_size_t, c_long, c_int], "c"),
    "msgctl": (c_int, [c_int, c_int, c_void_p], "c"),
    "read": (c_ssize_t, [c_int, c_void_p, c_size_t], "c"),
    "write": (c_ssize_t, [c_int, c_char_p, c_size_t], "c"),
    "malloc": (c_void_p, [c_size_t], "c"),
    "strncpy": (c_void_p, [c_void_p, c_char_p, c_size_t], "c"),
    "free": (None, [c_void_p], "c"),
    "gnu_get_libc_version": (c_char_p, [], "c"),
}


def _load(which: str) -> ctypes.CDLL | None:
    if which == "c":
        return ctypes.CDLL(None, use_errno=True)
    from ctypes.util import find_library  # slow to import: only when needed

    found = find_library(which)
    try:
        return ctypes.CDLL(found, use_errno=True) if found else None
    except OSError:
        return None


_LIBS: dict[str, ctypes.CDLL | None] = {}
_FUNCS: dict[str, Any] = {}


def _function(name: str) -> Any:
    """Return the bound C function ``name``, or raise Unsupported naming it."""
    if name in _FUNCS:
        return _FUNCS[name]
    restype, argtypes, lib = _SIGNATURES[name]
    candidates = ["c", lib] if lib != "c" else ["c"]
    for which in candidates:
        if which not in _LIBS:
            _LIBS[which] = _load(which)
        handle = _LIBS[which]
        func = getattr(handle, name, None) if handle is not None else None
        if func is not None:
            func.restype, func.argtypes = restype, argtypes
            _FUNCS[name] = func
            return func
    if lib == "c":
        raise Unsupported(name, "the C library does not export it")
    raise Unsupported(name, f"neither lib{lib} nor the C library exports it")


def bind_all() -> None:
    """Bind every C function of this module now, the missing ones recorded as missing.

    For the fork server: its children inherit the bound functions and the
    loaded libraries, so no probe looks a library up again (which
    :func:`ctypes.util.find_library` does by running ``ldconfig``, tens of
    milliseconds per child).
    """
    for name in _SIGNATURES:
        available(name)


def available(name: str) -> bool:
    """Return whether the C function ``name`` can be called here."""
    try:
        _function(name)
    except Unsupported:
        return False
    return True


def _call(name: str, *args: Any, failed: Callable[[Any], bool] = lambda r: r == -1,
          eintr_retry: bool = False) -> Any:
    """Call ``name`` and return its result; raise OSError if ``failed(result)``.

    With ``eintr_retry`` a failure with EINTR (a signal cut a wait short)
    calls again with the same arguments instead of raising: for the calls
    whose deadline is absolute, so that a retry never waits longer.
    """
    func = _function(name)
    while True:
        ctypes.set_errno(0)
        result = func(*args)
        if not failed(result):
            return result
        err = ctypes.get_errno()
        if not (eintr_retry and err == errno.EINTR):
            raise OSError(err, f"{name}: {errno_name(err)}: {os.strerror(err)}")


def _map_failed(result: int | None) -> bool:
    # ctypes turns a NULL void* into None: a successful MAP_FIXED mapping at
    # address 0 (allowed with CAP_SYS_RAWIO), not a failure.
    return result == MAP_FAILED


def _mmap(addr: int, length: int, prot: int, flags: int, fd: int, offset: int
          ) -> tuple[int, int]:
    """Return what C ``mmap`` returned (NULL as 0) and the errno of a failure, 0 for none.

    A failure is MAP_FAILED, or NULL with errno set: a platform that signals
    failure the way the documents' NULL tests expect is reported as failing,
    not taken for a mapping at address 0.
    """
    try:
        returned = _call("mmap", addr or None, length, prot, flags, fd, offset,
                         failed=_map_failed) or 0
    except OSError as exc:
        return MAP_FAILED, exc.errno
    return returned, ctypes.get_errno() if returned == 0 else 0


def mmap(addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
    """Return the address of a new mapping (``mmap(2)``); raise OSError when it failed."""
    returned, err = _mmap(addr, length, prot, flags, fd, offset)
    if err:
        raise OSError(err, f"mmap: {errno_name(err)}: {os.strerror(err)}")
    return returned


def munmap(addr: int, length: int) -> None:
    """Remove mappings in ``[addr, addr+length)`` (``munmap(2)``)."""
    _call("munmap", addr, length)


def mmap_raw(addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> tuple[int, str | None]:
    """Return what C ``mmap`` returned (NULL as 0) and errno's name if the call failed.

    For checks of the return value itself, which :func:`mmap` would turn
    into an exception; nothing here raises for a failed call.
    """
    returned, err = _mmap(addr, length, prot, flags, fd, offset)
    return returned, errno_name(err) if err else None


def munmap_raw(addr: int, length: int) -> tuple[int, str | None]:
    """Return what C ``munmap`` returned and errno's name if it was -1 (never raises for it)."""
    try:
        return _call("munmap", addr or None, length), None
    except OSError as exc:
        return -1, errno_name(exc)


def msync(addr: int, length: int, flags: int) -> None:
    """Flush a range of a mapping to its file (``msync(2)``)."""
    _call("msync", addr, length, flags)


def mprotect(addr: int, length: int, prot: int) -> None:
    """Change the protection of a range (``mprotect(2)``)."""
    _call("mprotect", addr, length, prot)


def madvise(addr: int, length: int, advice: int) -> None:
    """Give the kernel advice about a range (``madvise(2)``)."""
    _call("madvise", addr, length, advice)


def mlock(addr: int, length: int) -> None:
    """Lock a range into RAM (``mlock(2)``)."""
    _call("mlock", addr, length)


def mlockall(flags: int) -> None:
    """Lock the address space, now (MCL_CURRENT) and/or as it grows (MCL_FUTURE)."""
    _call("mlockall", flags)


def posix_typed_mem_open(name: str, oflag: int, tflag: int) -> int:
    """Open a typed memory object (POSIX Typed Memory Objects option); Unsupported if absent."""
    return _call("posix_typed_mem_open", name.encode(), oflag, tflag)


def munlock(addr: int, length: int) -> None:
    """Unlock a range (``munlock(2)``)."""
    _call("munlock", addr, length)


def mincore(addr: int, length: int) -> bytes:
    """Return one byte per page of the range; bit 0 says the page is resident."""
    pages = (length + PAGE_SIZE - 1) // PAGE_SIZE
    vec = ctypes.create_string_buffer(max(pages, 1))
    _call("mincore", addr, length, vec)
    return vec.raw[:pages]


def shm_open(name: str | bytes, oflag: int, mode: int = 0o600) -> int:
    """Open a POSIX shm object and return its fd (``shm_open(3)``)."""
    raw = name.encode() if isinstance(name, str) else name
    return _call("shm_open", raw, oflag, mode)


def shm_unlink(name: str | bytes) -> None:
    """Remove a POSIX shm object's name (``shm_unlink(3)``)."""
    raw = name.encode() if isinstance(name, str) else name
    _call("shm_unlink", raw)


def ftruncate(fd: int, length: int) -> None:
    """Set a file's size through the C library's ``ftruncate``."""
    _call("ftruncate", fd, length)


def shmget(key: int, size: int, flags: int) -> int:
    """Return the id of a System V shared memory segment (``shmget(2)``)."""
    return _call("shmget", key, size, flags)


def shmat(shmid: int, addr: int = 0, flags: int = 0) -> int:
    """Attach a System V segment and return its address (``shmat(2)``)."""
    return _call("shmat", shmid, addr or None, flags, failed=_map_failed) or 0


def shmdt(addr: int) -> None:
    """Detach a System V segment (``shmdt(2)``)."""
    _call("shmdt", addr)


def shmctl_rmid(shmid: int) -> None:
    """Mark a System V segment for removal (``shmctl(IPC_RMID)``)."""
    _call("shmctl", shmid, CONSTANTS["IPC_RMID"], None)


# The IPC calls below retry EINTR: their deadlines are absolute (or they never
# wait), so a signal arriving during a check must not end the check's wait early.

def sem_init(addr: int, pshared: int, value: int) -> None:
    """Initialise the unnamed POSIX semaphore at ``addr`` (``sem_init(3)``)."""
    _call("sem_init", addr, pshared, value, eintr_retry=True)


def sem_destroy(addr: int) -> None:
    """Destroy the unnamed POSIX semaphore at ``addr`` (``sem_destroy(3)``)."""
    _call("sem_destroy", addr, eintr_retry=True)


def sem_post(addr: int) -> None:
    """Increment the semaphore at ``addr``, waking one waiter (``sem_post(3)``)."""
    _call("sem_post", addr, eintr_retry=True)


def sem_timedwait(addr: int, deadline: Timespec) -> None:
    """Decrement the semaphore at ``addr``, waiting until ``deadline`` at most (ETIMEDOUT)."""
    _call("sem_timedwait", addr, ctypes.byref(deadline), eintr_retry=True)


def mq_open(name: str | bytes, oflag: int, mode: int = 0o600,
            attr: MqAttr | None = None) -> int:
    """Open a POSIX message queue and return its descriptor (``mq_open(3)``)."""
    raw = name.encode() if isinstance(name, str) else name
    return _call("mq_open", raw, oflag, mode, ctypes.byref(attr) if attr is not None else None,
                 eintr_retry=True)


def mq_close(mqd: int) -> None:
    """Close a POSIX message queue descriptor (``mq_close(3)``)."""
    _call("mq_close", mqd, eintr_retry=True)


def mq_unlink(name: str | bytes) -> None:
    """Remove a POSIX message queue's name (``mq_unlink(3)``)."""
    raw = name.encode() if isinstance(name, str) else name
    _call("mq_unlink", raw, eintr_retry=True)


def read(fd: int, size: int) -> bytes:
    """Return up to ``size`` bytes read from ``fd`` by the C library's ``read(2)``."""
    buffer = ctypes.create_string_buffer(size)
    n = _call("read", fd, buffer, size)
    return buffer.raw[:n]


def write(fd: int, data: bytes) -> int:
    """Write ``data`` to ``fd`` by the C library's ``write(2)``; return the count it reports."""
    return int(_call("write", fd, data, len(data)))


def mq_timedsend(mqd: int, data: bytes, deadline: Timespec, priority: int = 0) -> None:
    """Send ``data``, waiting for room until ``deadline`` at most (``mq_timedsend(3)``)."""
    _call("mq_timedsend", mqd, data, len(data), priority, ctypes.byref(deadline),
          eintr_retry=True)


def mq_timedreceive(mqd: int, size: int, deadline: Timespec) -> bytes:
    """Return the oldest message, waiting until ``deadline`` at most (``mq_timedreceive(3)``)."""
    buffer = ctypes.create_string_buffer(size)
    n = _call("mq_timedreceive", mqd, buffer, size, None, ctypes.byref(deadline),
              eintr_retry=True)
    return buffer.raw[:n]


def msgget(key: int, flags: int) -> int:
    """Return the id of a System V message queue (``msgget(2)``)."""
    return _call("msgget", key, flags, eintr_retry=True)


def _msgbuf(size: int) -> Any:
    class MsgBuf(ctypes.Structure):
        _fields_ = [("mtype", c_long), ("mtext", ctypes.c_char * size)]

    return MsgBuf()


def msgsnd(msqid: int, data: bytes, flags: int, mtype: int = 1) -> None:
    """Send ``data`` as a message of type ``mtype`` on a System V queue (``msgsnd(2)``)."""
    message = _msgbuf(len(data))
    message.mtype, message.mtext = mtype, data
    _call("msgsnd", msqid, ctypes.byref(message), len(data), flags, eintr_retry=True)


def msgrcv(msqid: int, size: int, flags: int, mtype: int = 0) -> bytes:
    """Return the text of a message (first of ``mtype``; 0: any) from a System V queue."""
    message = _msgbuf(size)
    n = _call("msgrcv", msqid, ctypes.byref(message), size, mtype, flags, eintr_retry=True)
    return ctypes.string_at(ctypes.addressof(message) + type(message).mtext.offset, n)


def msgctl_rmid(msqid: int) -> None:
    """Remove a System V message queue (``msgctl(IPC_RMID)``)."""
    _call("msgctl", msqid, CONSTANTS["IPC_RMID"], None, eintr_retry=True)


# --- processes and the C library -----------------------------------------------------------

def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Return what ``prctl(2)`` returns for ``option``; raise OSError when it returns -1."""
    return _call("prctl", option, arg2, arg3, arg4, arg5)


def unshare(flags: int) -> None:
    """Move this process into new namespaces (``unshare(2)``)."""
    _call("unshare", flags)


def mount(source: bytes | None, target: bytes, fstype: bytes | None, flags: int,
          data: bytes | None) -> None:
    """Mount ``source`` on ``target``, or change a mount's propagation (``mount(2)``)."""
    _call("mount", source, target, fstype, flags, data)


def umount2(target: bytes, flags: int) -> None:
    """Unmount the filesystem on ``target`` (``umount2(2)``)."""
    _call("umount2", target, flags)


def capget(header: CapHeader, data: ctypes.Array[CapData]) -> None:
    """Fill ``data`` with the capability sets of the process ``header`` names (``capget(2)``)."""
    _call("capget", ctypes.byref(header), data)


def capset(header: CapHeader, data: ctypes.Array[CapData]) -> None:
    """Set this process's capability sets to ``data`` (``capset(2)``)."""
    _call("capset", ctypes.byref(header), data)


def malloc(size: int) -> int:
    """Return the address of a ``malloc(size)`` block; raise OSError if it returned NULL."""
    return _call("malloc", size, failed=lambda r: r is None)


def free(addr: int) -> None:
    """Release a block :func:`malloc` returned (``free(3)``)."""
    _call("free", addr)


def strncpy(dest: int, src: bytes, n: int) -> None:
    """Copy at most ``n`` bytes of the C string ``src`` to ``dest`` (``strncpy(3)``; no errors)."""
    _call("strncpy", dest, src, n, failed=lambda _: False)


def gnu_get_libc_version() -> str:
    """Return the version of the running glibc (``"2.39"``); Unsupported on other C libraries."""
    return _call("gnu_get_libc_version", failed=lambda r: False).decode()


# --- raw memory ----------------------------------------------------------------------------

def read_bytes(addr: int, length: int) -> bytes:
    """Return ``length`` bytes read at ``addr`` (a fault here is the caller's signal)."""
    return ctypes.string_at(addr, length)


def write_bytes(addr: int, data: bytes) -> None:
    """Store ``data`` at ``addr``."""
    ctypes.memmove(addr, data, len(data))


def load(addr: int) -> int:
    """Return the byte at ``addr``: one load, nothing more."""
    return ctypes.c_ubyte.from_address(addr).value


def store(addr: int, value: int) -> None:
    """Store one byte at ``addr``."""
    ctypes.c_ubyte.from_address(addr).value = value & 0xFF


def c_string(addr: int) -> bytes:
    """Return the NUL-terminated string at ``addr``, as the C examples print it."""
    return ctypes.string_at(addr)
