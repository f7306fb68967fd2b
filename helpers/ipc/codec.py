"""The frame codec: how a message is written into the ring and read back, in one place.

A frame is ``layout.FRAME`` (position, length, check word) and the payload,
padded to ``layout.FRAME_ALIGN``.  The header never straddles the end of the
ring; a payload may (it then continues at offset 0).  Reading checks the
header against the reader's position and the published bytes before it
touches the payload, so garbage is ``CorruptChannel`` and never a read past
the ring.  Nothing here publishes or consumes: the caller moves ``HEAD`` and
``TAIL`` (``helpers.ipc.atomic``, edges 1 and 2).
"""

from __future__ import annotations

import zlib

from helpers.ipc import faults, layout
from helpers.ipc.errors import ChannelValueError, CorruptChannel

HDR = layout.FRAME_HEADER
TAG = layout.FRAME_TAG
MASK = -layout.FRAME_ALIGN
PAD = layout.FRAME_HEADER + layout.FRAME_ALIGN - 1
pack_into = layout.FRAME.pack_into
unpack_from = layout.FRAME.unpack_from


def size_of(length: int) -> int:
    """Return the bytes a payload of ``length`` bytes takes in the ring."""
    return (length + PAD) & MASK


def put(d: memoryview, cap: int, position: int, payload: bytes | memoryview,
        checksum: bool, armed: bool = False) -> None:
    """Write the frame of ``payload`` at absolute ``position`` of ring ``d``."""
    n = len(payload)
    off = position % cap
    start = off + HDR
    if start + n <= cap and not armed:  # the common case: one piece, no fault points
        d[start:start + n] = payload
        pack_into(d, off, position, n, zlib.crc32(payload) if checksum else n ^ TAG)
        return
    if start >= cap:
        start -= cap
    first = min(n, cap - start)
    half = min(first, n // 2) if armed else first
    d[start:start + half] = payload[:half]
    if armed:
        faults.hit("send.payload")
        d[start + half:start + first] = payload[half:first]
    if first < n:
        d[0:n - first] = payload[first:]
    pack_into(d, off, position, n, zlib.crc32(payload) if checksum else n ^ TAG)
    if armed:
        faults.hit("send.written")


def take_plain(d: memoryview, mm: object, doff: int, cap: int, tail: int, head: int,
               max_items: int, out: list) -> int:
    """Append whole, unwrapped frames from ``tail`` to ``out``; return the new tail.

    Stops at the first frame that wraps or fails a check, and leaves it to
    ``take`` (which raises for a bad one).  ``mm`` is the mapping: slicing
    it makes the ``bytes`` in one copy.
    """
    append = out.append
    while tail != head and len(out) < max_items:
        off = tail % cap
        pos, n, check = unpack_from(d, off)
        size = (n + PAD) & MASK
        if pos != tail or check != n ^ TAG or off + HDR + n > cap or size > head - tail:
            break
        start = doff + off + HDR
        append(mm[start:start + n])  # type: ignore[index]
        tail += size
    return tail


def take(d: memoryview, cap: int, tail: int, head: int, checksum: bool,
         into: memoryview | None, armed: bool = False) -> tuple[bytes | int, int]:
    """Return (payload, or its length when copied ``into``; frame size) of the frame at ``tail``."""
    off = tail % cap
    pos, n, check = unpack_from(d, off)
    size = (n + PAD) & MASK
    if pos != tail or size > head - tail:
        raise CorruptChannel(
            f"frame at position {tail} claims position {pos} and length {n}, "
            f"with {head - tail} bytes published"
        )
    if not checksum and check != n ^ TAG:
        raise CorruptChannel(f"frame at position {tail} has a bad check word {check:#x}")
    if armed:
        faults.hit("recv.header")
    start = off + HDR
    if start >= cap:
        start -= cap
    first = min(n, cap - start)
    if into is not None:
        if n > len(into):
            raise ChannelValueError(
                f"next message is {n} bytes, the buffer only {len(into)}; it stays queued"
            )
        into[:first] = d[start:start + first]
        if first < n:
            into[first:n] = d[0:n - first]
        payload: bytes | int = n
        crc_of = into[:n]
    else:
        if first < n:  # wrapped: one allocation, one copy of each piece
            payload = b"".join((d[start:start + first], d[0:n - first]))
        else:
            payload = bytes(d[start:start + first])
        crc_of = payload
    if checksum and zlib.crc32(crc_of) != check:
        raise CorruptChannel(f"frame at position {tail}: payload CRC-32 mismatch")
    if armed:
        faults.hit("recv.copied")
    return payload, size
