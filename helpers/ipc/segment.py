"""Setting up and checking the shared part of a segment: header, mutexes, control words.

The creator initialises the mutexes and writes the header last, while it
holds the object's exclusive ``flock``; an attacher reads the header through
the descriptor before mapping anything, then checks the live mutexes and
control words under the same lock.  A file channel that survived a reboot
has mutexes, peer slots and biases of processes that cannot exist any more:
those are reset (the messages in the ring stay).
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid

from helpers.ipc import layout, liveness
from helpers.ipc.errors import CorruptChannel
from helpers.ipc.robust_mutex import initialise as initialise_mutex

MUTEXES = (layout.SEND_MUTEX, layout.RECV_MUTEX, layout.TABLE_MUTEX)
#: how long an attacher waits for a creator caught between O_EXCL and its lock.
SETTLE = 1.0
#: how long a table-lock holder that maps the segment but is not a peer yet may keep it.
HOLDER_GRACE = 2.0


def boot_id() -> bytes:
    """Return this boot's 16-byte id (zeros where the kernel does not say)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return uuid.UUID(handle.read().strip()).bytes
    except (OSError, ValueError):
        return bytes(16)


def mutex_kind(mv: memoryview, offset: int) -> int:
    """Return the libc's kind word of the mutex at ``offset``."""
    start = offset + layout.MUTEX_KIND_OFFSET
    return int.from_bytes(mv[start: start + 4], "little")


def initialise(mv: memoryview, base: int, geometry: layout.Geometry) -> layout.Geometry:
    """Set up the mutexes, then write the header (creator only); return the final geometry."""
    for offset in MUTEXES:
        initialise_mutex(base + offset)
    geometry = layout.Geometry(**{**geometry.__dict__,
                                  "mutex_kind": mutex_kind(mv, layout.SEND_MUTEX)})
    mv[: layout.HEADER_SIZE] = layout.pack_header(geometry)
    return geometry


def read_geometry(fd: int, name: str, info: os.stat_result) -> layout.Geometry:
    """Read and check the static header through ``fd`` (held with ``LOCK_EX``), mapping nothing."""
    settle = time.monotonic() + SETTLE
    while True:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, layout.HEADER_SIZE, 0)
        young = time.time() - info.st_ctime < SETTLE
        if raw.strip(b"\0") or not young or time.monotonic() > settle:
            break
        # Created a moment ago and not yet initialised: its creator is between
        # O_EXCL and taking the lock.  Give it the lock, then look again.
        fcntl.flock(fd, fcntl.LOCK_UN)
        time.sleep(0.001)
        fcntl.flock(fd, fcntl.LOCK_EX)
    geometry = layout.parse_header(raw, size)
    if geometry.owner_uid != info.st_uid:
        raise CorruptChannel(
            f"{name!r}: header names owner uid {geometry.owner_uid}, the object "
            f"belongs to {info.st_uid}"
        )
    return geometry


def validate(mv: memoryview, words: memoryview, base: int, geometry: layout.Geometry,
             info: os.stat_result) -> layout.Geometry:
    """Check the live mutexes and control words; return the geometry (reset after a reboot).

    ``info`` is the backing object's ``fstat``, to recognise the processes
    that have it mapped.
    """
    for offset in MUTEXES:
        if mutex_kind(mv, offset) != geometry.mutex_kind:
            raise CorruptChannel(
                f"mutex at offset {offset} is not the robust shared mutex the header describes"
            )
        check_lock_holder(mv, words, offset, geometry, info)
    boot = boot_id()
    if geometry.boot_id != boot:
        geometry = reset_after_reboot(mv, words, base, geometry, boot)
    layout.check_control(words, geometry)
    return geometry


def check_lock_holder(mv: memoryview, words: memoryview, offset: int,
                      geometry: layout.Geometry, info: os.stat_result) -> None:
    """Raise ``CorruptChannel`` unless the mutex at ``offset`` is free or held by a peer.

    Only peers enter a side, so only a peer can hold the send or receive
    lock.  A process that is not in the peer table yet may hold the table
    lock while it claims its slot; it has the segment mapped, so such a
    holder gets ``HOLDER_GRACE`` seconds to let go (it may be preempted on
    a busy machine).  A holder that does not even map the segment, or a word
    that never changes, was not written by a lock: waiting on it would never
    end.
    """
    for _ in range(1000):  # bounded: a word that keeps changing is a busy lock, not stale
        word = int.from_bytes(mv[offset:offset + 4], "little")
        problem = layout.check_lock_word(word)
        # The owner may have died between reading the word and looking for the
        # thread: the kernel rewrites the word before the thread disappears, so
        # only a word that is still the same afterwards is stale.
        if not problem or int.from_bytes(mv[offset:offset + 4], "little") == word:
            break
    if problem:
        raise CorruptChannel(f"mutex at offset {offset}: {problem}")
    tid = word & layout.FUTEX_TID_MASK
    if not tid or word & layout.FUTEX_OWNER_DIED:
        return
    peers = {words[layout.slot_word(slot, layout.SLOT_PID)]
             for slot in range(geometry.max_peers)
             if words[layout.slot_word(slot, layout.SLOT_IDENT)]}
    holder = liveness.process_of(tid)
    if holder is None or holder in peers or holder == os.getpid():
        return
    claiming = offset == layout.TABLE_MUTEX and liveness.maps_object(holder, info.st_dev,
                                                                     info.st_ino)
    deadline = time.monotonic() + (HOLDER_GRACE if claiming else 0)
    while time.monotonic() < deadline:
        if int.from_bytes(mv[offset:offset + 4], "little") != word:
            return
        time.sleep(0.001)
    raise CorruptChannel(
        f"mutex at offset {offset} is held by thread {tid} of process {holder}, "
        "which is not a peer of this channel"
    )


def reset_after_reboot(mv: memoryview, words: memoryview, base: int,
                       geometry: layout.Geometry, boot: bytes) -> layout.Geometry:
    """Reset mutexes, slots, biases and sleep flags of an earlier boot; return the new geometry."""
    for offset in MUTEXES:
        initialise_mutex(base + offset)
    start = layout.slot_word(0, 0)
    for index in range(start, start + geometry.max_peers * layout.SLOT_WORDS):
        words[index] = 0
    for index in (layout.SEND_OWNER, layout.RECV_OWNER, layout.SENDERS, layout.RECEIVERS,
                  layout.NO_FENCE, layout.RECV_SLEEP, layout.SEND_SLEEP, layout.WAKE_TAIL):
        words[index] = 0
    geometry = layout.Geometry(**{**geometry.__dict__, "boot_id": boot,
                                  "mutex_kind": mutex_kind(mv, layout.SEND_MUTEX)})
    mv[: layout.HEADER_SIZE] = layout.pack_header(geometry)
    return geometry
