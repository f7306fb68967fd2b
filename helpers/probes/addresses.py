"""Probes about the ``addr`` argument: NULL, hints, MAP_FIXED and what they do to the space.

A "free range" is a hole the probe made just before, between two guard
pages: nothing else in a single-threaded child maps memory into it, so the
kernel's view of that range is known when the probe asks for it.
"""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.arguments import mapped_pages, mmap_min_addr
from helpers.probes.faults_privilege import become_user
from helpers.probes.mapping import backing, bits


def free_range(pages: int) -> int:
    """Return the start of ``pages`` free pages, between two guard pages that stay mapped.

    The guards keep the hole too small for anything the interpreter or the C
    library might map meanwhile (arenas, large allocations), so it stays free.
    """
    page = libc.PAGE_SIZE
    base = libc.mmap(0, (pages + 2) * page, libc.PROT_NONE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.munmap(base + page, pages * page)
    return base + page


def map_null(kind: str, lengths: list[int], path: str | None = None) -> dict[str, Any]:
    """Map each of ``lengths`` with addr NULL and return the addresses the kernel chose.

    ``kind``: ``file`` or ``anonymous`` through libc, ``pymmap-file`` or
    ``pymmap-anonymous`` through Python's mmap (which never passes an addr).
    The mappings stay until the child exits, so every address is distinct.
    """
    addresses, keep = [], []
    for length in lengths:
        if kind.startswith("pymmap"):
            fd = os.open(path, os.O_RDWR) if kind == "pymmap-file" else -1
            mapped = pymmap.mmap(fd, length)
            if fd != -1:
                release(fd)
            view = ctypes.c_char.from_buffer(mapped)
            addresses.append(ctypes.addressof(view))
            keep.append((mapped, view))
            continue
        fd = os.open(path, os.O_RDONLY) if kind == "file" else -1
        flags = libc.MAP_SHARED if kind == "file" else libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
        addresses.append(libc.mmap(0, length, libc.PROT_READ, flags, fd, 0))
        if fd != -1:
            release(fd)
    floor = mmap_min_addr()
    return {"addresses": addresses, "mmap_min_addr": floor,
            "all_page_aligned": all(a % libc.PAGE_SIZE == 0 for a in addresses),
            "distinct_and_above_floor": len(set(addresses)) == len(addresses)
            and min(addresses) >= floor}


def map_with_hint(where: str, path: str | None = None) -> dict[str, Any]:
    """Map one page with an unaligned hint and return hint and result.

    ``where``: ``free`` (one byte into the second page of a free range) or
    ``page 1`` (address 0x1001, near the bottom of the address space).
    ``path``: map that file instead of anonymous memory.
    """
    page = libc.PAGE_SIZE
    hint = free_range(4) + page + 1 if where == "free" else page + 1
    with backing(path) as (flags, fd):
        result = libc.mmap(hint, page, libc.PROT_READ, flags, fd)
    floor = hint - hint % page
    return {"hint": hint, "address": result, "floor": floor, "ceil": floor + page,
            "mmap_min_addr": mmap_min_addr(), "at_nearby_boundary": result in (floor, floor + page)}


def map_over_occupied(pattern: bytes, path: str | None = None) -> dict[str, Any]:
    """Map a page holding ``pattern``, then ask for a page with its address as the hint.

    Returns both addresses and whether the first page still holds the
    pattern.  ``path``: both pages map that file (privately, so the pattern
    stays out of it) instead of anonymous memory.
    """
    page, rw = libc.PAGE_SIZE, libc.PROT_READ | libc.PROT_WRITE
    with backing(path) as (flags, fd):
        first = libc.mmap(0, page, rw, flags, fd)
        libc.write_bytes(first, pattern)
        second = libc.mmap(first, page, rw, flags, fd)
    intact = libc.read_bytes(first, len(pattern)) == pattern
    return {"first": first, "second": second, "pattern_intact": intact,
            "elsewhere_and_intact": intact and second != first}


def map_fixed_in_free_range(shift: int, path: str | None = None) -> dict[str, Any]:
    """Map one page MAP_FIXED at ``shift`` bytes into a free range; return where it landed.

    ``path``: map that file instead of anonymous memory.
    """
    base = free_range(4)
    with backing(path) as (flags, fd):
        addr = libc.mmap(base + shift, libc.PAGE_SIZE, libc.PROT_READ, flags | libc.MAP_FIXED, fd)
    return {"requested_offset": shift, "address_offset": addr - base,
            "exactly_at_addr": addr - base == shift}


def map_fixed_at(addr: int, *, unprivileged: bool = False,
                 path: str | None = None) -> dict[str, Any]:
    """Map one page MAP_FIXED at the absolute ``addr`` (as ``nobody`` when ``unprivileged``).

    Returns the address (which may rightly be 0) or the errno name.
    ``path``: map that file (opened before privileges are dropped).  A run
    that cannot become ``nobody`` raises ``SetupRefused`` before mapping.
    """
    with backing(path) as (flags, fd):
        capabilities = become_user() if unprivileged else None
        note(capabilities=capabilities)
        result, err = libc.mmap_raw(addr, libc.PAGE_SIZE, libc.PROT_READ,
                                    flags | libc.MAP_FIXED, fd, 0)
    return {"address": None if err else result, "errno": err, "failed": err is not None}


def fixed_over_mapping(path: str, *, flag: str = "MAP_FIXED",
                       over: str | None = None) -> dict[str, Any]:
    """Map 4 pages of ``path``, then an anonymous region with ``flag`` over pages 1-2.

    Returns the first byte of each of the 4 pages afterwards and, per page,
    whether ``/proc/self/maps`` shows it backed by the file; with
    ``MAP_FIXED_NOREPLACE`` the second call's errno name instead.  ``over``:
    the region over pages 1-2 maps that file (whose first byte the pages
    then hold) instead of anonymous memory.
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        base = libc.mmap(0, 4 * page, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
        file_byte = os.pread(fd, 1, 0)[0]
    finally:
        release(fd)
    note(base=base)
    with backing(over) as (flags, fd):
        result, err = libc.mmap_raw(base + page, 2 * page, libc.PROT_READ,
                                    flags | bits(flag), fd, 0)
        new_byte = os.pread(fd, 1, 0)[0] if over else 0
    first = [libc.load(base + i * page) for i in range(4)]
    return {"errno": err, "landed_offset": None if err else result - base, "first_bytes": first,
            "file_backed": _file_backed(base, 4, path), "mapped": mapped_pages(base, 4),
            "overlap_replaced_rest_intact": first == [file_byte, new_byte, new_byte, file_byte]}



def _file_backed(base: int, pages: int, path: str) -> list[bool]:
    """Return, per page from ``base``, whether ``/proc/self/maps`` names ``path`` for it."""
    inode = os.stat(path).st_ino
    spans = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, _, hi = fields[0].partition("-")
            if len(fields) > 4 and int(fields[4]) == inode:
                spans.append((int(lo, 16), int(hi, 16)))
    return [any(lo <= base + i * libc.PAGE_SIZE < hi for lo, hi in spans) for i in range(pages)]
