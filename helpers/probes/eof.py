"""Probes about mappings and the end of the file behind them."""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note


def map_then_touch(path: str, length: int, at: int, *, write: bool = False) -> dict[str, Any]:
    """Map ``path`` shared read-write for ``length`` bytes, then access byte ``at``.

    Returns what was read; a fault ends the child with the signal as outcome,
    and the note sent first records that the ``mmap`` call itself succeeded.
    """
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, length, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
    note(base=addr, mmap_succeeded=True, file_size=os.fstat(fd).st_size)
    if write:
        libc.store(addr + at, 0x58)
    return {"mmap_succeeded": True, "byte": libc.load(addr + at)}


def pymmap_empty_file(path: str, length: int) -> dict[str, Any]:
    """Ask Python's mmap module to map ``path`` (empty) with ``length``; touch byte 0."""
    fd = os.open(path, os.O_RDWR)
    try:
        mapped = pymmap.mmap(fd, length)
    finally:
        os.close(fd)
    note(mapped_length=len(mapped))
    return {"length": len(mapped), "byte": mapped[0]}
