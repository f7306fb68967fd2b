"""Probes of a file truncated, by another process, under a live shared mapping.

The probe maps the whole file, then a :class:`~helpers.probes.faults_peer.Peer`
(a separate process that opened the file by its path) shrinks it with
``ftruncate``; the probe only learns of it through what its mapping does.
Two layers: the C calls through :mod:`helpers.libc`, and Python's ``mmap``
object, whose own idea of its length does not change when the file does.
"""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes.faults_peer import Peer


def _truncate(path: str, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


class _Mapping:
    """One shared read-write mapping of a whole file, through libc or Python's mmap."""

    def __init__(self, fd: int, length: int, layer: str) -> None:
        self.layer = layer
        if layer == "pymmap":
            self.py = pymmap.mmap(fd, length, access=pymmap.ACCESS_WRITE)
            # The buffer's address, so a fault offset can be reported; the export
            # pins the object, which is fine in a child that never closes it.
            self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.py))
        else:
            rw = libc.PROT_READ | libc.PROT_WRITE
            self.addr = libc.mmap(0, length, rw, libc.MAP_SHARED, fd, 0)

    def read(self, start: int, end: int) -> bytes:
        if self.layer == "pymmap":
            return self.py[start:end]
        return libc.read_bytes(self.addr + start, end - start)

    def write(self, at: int, data: bytes) -> None:
        if self.layer == "pymmap":
            self.py[at:at + len(data)] = data
        else:
            libc.write_bytes(self.addr + at, data)


def _map_then_truncate(path: str, new_size: int, layer: str) -> tuple[int, _Mapping, str]:
    """Map ``path``, have a peer shrink it to ``new_size``; return fd, mapping, peer's result."""
    peer = Peer(_truncate, path, new_size)
    fd = os.open(path, os.O_RDWR)
    mapping = _Mapping(fd, os.fstat(fd).st_size, layer)
    note(base=mapping.addr, layer=layer, mapped=os.fstat(fd).st_size)
    return fd, mapping, peer.act()


def tail_after_truncate(path: str, new_size: int, *, layer: str = "libc") -> dict[str, Any]:
    """Return what the rest of the new last page holds, and the file, after a peer's truncation.

    After the peer shrinks the file to ``new_size`` (inside a page), the probe
    reads the new last page through its mapping, stores into its tail, and
    reports the bytes, the file's size, and what a ``read`` of the file returns.
    """
    page = libc.PAGE_SIZE
    fd, mapping, truncated = _map_then_truncate(path, new_size, layer)
    page_start = new_size - new_size % page
    tail = mapping.read(new_size, page_start + page)
    mapping.write(new_size, b"T" * (page_start + page - new_size))
    after_store = mapping.read(new_size, page_start + page)
    return {
        "peer_ftruncate": truncated,
        "head": mapping.read(0, new_size).hex(),
        "tail_zero": tail == bytes(len(tail)),
        "tail_length": len(tail),
        "tail_after_store_kept": after_store == b"T" * len(tail),
        "st_size": os.fstat(fd).st_size,
        "file_read_length": len(os.pread(fd, 2 * page, 0)),
    }


def touch_after_truncate(path: str, new_size: int, at: int, *, write: bool = False,
                         layer: str = "libc") -> dict[str, Any]:
    """After a peer's truncation to ``new_size``, load (or store) the byte at ``at``.

    Returns the byte if the access works; a page wholly past the new end of
    file ends the child with ``SIGBUS``, the peer's result and the file size
    already in the notes.
    """
    fd, mapping, truncated = _map_then_truncate(path, new_size, layer)
    note(peer_ftruncate=truncated, st_size=os.fstat(fd).st_size, access_at=at)
    if write:
        mapping.write(at, b"W")
    return {"peer_ftruncate": truncated, "byte": mapping.read(at, at + 1).hex()}


def regrow_after_truncate(path: str, new_size: int) -> dict[str, Any]:
    """Shrink under the mapping (by a peer), grow back, and return what the far pages hold.

    The same mapping, never remapped, becomes usable again once the file
    covers its pages: they read as zeros (the old data is gone) and take stores.
    """
    page = libc.PAGE_SIZE
    fd, mapping, truncated = _map_then_truncate(path, new_size, "libc")
    shrunk_to = os.fstat(fd).st_size
    os.ftruncate(fd, 3 * page)
    far = mapping.read(page, 3 * page)
    mapping.write(2 * page, b"G")
    return {"peer_ftruncate": truncated, "size_after_truncate": shrunk_to,
            "far_pages_zero": far == bytes(2 * page),
            "store_reached_file": os.pread(fd, 1, 2 * page) == b"G"}
