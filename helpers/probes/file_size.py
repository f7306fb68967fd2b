"""Probes about a file's size under a mapping: what grows it, what does not, what the tail holds.

Only calls that set the size grow a file (ftruncate, truncate, write at or
past the end, fallocate); ``lseek`` moves the offset and stores through a
mapping never change the size.  Each probe notes the size it saw before the
access that may fault, so the evidence survives a SIGBUS.
"""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.eof import map_with_layout
from helpers.probes.fork import Mapped

RW = libc.PROT_READ | libc.PROT_WRITE


def _map(fd: int, length: int) -> int:
    """Return the address of a MAP_SHARED read-write mapping of ``length`` bytes of ``fd``."""
    return libc.mmap(0, length, RW, libc.MAP_SHARED, fd, 0)


def store_keeps_size(path: str, length: int, at: int, *, grow_to: int | None = None,
                     data: bytes = b"S") -> dict[str, Any]:
    """Map ``length`` bytes, maybe ftruncate to ``grow_to``, store ``data`` at ``at``; return sizes.

    Returns the file's size before and after the store (a store never
    changes it) and what the mapping reads back.  The sizes are read by
    path, as :func:`stat_size` reads the size the check compares them with:
    one way of asking on both sides, so that a platform whose fstat of a
    mapped file differs from its stat cannot pass for a store that grew it.
    """
    fd = os.open(path, os.O_RDWR)
    addr = _map(fd, length)
    if grow_to is not None:
        os.ftruncate(fd, grow_to)  # after mmap: the existing mapping gains the new pages
    before = os.stat(path).st_size
    note(base=addr, size_before=before)
    libc.write_bytes(addr + at, data)
    after = os.stat(path).st_size
    release(fd)
    return {"size_before": before, "size_after": after,
            "reads_back": libc.read_bytes(addr + at, len(data)).hex()}


def write_first_then_store(path: str, first: bytes, length: int, at: int,
                           data: bytes) -> dict[str, Any]:
    """Write ``first`` into the (new, empty) file, map ``length`` bytes, store ``data`` at ``at``.

    Returns the file's size, its content (read for ``size + len(data)``
    bytes), ``data`` as stored (the bytes that landed past end of file are
    not in the file) and whether the bytes stored over ``first`` reached it.
    """
    fd = os.open(path, os.O_RDWR)
    os.write(fd, first)
    addr = _map(fd, length)
    note(base=addr, size=os.fstat(fd).st_size)
    libc.write_bytes(addr + at, data)
    size = os.fstat(fd).st_size
    content = os.pread(fd, size + len(data), 0)
    release(fd)
    over = content[at:len(first)]
    return {"size": size, "file": content.hex(), "stored": data.hex(),
            "mapping": libc.read_bytes(addr + at, len(data)).hex(),
            "over_data_in_file": over == data[:len(over)] if over else None}


def extend_then_touch(path: str, how: str, n: int, at: list[int]) -> dict[str, Any]:
    """Extend the empty file ``path`` to ``n`` bytes by ``how``, map ``n`` bytes, store at ``at``.

    ``how``: ``lseek`` (to ``n``, nothing else), ``lseek+write`` (to
    ``n - 1``, then one byte), ``lseek-to-n+write`` (to ``n``, then one
    byte), ``truncate`` or ``ftruncate``.  The size is noted before the
    stores; a store into a page wholly past end of file ends the probe by
    SIGBUS, the note saying which offset it was.
    """
    fd = os.open(path, os.O_RDWR)
    if how == "lseek":
        os.lseek(fd, n, os.SEEK_SET)
    elif how == "lseek+write":
        os.lseek(fd, n - 1, os.SEEK_SET)
        os.write(fd, b"\0")
    elif how == "lseek-to-n+write":
        os.lseek(fd, n, os.SEEK_SET)
        os.write(fd, b"\0")
    elif how == "truncate":
        os.truncate(path, n)
    elif how == "ftruncate":
        os.ftruncate(fd, n)
    else:
        raise ValueError(f"unknown way to extend a file: {how!r}")
    size = os.fstat(fd).st_size
    addr = _map(fd, n)
    release(fd)
    for offset in at:
        note(base=addr, size=size, touching=offset)
        libc.store(addr + offset, ord("E"))
    return {"size": size, "stored_at": at}


def truncate_then_use(path: str, pages: int, layer: str) -> dict[str, Any]:
    """``truncate`` the empty file to ``pages`` pages, map it, read it all, store into each page.

    Returns whether the mapping read all zeros and whether the file (read
    through a descriptor) holds each page's stored marker.
    """
    size = pages * libc.PAGE_SIZE
    os.truncate(path, size)
    fd = os.open(path, os.O_RDWR)
    mapped = Mapped(layer, size, fd=fd)
    zeros = mapped.read(0, size) == bytes(size)
    markers = [f"page{i}".encode() for i in range(pages)]
    for i, marker in enumerate(markers):
        mapped.write(i * libc.PAGE_SIZE, marker)
    in_file = [os.pread(fd, len(m), i * libc.PAGE_SIZE) == m for i, m in enumerate(markers)]
    release(fd)
    return {"size": size, "all_zero": zeros, "file_has_markers": in_file}


def store_in_tail_then_grow(path: str, at: int, grow_to: int, *,
                            unmap_first: bool) -> dict[str, Any]:
    """Store 'Z' into the tail of the last page past end of file, then ftruncate to ``grow_to``.

    Returns the size and whether the file contains 'Z' before the growth,
    and the byte read at ``at`` through a descriptor after it (ftruncate(2):
    the extended part reads as null bytes).  With ``unmap_first`` the
    mapping is gone before the growth.  The msync that precedes the look at
    the file is a step, not the question: its errno is returned (None on
    success).
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    addr = _map(fd, libc.PAGE_SIZE)
    note(base=addr, size=size)
    libc.store(addr + at, ord("Z"))
    seen_in_mapping = libc.load(addr + at)
    synced = libc.errno_of(libc.msync, addr, libc.PAGE_SIZE, libc.MS_SYNC)
    content = os.pread(fd, libc.PAGE_SIZE, 0)
    size_after_store = os.fstat(fd).st_size
    if unmap_first:
        libc.munmap(addr, libc.PAGE_SIZE)
    os.ftruncate(fd, grow_to)
    grown = os.pread(fd, 1, at)[0]
    release(fd)
    return {"size": size, "size_after_store": size_after_store, "mapping_reads": seen_in_mapping,
            "file_holds_z": b"Z" in content, "byte_after_growth": grown, "msync_errno": synced}


def grow_under_mapping(path: str, length: int, grow_to: int, at: int) -> dict[str, Any]:
    """Map ``length`` bytes, then ftruncate the file to ``grow_to`` and load/store at ``at``.

    Returns the byte loaded (new bytes read as zero), the byte stored ('G')
    and the byte read back after it, through the mapping made before the growth.
    """
    fd = os.open(path, os.O_RDWR)
    addr = _map(fd, length)
    os.ftruncate(fd, grow_to)
    note(base=addr, size=os.fstat(fd).st_size)
    release(fd)
    first = libc.load(addr + at)
    marker = ord("G")
    libc.store(addr + at, marker)
    return {"loaded": first, "stored": marker, "after_store": libc.load(addr + at)}


def stat_size(path: str) -> dict[str, int]:
    """Return the size of the file at ``path`` as stat(2) reports it now."""
    return {"size": os.stat(path).st_size}


def map_without_touching(path: str, length: int) -> dict[str, Any]:
    """Map ``length`` bytes of ``path`` and take the first byte's address without accessing it.

    What Go's ``&b[0]`` does: an address computation, no load.
    """
    fd = os.open(path, os.O_RDWR)
    addr = _map(fd, length)
    size = os.fstat(fd).st_size
    release(fd)
    first_byte_address = addr + 0
    return {"size": size, "address_page_offset": first_byte_address % libc.PAGE_SIZE}


def access_in_guarded_mapping(path: str, length: int, at: int, write: bool) -> int:
    """Map ``length`` bytes of ``path`` with a PROT_NONE page after it; access byte ``at``.

    Returns the byte read (after storing 'W' when ``write``); faults end the
    probe with the signal.
    """
    fd = os.open(path, os.O_RDWR)
    addr = map_with_layout(fd, length, "guard")
    note(base=addr, size=os.fstat(fd).st_size)
    release(fd)
    if write:
        libc.store(addr + at, ord("W"))
    return libc.load(addr + at)
