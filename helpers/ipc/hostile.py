"""Corrupt and hostile channel headers, and what ``attach`` does with each.

A mutation rewrites one field of a real channel's header or control area
(or a run of raw bytes, or the object's size), optionally recomputing the
header CRC so that the checks behind it are reached too; an image may take
several at once (``random_mutations``).  ``attempt`` writes the mutated image
into a backing file, attaches, and if that succeeds uses the channel once in
each direction with a short timeout: the only acceptable outcomes are
``CorruptChannel`` at attach, or a channel whose calls raise nothing but
``ChannelError``.  ``isolated`` runs one attempt in a child with a deadline,
so that another exception, a crash of the process or a hang is counted as
what it is instead of stopping the run.
"""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from dataclasses import dataclass

from helpers.ipc import layout
from helpers.ipc.channel import Channel
from helpers.ipc.errors import ChannelError, CorruptChannel
from helpers.ipc.naming import fresh_name

#: name -> (byte offset, size in bytes) of every field a mutation may target.
FIELDS: dict[str, tuple[int, int]] = {
    "magic": (0, 8), "version": (8, 4), "header_size": (12, 4), "capacity": (16, 8),
    "data_offset": (24, 8), "total_size": (32, 8), "max_peers": (40, 4), "flags": (44, 4),
    "owner_uid": (48, 4), "lock_protocol": (52, 4), "created_ns": (56, 8),
    "creator_pid": (64, 8), "boot_id": (72, 16), "crc": (layout.HEADER.size, 4),
    "HEAD": (layout.HEAD, 8), "TAIL": (layout.TAIL, 8),
    "send_lock": (layout.SEND_LOCK, 4), "send_attention": (layout.SEND_ATTENTION, 4),
    "recv_lock": (layout.RECV_LOCK, 4), "recv_attention": (layout.RECV_ATTENTION, 4),
    "DATA_FUTEX": (layout.DATA_FUTEX, 4), "WAKE_TAIL": (layout.WAKE_TAIL, 8),
    "SPACE_FUTEX": (layout.SPACE_FUTEX, 4),
    "slot0": (layout.slot_offset(0), 8), "slot1": (layout.slot_offset(1), 8),
    "first_frame": (-1, 16),  # resolved against the image's data offset
}

#: values that break assumptions: zero, one, all ones, just past a bound, huge.
EDGE_VALUES = (0, 1, 2, 15, 16, 63, 64, 4095, 4096, 4097, 0x7FFFFFFF, 0xFFFFFFFF,
               1 << 32, 1 << 36, (1 << 63) - 1, (1 << 64) - 1)


@dataclass(frozen=True)
class Mutation:
    """One change to a channel image."""

    target: str  #: a name of ``FIELDS``, or "bytes" for a raw run at ``offset``
    value: int | bytes
    offset: int = 0
    fix_crc: bool = True
    size_delta: int = 0  #: bytes added to (or, negative, cut from) the object

    def describe(self) -> str:
        """Return the mutation as one line, for reports and failure messages."""
        shown = self.value.hex() if isinstance(self.value, bytes) else hex(self.value)
        where = f"@{self.offset}" if self.target == "bytes" else ""
        return (f"{self.target}{where}={shown} fix_crc={self.fix_crc} "
                f"size_delta={self.size_delta}")


def channel_image(messages: tuple[bytes, ...], *, max_peers: int,
                  tag: str = "template") -> tuple[bytes, int]:
    """Return (bytes, data offset) of a real, closed file channel holding ``messages``.

    The image is what hostile headers are cut from: a genuine channel, so a
    mutation that changes nothing must still attach and work.
    """
    path = fresh_name("file", tag)
    channel = Channel.create(path, 1024, backend="file", max_peers=max_peers)
    try:
        for message in messages:
            channel.send(message)
        data_offset = os.fstat(channel.fileno()).st_size - channel.capacity
        channel.close()
        with open(path, "rb") as handle:
            return handle.read(), data_offset
    finally:
        os.unlink(path)


def apply(image: bytes, mutation: Mutation, data_offset: int) -> bytes:
    """Return ``image`` with ``mutation`` applied (the CRC recomputed if asked)."""
    out = bytearray(image)
    if mutation.target == "bytes":
        raw = mutation.value if isinstance(mutation.value, bytes) else b""
        start = min(mutation.offset, len(out))
        out[start:start + len(raw)] = raw[: len(out) - start]
    else:
        offset, size = FIELDS[mutation.target]
        if offset < 0:
            offset = data_offset
        value = mutation.value
        raw = (value[:size].ljust(size, b"\0") if isinstance(value, bytes)
               else (value % (1 << (8 * size))).to_bytes(size, "little"))
        out[offset:offset + size] = raw
    if mutation.fix_crc and mutation.target != "crc":
        body = bytes(out[: layout.HEADER.size])
        out[layout.HEADER.size: layout.HEADER_SIZE] = layout.HEADER_CRC.pack(zlib.crc32(body))
    if mutation.size_delta > 0:
        out += bytes(mutation.size_delta)
    elif mutation.size_delta < 0:
        del out[max(len(out) + mutation.size_delta, 0):]
    return bytes(out)


def random_mutation(rng: random.Random, data_offset: int, *, resize: bool = True) -> Mutation:
    """Return a mutation drawn from ``rng`` (fields, edge values, raw bytes, sizes).

    ``resize=False`` leaves the size alone, for a segment in use: a peer that
    shrinks a shm or file channel under its users makes them fault
    (``SIGBUS``), a documented limit of those backends and not a finding.
    """
    roll = rng.random() if resize else rng.random() * 0.9  # sizes are the top tenth
    fix = rng.random() < 0.8
    if roll < 0.6:
        target = rng.choice(sorted(FIELDS))
        value: int | bytes = (rng.choice(EDGE_VALUES) if rng.random() < 0.5
                              else rng.getrandbits(64))
        return Mutation(target, value, fix_crc=fix)
    if roll < 0.9:
        length = rng.randint(1, 64)
        return Mutation("bytes", rng.randbytes(length), offset=rng.randrange(data_offset),
                        fix_crc=fix)
    delta = rng.choice((-1, 1)) * rng.choice((1, 8, 4096, data_offset))
    return Mutation("magic", b"mmchan\x00\x01", fix_crc=True, size_delta=delta)


def random_mutations(rng: random.Random, data_offset: int, *,
                     resize: bool = True) -> tuple[Mutation, ...]:
    """Return one to four mutations drawn from ``rng``, to apply together."""
    return tuple(random_mutation(rng, data_offset, resize=resize)
                 for _ in range(rng.randint(1, 4)))


def apply_all(image: bytes, mutations: tuple[Mutation, ...], data_offset: int) -> bytes:
    """Return ``image`` with every mutation applied in order."""
    for mutation in mutations:
        image = apply(image, mutation, data_offset)
    return image


#: outcomes of ``isolated`` that are findings.
FINDINGS = ("hang", "crash", "foreign exception")


def isolated(path: str, image: bytes, deadline: float = 5.0, *,
             live: tuple[Mutation, ...] = (), data_offset: int = 0) -> str:
    """Run ``attempt`` in a child; return its outcome, or a finding from ``FINDINGS``."""
    from helpers.ipc import procs

    child = procs.spawn(attempt, path, image, live=live, data_offset=data_offset)
    try:
        return child.join(timeout=deadline)
    except procs.ChildFailed:
        status = child.status or ""
        if status.startswith("timeout"):
            return "hang"
        return "foreign exception" if status == "exit 1" else "crash"
    finally:
        child.close()


def attempt(path: str, image: bytes, *, live: tuple[Mutation, ...] = (),
            data_offset: int = 0) -> str:
    """Write ``image`` to the file at ``path`` and attach; return the outcome's name.

    Returns ``"corrupt"`` (refused with ``CorruptChannel``), ``"refused"``
    (another ``ChannelError`` at attach) or ``"accepted"`` (attached, and a
    send and a receive without waiting raised only ``ChannelError``).  Any
    other exception propagates: that is the bug this looks for.  ``live``
    mutations are made after the attach, through the file, as another
    process sharing the segment would make them while this one uses it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.ftruncate(fd, len(image))
        os.pwrite(fd, image, 0)
    finally:
        os.close(fd)
    try:
        channel = Channel.attach(path, backend="file", timeout=1.0)
    except CorruptChannel:
        return "corrupt"
    except ChannelError:
        return "refused"
    try:
        if live:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            try:
                now = os.pread(fd, len(image), 0)
                os.pwrite(fd, apply_all(now, live, data_offset), 0)
            finally:
                os.close(fd)
        with contextlib.suppress(ChannelError):
            channel.send(b"probe", timeout=0.01)
        with contextlib.suppress(ChannelError):
            channel.recv(timeout=0.01)
        with contextlib.suppress(ChannelError):
            channel.recv_many(4, timeout=0.01)
    finally:
        with contextlib.suppress(ChannelError):
            channel.close()
    return "accepted"
