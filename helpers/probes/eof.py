"""Probes about mappings and the end of the file behind them, and the end of the mapping."""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.regions import describe_at


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
        release(fd)
    note(mapped_length=len(mapped))
    return {"length": len(mapped), "byte": mapped[0]}


def page_round(n: int, page: int = libc.PAGE_SIZE) -> int:
    """Return ``n`` rounded up to a whole number of pages (of ``page`` bytes)."""
    return -(-n // page) * page


def access_by_the_man_page(at: int, file_size: int, length: int,
                           huge_page: int | None = None) -> frozenset[str]:
    """Return what mmap(2) allows an access at ``at`` of a mapping to do (``ok``, ``SIGBUS``, ...).

    SIGSEGV past the mapping's last page, SIGBUS for a page wholly past end of
    file, ``ok`` below the end of the page holding end of file.  Where the
    file may live in huge pages (``huge_page`` bytes, tmpfs ``huge=always``)
    that page may be a huge one, and the bytes past EOF up to its end are
    accessible too: both answers keep the contract, since the kernel falls
    back to small pages when it cannot get a huge one.
    """
    units = [libc.PAGE_SIZE] + ([huge_page] if huge_page else [])
    return frozenset("SIGSEGV" if at >= page_round(length) else
                     "SIGBUS" if at >= page_round(file_size, unit) else "ok"
                     for unit in units)


#: What follows the mapping's last page in :func:`map_with_layout`.
LAYOUTS = ("natural", "guard", "free", "neighbour")


def map_with_layout(fd: int, length: int, layout: str) -> int:
    """Map ``length`` bytes of ``fd`` shared read-write; choose what follows its last page.

    ``natural``: wherever the kernel puts it, next to whatever is there;
    ``guard``: a PROT_NONE page; ``free``: nothing; ``neighbour``: a
    read-write anonymous page placed with MAP_FIXED_NOREPLACE.  The forced
    layouts map into a reservation one page longer than the mapping, so
    nothing else can take the page after it.
    """
    rw = libc.PROT_READ | libc.PROT_WRITE
    if layout == "natural":
        return libc.mmap(0, length, rw, libc.MAP_SHARED, fd, 0)
    span = page_round(length)
    addr = libc.mmap(0, span + libc.PAGE_SIZE, libc.PROT_NONE,
                     libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.mmap(addr, length, rw, libc.MAP_SHARED | libc.MAP_FIXED, fd, 0)
    if layout in ("free", "neighbour"):
        libc.munmap(addr + span, libc.PAGE_SIZE)
    if layout == "neighbour":
        libc.mmap(addr + span, libc.PAGE_SIZE, rw, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
                  | libc.constant("MAP_FIXED_NOREPLACE"))
    return addr


def touch_with_layout(path: str, length: int, at: int, layout: str, *,
                      write: bool = True) -> dict[str, Any]:
    """Map ``path`` with :func:`map_with_layout` and access byte ``at`` of the mapping.

    A store writes ``'O'`` as the documents' programs do, except in the
    ``natural`` layout: there the byte is loaded and stored back unchanged,
    so a store that lands in a neighbouring mapping (a library's data, the
    interpreter's heap) proves the point without corrupting it.  The note
    sent first records what ``/proc/self/maps`` holds at the target address.
    """
    fd = os.open(path, os.O_RDWR)
    addr = map_with_layout(fd, length, layout)
    release(fd)
    target = addr + at
    note(base=addr, layout=layout, region_at_target=describe_at(target),
         mapping=describe_at(addr))
    if layout == "natural" and write:
        libc.store(target, libc.load(target))
    elif write:
        libc.store(target, ord("O"))
    return {"byte": libc.load(target), "region_at_target": describe_at(target),
            "mapping_end": hex(addr + page_round(length))}


def read_to_page_end(path: str, length: int) -> dict[str, Any]:
    """Map ``length`` bytes of ``path``; read up to the page-rounded end and store at its last byte.

    Returns the index of the first nonzero byte at or after the file size
    (None: all zero) and the byte read back after storing ``'T'`` into the
    last byte of the last page.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    addr = libc.mmap(0, length, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
    release(fd)
    note(base=addr, file_size=size)
    end = page_round(length)
    tail = libc.read_bytes(addr + size, end - size)
    stripped = tail.lstrip(b"\0")
    marker = ord("T")
    libc.store(addr + end - 1, marker)
    first_nonzero = None if not stripped else size + len(tail) - len(stripped)
    return {"read_up_to": end, "first_nonzero_past_eof": first_nonzero,
            "stored_byte": marker, "last_byte_after_store": libc.load(addr + end - 1)}
