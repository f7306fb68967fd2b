"""General probe verbs: map a file or memory through libc or Python's mmap module.

Open modes, protections and flags travel as names (``"O_RDONLY"``,
``"PROT_READ|PROT_WRITE"``, ``"MAP_SHARED"``) so that probe calls read like
the documents' C code and outcomes stay readable in reports.
"""

from __future__ import annotations

import mmap as pymmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.regions import vm_flags


def bits(spelling: str) -> int:
    """Return the value of ``"A|B"`` spelled with libc constant names (``"0"`` is 0)."""
    value = 0
    for part in spelling.split("|"):
        part = part.strip()
        if part and part != "0":
            value |= libc.constant(part)
    return value


@contextmanager
def backing(path: str | None) -> Iterator[tuple[int, int]]:
    """Yield the flags and descriptor of a private mapping of ``path``, or of anonymous memory.

    A claim about ``addr``, protections or locking holds for file mappings as
    much as for anonymous ones; mapping a scratch file lets a check observe
    it on both.  MAP_PRIVATE keeps the probe's stores out of the file, and
    the descriptor is closed on leaving, as a mapping outlives it (mmap(2)).
    """
    if path is None:
        yield libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, -1
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        yield libc.MAP_PRIVATE, fd
    finally:
        release(fd)


_OPEN = {"O_RDONLY": os.O_RDONLY, "O_WRONLY": os.O_WRONLY, "O_RDWR": os.O_RDWR}


def open_mode(spelling: str) -> int:
    """Return the ``open`` flags spelled as ``"O_RDWR"`` or ``"O_RDWR|O_CREAT"``."""
    value = 0
    for part in spelling.split("|"):
        value |= _OPEN.get(part) if part in _OPEN else getattr(os, part)
    return value


def map_file(path: str, length: int, *, offset: int = 0, mode: str = "O_RDWR",
             prot: str = "PROT_READ|PROT_WRITE", flags: str = "MAP_SHARED") -> dict[str, Any]:
    """Map ``path`` through libc and return the page offset of the address (0 when aligned)."""
    fd = os.open(path, open_mode(mode))
    try:
        addr = libc.mmap(0, length, bits(prot), bits(flags), fd, offset)
    finally:
        release(fd)
    note(base=addr)
    return {"address_page_offset": addr % libc.PAGE_SIZE}


def map_sync_state(path: str, flags: str) -> dict[str, Any]:
    """Map ``path`` with ``flags`` (which include MAP_SYNC); say whether a MAP_SYNC mapping came.

    ``sync_mapping`` is False when mmap failed (``errno`` names why) and,
    when it mapped, whether ``/proc/self/smaps`` marks the region ``sf``
    (synchronous faults, what MAP_SYNC asks for).
    """
    fd = os.open(path, os.O_RDWR)
    try:
        addr = libc.mmap(0, libc.PAGE_SIZE, bits("PROT_READ|PROT_WRITE"), bits(flags), fd, 0)
    except OSError as exc:
        return {"mapped": False, "errno": libc.errno_name(exc.errno), "sync_mapping": False}
    finally:
        release(fd)
    note(base=addr)
    flags_seen = vm_flags(addr)
    libc.munmap(addr, libc.PAGE_SIZE)
    return {"mapped": True, "errno": None, "sync_mapping": "sf" in flags_seen,
            "vm_flags": flags_seen}


def pymmap_file(path: str, length: int, *, offset: int = 0, access: str = "ACCESS_WRITE",
                mode: str = "O_RDWR") -> dict[str, Any]:
    """Map ``path`` with Python's mmap module and return the mapping's length."""
    fd = os.open(path, open_mode(mode))
    try:
        with pymmap.mmap(fd, length, access=getattr(pymmap, access), offset=offset) as mapped:
            return {"length": len(mapped)}
    finally:
        release(fd)


def touch(path: str, length: int, at: int, *, write: bool = False, mode: str = "O_RDWR",
          prot: str = "PROT_READ|PROT_WRITE", flags: str = "MAP_SHARED") -> int:
    """Map ``path`` and load (or store 0x58 'X') the byte at offset ``at``; return the byte."""
    fd = os.open(path, open_mode(mode))
    addr = libc.mmap(0, length, bits(prot), bits(flags), fd, 0)
    note(base=addr, file_size=os.fstat(fd).st_size, mapped=length)
    if write:
        libc.store(addr + at, 0x58)
    return libc.load(addr + at)
