"""Probes about the lifetime of a mapping: closing its fd, unmapping it."""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import read_file, release


def write_after_close(path: str, data: bytes) -> dict[str, Any]:
    """Map ``path`` shared, close the fd, write ``data`` through the mapping.

    Returns what the mapping reads back and what a new descriptor reads from
    the file, after ``msync(MS_SYNC)``, and the errno of that msync (None
    when it succeeded): the question is the mapping's life after close, so
    a failing msync is evidence, not the end of the probe.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    addr = libc.mmap(0, size, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
    release(fd)
    note(base=addr, fd_closed=True)
    libc.write_bytes(addr, data)
    synced = libc.errno_of(libc.msync, addr, size, libc.MS_SYNC)
    through_map = libc.read_bytes(addr, len(data))
    in_file = read_file(path, len(data))
    return {"mapping": through_map.hex(), "file": in_file.hex(), "msync_errno": synced}


def pymmap_write_after_close(path: str, data: bytes) -> dict[str, Any]:
    """The same through Python's mmap module (which keeps a dup of the fd)."""
    fd = os.open(path, os.O_RDWR)
    mapped = pymmap.mmap(fd, 0)
    release(fd)
    mapped[: len(data)] = data
    synced = libc.errno_of(mapped.flush)
    in_file = read_file(path, len(data))
    return {"mapping": mapped[: len(data)].hex(), "file": in_file.hex(), "msync_errno": synced}



def munmap_at(shift: int, length: int, pages: int = 2) -> dict[str, Any]:
    """Map ``pages`` anonymous pages, then ``munmap(ptr + shift, length)``.

    Returns whether the original pointer is still mapped afterwards
    (``mincore`` fails with ENOMEM on unmapped pages).
    """
    size = pages * libc.PAGE_SIZE
    addr = libc.mmap(0, size, libc.PROT_READ | libc.PROT_WRITE,
                     libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    note(base=addr)
    libc.munmap(addr + shift, length)
    try:
        libc.mincore(addr, libc.PAGE_SIZE)
        first_page_mapped = True
    except OSError:
        first_page_mapped = False
    return {"first_page_still_mapped": first_page_mapped}
