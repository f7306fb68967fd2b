"""Setting up and checking the shared part of a segment: header and control words.

The creator writes the header while it holds the object's exclusive
``flock``; an attacher takes the same lock (waiting no longer than its
timeout), reads the header through the descriptor before mapping anything,
then checks the live control words.  Lock words need no check: whatever
token they hold is either a live peer's (waited for, within the caller's
timeout) or recovered through liveness (``helpers.ipc.locks``).  When no
live peer holds a slot, waiter counts and sleep flags of earlier processes
(an earlier boot, or a crash) are reset; the messages in the ring stay.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
import uuid

from helpers.ipc import atomic, layout, liveness
from helpers.ipc.errors import ChannelError, CorruptChannel, errno_name

#: how long an attacher waits for a creator caught between O_EXCL and its lock.
SETTLE = 1.0
#: how many times an attacher reads the positions looking for a still TAIL.
SNAPSHOT_TRIES = 1000


def boot_id() -> bytes:
    """Return this boot's 16-byte id (zeros where the kernel does not say)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return uuid.UUID(handle.read().strip()).bytes
    except (OSError, ValueError):
        return bytes(16)


def lock_setup(fd: int, deadline: float, what: str) -> None:
    """Take the object's exclusive ``flock``, polling until ``deadline`` (monotonic)."""
    pause = 0.0002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR):
                raise ChannelError(f"cannot lock {what}: {errno_name(exc.errno)}") from exc
        if time.monotonic() >= deadline:
            raise ChannelError(f"{what} stayed locked by another process past the timeout")
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def initialise(mv: memoryview, geometry: layout.Geometry) -> None:
    """Write the header (creator only; the rest of a new object is zeros already)."""
    mv[: layout.HEADER_SIZE] = layout.pack_header(geometry)


def read_geometry(fd: int, name: str, info: os.stat_result, deadline: float,
                  lock_fd: int) -> layout.Geometry:
    """Read and check the static header through ``fd``, mapping nothing.

    The caller holds the setup lock through ``lock_fd``.
    """
    settle = min(time.monotonic() + SETTLE, deadline)
    while True:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, layout.HEADER_SIZE, 0)
        young = time.time() - info.st_ctime < SETTLE
        if raw.strip(b"\0") or not young or time.monotonic() > settle:
            break
        # Created a moment ago and not yet initialised: its creator is between
        # O_EXCL and taking the lock.  Give it the lock, then look again.
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        time.sleep(0.001)
        lock_setup(lock_fd, deadline, repr(name))
    geometry = layout.parse_header(raw, size)
    if geometry.owner_uid != info.st_uid:
        raise CorruptChannel(
            f"{name!r}: header names owner uid {geometry.owner_uid}, the object "
            f"belongs to {info.st_uid}"
        )
    return geometry


def positions_at_once(control: atomic.Control) -> tuple[int, int, bool]:
    """Return (HEAD, TAIL, whether they are of one instant) of a ring others may be using.

    An attacher checks the positions while peers send and receive; read one
    after the other, TAIL may have passed the HEAD read before it (a
    descheduled attacher can watch whole rings go by).  TAIL read before and
    after HEAD and found unchanged pins both to the instant HEAD was read.
    TAIL is read first either way, so HEAD is never behind it.
    """
    for _ in range(SNAPSHOT_TRIES):
        tail = control.tail.load(atomic.ACQUIRE)
        head = control.head.load(atomic.ACQUIRE)
        if control.tail.load(atomic.ACQUIRE) == tail:
            return head, tail, True
    return head, tail, False


def validate(control: atomic.Control, geometry: layout.Geometry, lock_fd: int) -> bool:
    """Check the live control words; return whether leftovers were reset (nobody alive).

    Runs under the setup lock.  Raises ``CorruptChannel`` for positions
    that cannot describe the ring.
    """
    head, tail, still = positions_at_once(control)
    # While TAIL never stood still, only the order of the two can be checked.
    problem = layout.check_positions(head, tail,
                                     geometry.capacity if still else layout.POSITION_LIMIT)
    if problem:
        raise CorruptChannel(problem)
    if liveness.anyone_alive(lock_fd, geometry.max_peers):
        return False
    for cell in (*control.attention, control.wake_tail):
        cell.store(0, atomic.SEQ_CST)
    return True
