"""The channel's shared layout: one static header, control words, peer slots, the ring.

Everything a process needs to agree on with its peers is here, as data, so
that ``attach`` can check a segment before it trusts a single offset in it.
``parse_header`` is pure (bytes in, ``Geometry`` or ``CorruptChannel`` out)
and tests every bound before it uses a field.

Byte map of a segment (``data_offset`` is a multiple of 4096)::

    0     static header (HEADER, written once by the creator, CRC-protected)
    256   HEAD  line: bytes ever published by producers (u64, only grows)
    320   TAIL  line: bytes ever consumed (u64, only grows)
    384   owners line: biased send/recv owner, sender/receiver counts, flags
    448   receiver-sleep line: RECV_SLEEP flag, DATA futex word
    512   sender-sleep line: SEND_SLEEP flag, WAKE_TAIL, SPACE futex word
    576   three process-shared robust mutexes, 64 bytes each (send, recv, table)
    768   peer slots, 64 bytes each (``max_peers`` of them)
    data_offset   the ring: ``capacity`` bytes of frames

Every hot word sits alone on its 64-byte line so that the producer's and the
consumer's stores do not bounce one cache line between cores.

A frame is a 16-byte header (``FRAME``: position, length, check word) and the
payload, padded to 16 bytes.  The position is the frame's absolute byte
offset (HEAD at the time it was written), so a frame left over from an
earlier lap of the ring, or garbage, never matches; the check word is the
payload's CRC-32 when the channel was created with ``checksum=True`` and
``length ^ FRAME_TAG`` otherwise.  A frame header never straddles the end of
the ring (positions and the capacity are multiples of 16); a payload may.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from helpers.ipc.errors import CorruptChannel
from helpers.ipc.liveness import thread_exists

MAGIC = b"mmchan\x00\x01"
VERSION = 1

#: magic, version, header size, capacity, data offset, total size, max peers,
#: flags, owner uid, mutex fingerprint, created (ns), creator pid, boot id.
HEADER = struct.Struct("<8sIIQQQIIIIQQ16s")
HEADER_CRC = struct.Struct("<I")
HEADER_SIZE = HEADER.size + HEADER_CRC.size
STATIC_AREA = 256

FLAG_CHECKSUM = 1
KNOWN_FLAGS = FLAG_CHECKSUM

#: Native layout on purpose: the frame is written and read on the hot path by
#: processes of one machine, and ``struct`` packs native "Q" with one store.
FRAME = struct.Struct("QII")
FRAME_HEADER = FRAME.size
FRAME_ALIGN = 16
FRAME_TAG = 0x4D434652  # "MCFR"

# Control words, as indices into the segment viewed as u64 ("Q").
HEAD = 256 // 8
TAIL = 320 // 8
SEND_OWNER = 384 // 8
RECV_OWNER = SEND_OWNER + 1
SENDERS = SEND_OWNER + 2
RECEIVERS = SEND_OWNER + 3
NO_FENCE = SEND_OWNER + 4  # set by a peer that cannot take part in membarrier
RECV_SLEEP = 448 // 8
SEND_SLEEP = 512 // 8
WAKE_TAIL = SEND_SLEEP + 1

# Futex words, as indices into the segment viewed as u32 ("I").
DATA_FUTEX = (448 + 8) // 4
SPACE_FUTEX = (512 + 16) // 4

MUTEX_SIZE = 64
SEND_MUTEX = 576
RECV_MUTEX = SEND_MUTEX + MUTEX_SIZE
TABLE_MUTEX = RECV_MUTEX + MUTEX_SIZE
#: offset of the int a libc keeps the mutex kind in (glibc and musl: 16).
MUTEX_KIND_OFFSET = 16
# The robust futex protocol of the kernel (futex(2)): the lock word is the
# owner's thread id plus two flag bits.
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF

SLOTS = TABLE_MUTEX + MUTEX_SIZE
SLOT_SIZE = 64
SLOT_WORDS = SLOT_SIZE // 8
# Fields of a slot, as u64 offsets from the slot's first word.
SLOT_IDENT = 0  # (random << 16) | (index + 1); 0 = free
SLOT_PID = 1
SLOT_START = 2  # process start time in clock ticks, to tell a reused pid
SLOT_ROLES = 3
SLOT_BUSY_SEND = 4
SLOT_BUSY_RECV = 5

ROLE_SEND = 1
ROLE_RECV = 2

PAGE = 4096
MIN_CAPACITY = 64
MAX_CAPACITY = 1 << 36
DEFAULT_MAX_PEERS = 64
MAX_PEERS = 4096
PID_LIMIT = 1 << 22  # the kernel's pid_max can never exceed this


@dataclass(frozen=True)
class Geometry:
    """The shape of one channel segment, as its static header describes it."""

    capacity: int
    max_peers: int
    flags: int
    data_offset: int
    total_size: int
    owner_uid: int
    mutex_kind: int
    created_ns: int
    creator_pid: int
    boot_id: bytes

    @property
    def checksum(self) -> bool:
        """Return whether frames carry a CRC-32 of their payload."""
        return bool(self.flags & FLAG_CHECKSUM)

    @property
    def max_message(self) -> int:
        """Return the largest payload that can ever fit in the ring."""
        return self.capacity - FRAME_HEADER


def round_capacity(capacity: int) -> int:
    """Return ``capacity`` rounded up to the frame alignment (16 bytes)."""
    return (capacity + FRAME_ALIGN - 1) & -FRAME_ALIGN


def data_offset_for(max_peers: int) -> int:
    """Return where the ring starts for a table of ``max_peers`` slots."""
    end = SLOTS + SLOT_SIZE * max_peers
    return (end + PAGE - 1) & -PAGE


def frame_size(length: int) -> int:
    """Return the bytes a payload of ``length`` bytes takes in the ring."""
    return (length + FRAME_HEADER + FRAME_ALIGN - 1) & -FRAME_ALIGN


def slot_word(index: int, field: int) -> int:
    """Return the u64 index of ``field`` in peer slot ``index``."""
    return SLOTS // 8 + index * SLOT_WORDS + field


def ident_slot(ident: int) -> int:
    """Return the slot index encoded in a peer identity (-1 for none)."""
    return (ident & 0xFFFF) - 1


def pack_header(geometry: Geometry) -> bytes:
    """Return the static header bytes for ``geometry``, CRC included."""
    body = HEADER.pack(
        MAGIC,
        VERSION,
        HEADER_SIZE,
        geometry.capacity,
        geometry.data_offset,
        geometry.total_size,
        geometry.max_peers,
        geometry.flags,
        geometry.owner_uid,
        geometry.mutex_kind,
        geometry.created_ns,
        geometry.creator_pid,
        geometry.boot_id,
    )
    return body + HEADER_CRC.pack(zlib.crc32(body))


def parse_header(raw: bytes, file_size: int) -> Geometry:
    """Return the geometry ``raw`` describes, or raise ``CorruptChannel``.

    ``file_size`` is the size of the backing object as the kernel reports it:
    a header that claims more than is there would let a later access run
    past the end of the mapping (``SIGBUS``), so it is refused here.  Checks
    run in an order where each one only uses fields already proven sane.
    """
    if len(raw) < HEADER_SIZE:
        raise CorruptChannel(f"header is {len(raw)} bytes, expected at least {HEADER_SIZE}")
    if file_size < STATIC_AREA:
        raise CorruptChannel(f"backing object is {file_size} bytes, too small to be a channel")
    body = bytes(raw[: HEADER.size])
    (magic, version, header_size, capacity, data_offset, total_size, max_peers, flags,
     owner_uid, mutex_kind, created_ns, creator_pid, boot_id) = HEADER.unpack(body)
    if magic != MAGIC:
        raise CorruptChannel(f"bad magic {magic!r}, expected {MAGIC!r}: not a channel")
    if version != VERSION:
        raise CorruptChannel(f"layout version {version}, this code reads version {VERSION}")
    if header_size != HEADER_SIZE:
        raise CorruptChannel(f"header size {header_size}, expected {HEADER_SIZE}")
    (crc,) = HEADER_CRC.unpack_from(raw, HEADER.size)
    if crc != zlib.crc32(body):
        raise CorruptChannel(f"header CRC-32 {crc:#010x} does not match {zlib.crc32(body):#010x}")
    if not 1 <= max_peers <= MAX_PEERS:
        raise CorruptChannel(f"max_peers {max_peers} outside 1..{MAX_PEERS}")
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY or capacity % FRAME_ALIGN:
        raise CorruptChannel(
            f"capacity {capacity} is not a multiple of {FRAME_ALIGN} "
            f"in {MIN_CAPACITY}..{MAX_CAPACITY}"
        )
    expected_offset = data_offset_for(max_peers)
    if data_offset != expected_offset:
        raise CorruptChannel(f"data offset {data_offset}, geometry implies {expected_offset}")
    if total_size != data_offset + capacity:
        raise CorruptChannel(f"total size {total_size} != data offset + capacity")
    if total_size != file_size:
        raise CorruptChannel(
            f"header describes {total_size} bytes but the backing object has {file_size}"
        )
    if flags & ~KNOWN_FLAGS:
        raise CorruptChannel(f"unknown flags {flags:#x}")
    if not 0 < creator_pid < PID_LIMIT:
        raise CorruptChannel(f"creator pid {creator_pid} is not a pid")
    return Geometry(
        capacity=capacity,
        max_peers=max_peers,
        flags=flags,
        data_offset=data_offset,
        total_size=total_size,
        owner_uid=owner_uid,
        mutex_kind=mutex_kind,
        created_ns=created_ns,
        creator_pid=creator_pid,
        boot_id=boot_id,
    )


def check_control(words: memoryview, geometry: Geometry) -> None:
    """Raise ``CorruptChannel`` unless the live control words are within bounds.

    ``words`` is the segment viewed as u64.  Positions must be frame-aligned
    with at most ``capacity`` bytes between them; owners must name a slot of
    the table; counts cannot exceed the table; slots must hold plausible pids.
    """
    # Live peers move both positions while this runs, so TAIL is read before
    # and after HEAD: the true TAIL at the moment HEAD was read lies between.
    tail, head, tail_after = words[TAIL], words[HEAD], words[TAIL]
    if head % FRAME_ALIGN or tail % FRAME_ALIGN:
        raise CorruptChannel(f"HEAD {head} or TAIL {tail} is not {FRAME_ALIGN}-aligned")
    if not tail <= tail_after or head < tail or head - tail_after > geometry.capacity:
        raise CorruptChannel(
            f"HEAD {head} - TAIL {tail} outside 0..capacity {geometry.capacity}"
        )
    for index, name in ((SEND_OWNER, "send owner"), (RECV_OWNER, "recv owner")):
        owner = words[index]
        if owner and not 0 <= ident_slot(owner) < geometry.max_peers:
            raise CorruptChannel(f"{name} {owner:#x} names no slot of {geometry.max_peers}")
    for index, name in ((SENDERS, "sender count"), (RECEIVERS, "receiver count")):
        if words[index] > geometry.max_peers:
            raise CorruptChannel(f"{name} {words[index]} exceeds max_peers {geometry.max_peers}")
    for slot in range(geometry.max_peers):
        ident = words[slot_word(slot, SLOT_IDENT)]
        if not ident:
            continue
        pid = words[slot_word(slot, SLOT_PID)]
        if ident_slot(ident) != slot or not 0 < pid < PID_LIMIT:
            raise CorruptChannel(f"peer slot {slot} holds identity {ident:#x} and pid {pid}")
        if words[slot_word(slot, SLOT_ROLES)] & ~(ROLE_SEND | ROLE_RECV):
            raise CorruptChannel(f"peer slot {slot} has unknown role bits")


def check_lock_word(word: int) -> str | None:
    """Return why a robust mutex's lock word cannot be real, or None if it can.

    A robust lock word is 0 (free), an owner's thread id with flag bits, or,
    after the owner died, ``FUTEX_OWNER_DIED`` (the kernel clears the thread
    id then).  A word that names a thread that does not exist, without that
    bit, was not written by the lock: waiting on it would never end.
    """
    if not word or word & FUTEX_OWNER_DIED:
        return None
    tid = word & FUTEX_TID_MASK
    if not tid:
        return f"lock word {word:#010x} has flag bits but no owner"
    if not thread_exists(tid):
        return f"lock word {word:#010x} names thread {tid}, which does not exist"
    return None

