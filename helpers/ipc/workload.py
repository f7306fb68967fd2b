"""Self-checking messages and the tallies that prove exactly-once, in-order delivery.

Every test message says who sent it and which of its messages it is, and
carries a CRC-32 over both and the body: a receiver can tell a torn or
garbled message from a whole one without knowing anything else.  A
``Tally`` records, per producer, what one receiver saw; merging the tallies
of all receivers shows lost, duplicated and out-of-order messages.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field

#: producer id, body length, sequence number, CRC-32 of the rest.
HEADER = struct.Struct("<IIQI")
MIN_SIZE = HEADER.size
_FILL = random.Random(1729).randbytes(1 << 21)


class TornMessage(Exception):
    """The message's CRC-32 or length does not match its content."""


def make(producer: int, seq: int, size: int) -> bytes:
    """Return a message of ``size`` bytes (at least ``MIN_SIZE``) for (producer, seq)."""
    body_len = max(size, MIN_SIZE) - HEADER.size
    start = (producer * 7919 + seq * 104729) % (len(_FILL) - body_len)
    body = _FILL[start:start + body_len]
    crc = zlib.crc32(body, zlib.crc32(struct.pack("<IIQ", producer, body_len, seq)))
    return HEADER.pack(producer, body_len, seq, crc) + body


def check(raw: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Return (producer, seq) of a whole message; raise ``TornMessage`` otherwise."""
    if len(raw) < HEADER.size:
        raise TornMessage(f"{len(raw)} bytes is shorter than a message header")
    producer, body_len, seq, crc = HEADER.unpack_from(raw)
    if body_len != len(raw) - HEADER.size:
        raise TornMessage(f"header says {body_len} body bytes, message has {len(raw) - 20}")
    body = memoryview(raw)[HEADER.size:]
    if zlib.crc32(body, zlib.crc32(struct.pack("<IIQ", producer, body_len, seq))) != crc:
        raise TornMessage(f"CRC-32 mismatch in message {producer}:{seq}")
    return producer, seq


def mark(bitmap: bytearray | memoryview, seq: int) -> bool:
    """Set bit ``seq`` of ``bitmap``; return whether it was already set."""
    index, bit = seq >> 3, 1 << (seq & 7)
    was = bitmap[index] & bit
    bitmap[index] |= bit
    return bool(was)


def is_marked(bitmap: bytes | bytearray | memoryview, seq: int) -> bool:
    """Return whether bit ``seq`` of ``bitmap`` is set."""
    return bool(bitmap[seq >> 3] & (1 << (seq & 7)))


def as_int(bitmap: bytes | bytearray | memoryview, bits: int) -> int:
    """Return the first ``bits`` bits of ``bitmap`` as one integer (bit i = message i)."""
    value = int.from_bytes(bytes(bitmap[: (bits + 7) >> 3]), "little")
    return value & ((1 << bits) - 1)


@dataclass
class Tally:
    """What one receiver saw: per producer a bitmap of sequence numbers, and the checks.

    A bitmap (one bit per message) keeps ten million messages in about a
    megabyte, so tallies travel back from child processes cheaply.  Order is
    checked as messages arrive: each producer's numbers must only grow.
    """

    seen: dict[int, bytearray] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    torn: int = 0
    out_of_order: int = 0
    duplicated: int = 0
    messages: int = 0
    bytes: int = 0
    #: False if the receiver gave up waiting instead of getting its stop message
    stopped: bool = False

    def record(self, raw: bytes | bytearray | memoryview) -> tuple[int, int] | None:
        """Check and count one received message; return (producer, seq) unless torn."""
        self.messages += 1
        self.bytes += len(raw)
        try:
            producer, seq = check(raw)
        except TornMessage:
            self.torn += 1
            return None
        bitmap = self.seen.get(producer)
        if bitmap is None:
            bitmap = self.seen[producer] = bytearray(1024)
        if seq >> 3 >= len(bitmap):
            bitmap.extend(bytes(max(len(bitmap), (seq >> 3) + 1 - len(bitmap))))
        if mark(bitmap, seq):
            self.duplicated += 1
        if seq <= self.last.get(producer, -1):
            self.out_of_order += 1
        self.last[producer] = seq
        return producer, seq


@dataclass(frozen=True)
class Verdict:
    """Exactly-once and order, over all receivers: every count must be zero."""

    received: int
    lost: int
    duplicated: int
    torn: int
    out_of_order: int
    unexpected: int

    @property
    def clean(self) -> bool:
        """Return whether nothing was lost, duplicated, torn, reordered or made up."""
        return not (self.lost or self.duplicated or self.torn or self.out_of_order
                    or self.unexpected)


def verify(tallies: list[Tally], sent: dict[int, int]) -> Verdict:
    """Return the verdict for ``tallies`` against ``sent`` (producer -> messages sent).

    A message seen by two receivers, or twice by one, is duplicated; one of
    ``sent`` seen by none is lost; anything else received is unexpected.
    """
    lost = unexpected = 0
    duplicated = sum(t.duplicated for t in tallies)
    for producer in {p for t in tallies for p in t.seen} | set(sent):
        count = sent.get(producer, 0)
        union = 0
        for tally in tallies:
            bitmap = tally.seen.get(producer)
            if bitmap is None:
                continue
            bits = as_int(bitmap, len(bitmap) * 8)
            duplicated += (union & bits).bit_count()
            union |= bits
        expected = (1 << count) - 1
        lost += (expected & ~union).bit_count()
        unexpected += (union & ~expected).bit_count()
    return Verdict(
        received=sum(t.messages for t in tallies),
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        torn=sum(t.torn for t in tallies),
        out_of_order=sum(t.out_of_order for t in tallies),
    )
