"""Probes about the plain arguments of mmap and munmap: results, lengths, descriptors, offsets.

Return values are read from the C functions exactly as they come back,
through :func:`helpers.libc.mmap_raw` and :func:`helpers.libc.munmap_raw`,
because the library wrapper turns ``MAP_FAILED`` into an exception and
would hide the very value the documents describe.  The smaller pieces
(``mapped_pages``, ``mmap_min_addr``) are shared with the address and flag
probes.
"""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
import shutil
import subprocess
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.mapping import backing, bits, open_mode


def mapped_pages(base: int, pages: int) -> list[bool]:
    """Return, for each page from ``base``, whether ``/proc/self/maps`` lists it as mapped."""
    end = base + pages * libc.PAGE_SIZE
    spans = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, _, stop = line.partition(" ")[0].partition("-")
            lo, hi = int(start, 16), int(stop, 16)
            if lo < end and hi > base:
                spans.append((lo, hi))
    return [any(lo <= base + i * libc.PAGE_SIZE < hi for lo, hi in spans) for i in range(pages)]


def mmap_min_addr() -> int:
    """Return ``/proc/sys/vm/mmap_min_addr``: the lowest address an unprivileged map may use."""
    with open("/proc/sys/vm/mmap_min_addr") as value:
        return int(value.read())


# --- return values -------------------------------------------------------------------------

def mmap_returns(path: str | None, length: int, *, addr: int = 0, prot: str = "PROT_READ",
                 flags: str = "MAP_SHARED", mode: str = "O_RDONLY",
                 offset: int = 0) -> dict[str, Any]:
    """Return the raw result of one C ``mmap`` call (``path`` None: fd -1) and its errno name."""
    fd = os.open(path, open_mode(mode)) if path is not None else -1
    try:
        result, err = libc.mmap_raw(addr, length, bits(prot), bits(flags), fd, offset)
    finally:
        if fd != -1:
            release(fd)
    return {"returned": result, "map_failed": result == libc.MAP_FAILED, "errno": err,
            "errno_set": err is not None, "page_aligned": result % libc.PAGE_SIZE == 0,
            "spelled": spelled_pointer(result)}


def spelled_pointer(value: int) -> str:
    """Return how C would print a pointer value the documents talk about."""
    return {libc.MAP_FAILED: "(void *) -1", 0: "NULL"}.get(value, hex(value))


def map_failed_expansion() -> dict[str, Any]:
    """Return what the C preprocessor makes of ``MAP_FAILED`` from ``<sys/mman.h>``.

    ``spelled`` is ``(void *) -1`` when the expansion is that cast, else the
    expansion itself, so the check observes the header, not a guess.
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise libc.Unsupported("no C compiler (cc or gcc) on PATH")
    done = subprocess.run([compiler, "-E", "-P", "-x", "c", "-"], capture_output=True,
                          text=True, timeout=20, check=True,
                          input="#include <sys/mman.h>\nVALUE_OF_MAP_FAILED MAP_FAILED\n")
    line = next(x for x in done.stdout.splitlines() if x.startswith("VALUE_OF_MAP_FAILED"))
    expansion = line.removeprefix("VALUE_OF_MAP_FAILED").strip()
    compact = expansion.replace(" ", "")
    return {"expansion": expansion,
            "spelled": "(void *) -1" if compact == "((void*)-1)" else expansion}


def munmap_returns(case: str, path: str | None = None) -> dict[str, Any]:
    """Map 4 anonymous pages, call ``munmap`` as ``case`` says; return its raw result.

    Cases: ``whole``, ``sub-range`` (page 1 only), ``no mapping`` (the whole
    range again after it was released), ``unaligned`` (base + 1), ``length 0``
    and ``kernel half`` (an address in the upper half, outside user space).
    ``mapped`` tells which of the 4 pages are still mapped afterwards.
    ``path``: map 4 pages of that file instead.
    """
    page = libc.PAGE_SIZE
    with backing(path) as (flags, fd):
        base = libc.mmap(0, 4 * page, libc.PROT_READ, flags, fd)
    addr, length = {
        "whole": (base, 4 * page), "sub-range": (base + page, page),
        "no mapping": (base, 4 * page), "unaligned": (base + 1, page),
        "length 0": (base, 0), "kernel half": (1 << 63 | base, page),
    }[case]
    if case == "no mapping":
        libc.munmap(base, 4 * page)
    result, err = libc.munmap_raw(addr, length)
    return {"returned": result, "errno": err, "mapped": mapped_pages(base, 4)}


# --- lengths -------------------------------------------------------------------------------

def map_file_length(path: str, how: str) -> dict[str, Any]:
    """Map ``path`` with its length taken by ``how`` (``fstat`` or ``lseek``); return its bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        length = os.fstat(fd).st_size if how == "fstat" else os.lseek(fd, 0, os.SEEK_END)
        addr = libc.mmap(0, length, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    finally:
        release(fd)
    note(base=addr, length=length)
    return {"length": length, "head": libc.read_bytes(addr, min(length, 16)).hex()}


def munmap_length(path: str, map_pages: int, unmap_length: int, *,
                  neighbour_pages: int = 0) -> None:
    """Map ``map_pages`` of the file ``path`` (and a neighbour after them), munmap ``unmap_length``.

    The first mapping is of a file, as in the document's programs.  Records
    the result, which pages are still mapped and how many of the first
    mapping's pages were released as notes, then loads from the first page,
    which every case releases: the probe ends with the signal that load
    raises, and the notes survive it.
    """
    page, total = libc.PAGE_SIZE, map_pages + neighbour_pages
    anonymous = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
    base = libc.mmap(0, total * page, libc.PROT_NONE, anonymous)
    fd = os.open(path, os.O_RDONLY)
    libc.mmap(base, map_pages * page, libc.PROT_READ, libc.MAP_SHARED | libc.MAP_FIXED, fd)
    release(fd)
    if neighbour_pages:  # a second mapping (other protection) right after the first
        libc.mmap(base + map_pages * page, neighbour_pages * page,
                  libc.PROT_READ | libc.PROT_WRITE, anonymous | libc.MAP_FIXED)
    result, err = libc.munmap_raw(base, unmap_length)
    mapped = mapped_pages(base, total)
    note(base=base, returned=result, errno=err, mapped=mapped,
         released=map_pages - sum(mapped[:map_pages]))
    libc.load(base)


# --- descriptors and offsets ---------------------------------------------------------------

def _descriptor(fd_kind: str, path: str | None) -> tuple[int, bool]:
    """Return the fd a probe passes for ``fd_kind``, and whether the probe must close it."""
    if fd_kind == "-1":
        return -1, False
    assert path is not None, f"fd_kind {fd_kind!r} needs a file"
    if fd_kind == "zero":
        release(0)  # the child's stdin: open() now returns the lowest free number, 0
    fd = os.open(path, os.O_RDONLY)
    if fd_kind == "closed":
        release(fd)
        return fd, False
    return fd, True


def map_with_fd(length: int, *, flags: str, fd_kind: str = "-1", path: str | None = None,
                offset: int = 0) -> dict[str, Any]:
    """Map ``length`` bytes PROT_READ with ``flags`` through the fd ``fd_kind`` names.

    ``fd_kind``: ``-1``, ``file`` (a new descriptor of ``path``), ``zero``
    (``path`` opened as descriptor 0) or ``closed`` (a number just closed).
    Returns the fd and the first bytes the mapping reads.
    """
    fd, opened = _descriptor(fd_kind, path)
    try:
        addr = libc.mmap(0, length, libc.PROT_READ, bits(flags), fd, offset)
    finally:
        if opened:
            release(fd)
    note(base=addr, fd=fd)
    head = libc.read_bytes(addr, min(length, 16))
    return {"fd": fd, "head": head.hex(), "zero_filled": head == bytes(len(head))}


def pymmap_with_fd(length: int, *, fd_kind: str, path: str | None = None) -> dict[str, Any]:
    """The same through Python's mmap module, read-only (fd -1 means anonymous there)."""
    fd, opened = _descriptor(fd_kind, path)
    try:
        with pymmap.mmap(fd, length, access=pymmap.ACCESS_READ) as mapped:
            head = mapped[:16]
    finally:
        if opened:
            release(fd)
    return {"fd": fd, "head": head.hex(), "zero_filled": head == bytes(len(head))}


def map_at_offset(path: str, offset: int, *, layer: str = "libc") -> dict[str, Any]:
    """Map one page of ``path`` at file ``offset`` with addr NULL, as Go's syscall.Mmap does.

    First maps offset 0 and releases it, so the result can tell whether the
    offset moved the mapping away from where the kernel put offset 0.
    Returns both addresses, the first bytes read at the offset's mapping and
    whether the first mapping was really released (``released``): one that
    stayed would push the second elsewhere whatever the offset.
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    try:
        if layer == "pymmap":
            return _pymmap_at_offset(fd, offset)
        first = libc.mmap(0, page, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
        libc.munmap(first, page)
        released = not mapped_pages(first, 1)[0]
        addr = libc.mmap(0, page, libc.PROT_READ, libc.MAP_SHARED, fd, offset)
    finally:
        release(fd)
    note(base=addr)
    return {"address": addr, "offset_0_address": first, "released": released,
            "head": libc.read_bytes(addr, 8).hex()}


def _pymmap_at_offset(fd: int, offset: int) -> dict[str, Any]:
    page = libc.PAGE_SIZE
    addresses, head, released = [], b"", True
    for at in (0, offset):
        with pymmap.mmap(fd, page, offset=at) as mapped:
            view = ctypes.c_char.from_buffer(mapped)
            addresses.append(ctypes.addressof(view))
            del view  # an exported buffer would keep the mapping from closing
            head = mapped[:8]
        if at == 0:
            released = not mapped_pages(addresses[0], 1)[0]
    return {"address": addresses[1], "offset_0_address": addresses[0], "released": released,
            "head": head.hex()}
