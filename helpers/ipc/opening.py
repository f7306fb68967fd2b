"""Opening a channel's backing object: arguments, the new object, an existing one, checks.

Everything here happens before a byte of the segment is mapped: names and
numbers are checked, a new object is created exclusively and allocated, an
existing one must be a regular object of this user that group and others
cannot write (a passed descriptor must be a sealed memfd), and its header is
read through the descriptor under the setup lock.  ``helpers.ipc.channel``
maps what this hands it.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import time
from dataclasses import dataclass
from types import ModuleType

from helpers.ipc import arguments, atomic, backends, futex, layout, liveness, segment
from helpers.ipc.backends import memfd, storage
from helpers.ipc.errors import (
    ChannelError,
    ChannelPermissionError,
    ChannelTypeError,
    ChannelValueError,
    CorruptChannel,
    from_oserror,
)

#: how long attach, from_fd and create wait for the setup lock by default.
SETUP_TIMEOUT = 5.0


@dataclass
class Opened:
    """A backing object ready to map: descriptor, backend, name and geometry."""

    fd: int
    impl: ModuleType
    name: str
    geometry: layout.Geometry
    use_futex: bool
    deadline: float


def check_wait(wait: object) -> bool:
    """Return whether to sleep on futexes; refuse where sound atomics are missing."""
    if wait not in ("auto", "futex", "poll"):
        raise ChannelValueError(f"wait must be 'auto', 'futex' or 'poll', got {wait!r}")
    if wait == "futex" and not futex.AVAILABLE:
        raise ChannelError(f"futex waits unavailable: {futex.unavailable_reason()}")
    reason = atomic.unavailable_reason()
    if reason is not None:
        raise ChannelError(f"refusing to run without real atomics: {reason}")
    return wait != "poll" and futex.AVAILABLE


def setup_deadline(timeout: object) -> float:
    """Return the monotonic deadline of an attach (None as timeout: the default)."""
    if timeout is None:
        return time.monotonic() + SETUP_TIMEOUT
    deadline = arguments.deadline(timeout)
    return math.inf if deadline is None else deadline  # too large for a float: no limit


def new(name: str, capacity: int, backend: str, mode: int, max_peers: int, checksum: bool,
        wait: str) -> Opened:
    """Create and allocate a new object (``O_EXCL``) and return it with its geometry."""
    impl = backends.get(backend)
    name = impl.check_name(name)
    capacity = layout.round_capacity(
        arguments.integer(capacity, "capacity", 1, layout.MAX_CAPACITY)
    )
    capacity = max(capacity, layout.MIN_CAPACITY)
    mode = arguments.integer(mode, "mode", 0, 0o777)
    if mode & 0o600 != 0o600:
        raise ChannelValueError(f"mode {mode:#o} must let the owner read and write (0o600)")
    if mode & 0o022:
        raise ChannelValueError(f"mode {mode:#o} lets group or others write the channel")
    max_peers = arguments.integer(max_peers, "max_peers", 1, layout.MAX_PEERS)
    if not isinstance(checksum, bool):
        raise ChannelTypeError(f"checksum must be a bool, got {type(checksum).__name__}")
    use_futex = check_wait(wait)
    data_offset = layout.data_offset_for(max_peers)
    total = data_offset + capacity
    fd = impl.create(name, mode)
    try:
        storage.allocate(fd, total, f"{impl.KIND} channel {name!r}")
        if impl is memfd:
            memfd.seal(fd)
        geometry = layout.Geometry(
            capacity=capacity, max_peers=max_peers,
            flags=layout.FLAG_CHECKSUM if checksum else 0,
            data_offset=data_offset, total_size=total, owner_uid=os.fstat(fd).st_uid,
            lock_protocol=layout.LOCK_PROTOCOL, created_ns=time.time_ns(),
            creator_pid=os.getpid(), boot_id=segment.boot_id(),
        )
    except BaseException:
        discard(fd, impl, name)
        raise
    return Opened(fd, impl, name, geometry, use_futex, time.monotonic() + SETUP_TIMEOUT)


def discard(fd: int, impl: ModuleType, name: str) -> None:
    """Close a half-made object's descriptor and remove its name."""
    os.close(fd)
    if impl is not memfd:
        with contextlib.suppress(ChannelError):
            impl.unlink(name)


def named(name: str, backend: str, wait: str, timeout: object) -> Opened:
    """Open the existing channel object ``name`` and read its geometry."""
    impl = backends.get(backend)
    name = impl.check_name(name)
    use_futex = check_wait(wait)
    deadline = setup_deadline(timeout)
    fd = impl.open_existing(name)
    try:
        return _existing(fd, impl, name, use_futex, deadline)
    except BaseException:
        os.close(fd)
        raise


def descriptor(fd: object, wait: str, timeout: object) -> Opened:
    """Duplicate ``fd``, which must be a sealed memfd channel, and read its geometry."""
    fd = arguments.integer(fd, "fd", 0, (1 << 31) - 1)  # a C int
    use_futex = check_wait(wait)
    deadline = setup_deadline(timeout)
    try:
        own = os.dup(fd)
    except OSError as exc:
        raise ChannelValueError(f"fd {fd} is not an open descriptor") from exc
    try:
        try:
            seals = memfd.seals(own)
        except OSError:
            seals = 0
        if seals & memfd.SEALS != memfd.SEALS:
            raise ChannelPermissionError(
                f"fd {fd} is not a memfd sealed against shrink, grow and seal "
                f"(seals {seals:#x}): its size could change under this process"
            )
        return _existing(own, memfd, f"fd:{fd}", use_futex, deadline)
    except BaseException:
        os.close(own)
        raise


def _existing(fd: int, impl: ModuleType, name: str, use_futex: bool,
              deadline: float) -> Opened:
    """Check the object behind ``fd`` and read its geometry; a failed call is a ``ChannelError``."""
    try:
        return _checked(fd, impl, name, use_futex, deadline)
    except ChannelError:
        raise
    except OSError as exc:  # e.g. EIO from an object that is not a channel at all
        raise from_oserror(exc, f"reading {name!r}") from exc


def _checked(fd: int, impl: ModuleType, name: str, use_futex: bool,
             deadline: float) -> Opened:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise CorruptChannel(f"{name!r} is not a regular file or shm object")
    if info.st_uid != os.geteuid():
        raise ChannelPermissionError(
            f"{name!r} belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()}); "
            "a channel is only shared between processes of its owner"
        )
    if info.st_mode & 0o022:
        raise ChannelPermissionError(
            f"{name!r} has mode {stat.S_IMODE(info.st_mode):#o}: anyone may write it"
        )
    lock_fd = liveness.open_private(fd)
    try:  # closing lock_fd drops the setup lock; the channel takes it again once mapped
        segment.lock_setup(lock_fd, deadline, repr(name))
        geometry = segment.read_geometry(fd, name, info, deadline, lock_fd)
    finally:
        os.close(lock_fd)
    return Opened(fd, impl, name, geometry, use_futex, deadline)
