"""The channel's shared layout: one static header, control words, peer slots, the ring.

Everything a process needs to agree on with its peers is here, as data, so
that ``attach`` can check a segment before it trusts a single offset in it.
``parse_header`` is pure (bytes in, ``Geometry`` or ``CorruptChannel`` out)
and tests every bound before it uses a field.

Byte map of a segment (``data_offset`` is a multiple of 4096)::

    0     static header (HEADER, written once by the creator, CRC-protected)
    256   HEAD  line: bytes ever published by producers (u64, only grows)
    320   TAIL  line: bytes ever consumed (u64, only grows)
    384   send lock line: lock word (u32: 0 or the holder's token), send attention (u32:
          waiters for the send lock, and bit 31 "receivers asleep for data")
    448   recv lock line: the same for the consumer side ("senders asleep for room")
    512   data line: DATA futex word, bumped when receivers are woken
    576   room line: WAKE_TAIL (u64, the TAIL sleeping senders wait for), SPACE futex word
    640   peer slots, 8 bytes each (``max_peers`` of them): the occupant's token
    data_offset   the ring: ``capacity`` bytes of frames

Every hot word sits alone on its 64-byte line so that the producer's and the
consumer's stores do not bounce one cache line between cores.  Nothing in
the segment is a pointer: a lock word holds a token (a slot number and a
random generation), which any peer can check against the slot and against
the kernel's liveness lock of that slot (``helpers.ipc.liveness``).

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

MAGIC = b"mmchan\x00\x01"
VERSION = 2

#: magic, version, header size, capacity, data offset, total size, max peers,
#: flags, owner uid, lock protocol, created (ns), creator pid, boot id.
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

# Control words, as byte offsets into the segment.
HEAD = 256
TAIL = 320
SEND_LOCK = 384
SEND_ATTENTION = 388
RECV_LOCK = 448
RECV_ATTENTION = 452
#: the two sides, as indices into ``LOCKS`` and ``ATTENTION``.
SEND = 0
RECV = 1
LOCKS = (SEND_LOCK, RECV_LOCK)
#: what a side's holder looks at after leaving: the count of handles waiting for its
#: lock (low bits) and whether the other side sleeps waiting for it (``ASLEEP``).
ATTENTION = (SEND_ATTENTION, RECV_ATTENTION)
ASLEEP = 1 << 31
WAITER_MASK = (1 << 24) - 1
DATA_FUTEX = 520
WAKE_TAIL = 584
SPACE_FUTEX = 592
SLOTS = 640
SLOT_SIZE = 8

#: a token: the slot number + 1 in the low bits, a random generation above.
TOKEN_SLOT_BITS = 13
TOKEN_SLOT_MASK = (1 << TOKEN_SLOT_BITS) - 1
TOKEN_GENERATIONS = 1 << (32 - TOKEN_SLOT_BITS)
#: the lock protocol this code speaks, kept in the header's old mutex field.
LOCK_PROTOCOL = 2

PAGE = 4096
MIN_CAPACITY = 64
MAX_CAPACITY = 1 << 36
DEFAULT_MAX_PEERS = 64
MAX_PEERS = 4095  # slot number + 1 fits a token's low bits
#: positions stop here: a ring that has moved 2**62 bytes is refused, never wrapped.
POSITION_LIMIT = 1 << 62


@dataclass(frozen=True)
class Geometry:
    """The shape of one channel segment, as its static header describes it."""

    capacity: int
    max_peers: int
    flags: int
    data_offset: int
    total_size: int
    owner_uid: int
    lock_protocol: int
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


def slot_offset(index: int) -> int:
    """Return the byte offset of peer slot ``index``."""
    return SLOTS + index * SLOT_SIZE


def token_slot(token: int) -> int:
    """Return the slot number a lock token names (-1 for none)."""
    return (token & TOKEN_SLOT_MASK) - 1


def make_token(slot: int, generation: int) -> int:
    """Return the token of the occupant ``generation`` (>= 1) of slot ``slot``."""
    return (generation % TOKEN_GENERATIONS or 1) << TOKEN_SLOT_BITS | (slot + 1)


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
        geometry.lock_protocol,
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
     owner_uid, lock_protocol, created_ns, creator_pid, boot_id) = HEADER.unpack(body)
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
    if lock_protocol != LOCK_PROTOCOL:
        raise CorruptChannel(f"lock protocol {lock_protocol}, this code speaks {LOCK_PROTOCOL}")
    return Geometry(
        capacity=capacity,
        max_peers=max_peers,
        flags=flags,
        data_offset=data_offset,
        total_size=total_size,
        owner_uid=owner_uid,
        lock_protocol=lock_protocol,
        created_ns=created_ns,
        creator_pid=creator_pid,
        boot_id=boot_id,
    )


def check_positions(head: int, tail: int, capacity: int) -> str | None:
    """Return why (HEAD, TAIL) cannot describe a ring of ``capacity`` bytes, or None."""
    if head % FRAME_ALIGN or tail % FRAME_ALIGN:
        return f"HEAD {head} or TAIL {tail} is not {FRAME_ALIGN}-aligned"
    if not 0 <= head - tail <= capacity:
        return f"HEAD {head} - TAIL {tail} outside 0..capacity {capacity}"
    if head > POSITION_LIMIT:
        return f"HEAD {head} is past the position limit 2**62"
    return None
