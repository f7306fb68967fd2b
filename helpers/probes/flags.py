"""Probes about the ``flags`` argument: mapping types, unknown bits, MAP_LOCKED, MAP_HUGETLB.

Flags travel as plain integers here, because the interesting ones (bits no
constant names) have no spelling; the checks label their cases.
"""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.faults_privilege import allow_locking, become_user
from helpers.probes.mapping import backing

MARK = 0x46  # 'F', stored through the mapping to see whether it reaches the file


def map_flags(path: str | None, flags: int) -> dict[str, Any]:
    """Map one page read-write with ``flags`` (``path`` None: fd -1), store a byte, unmap.

    Returns whether the byte reached the file (None for no file): the
    observable difference between a shared and a private mapping.
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR) if path is not None else -1
    try:
        addr = libc.mmap(0, page, libc.PROT_READ | libc.PROT_WRITE, flags, fd, 0)
        note(base=addr)
        libc.store(addr, MARK)
        libc.munmap(addr, page)
        reached = os.pread(fd, 1, 0) == bytes([MARK]) if fd != -1 else None
    finally:
        if fd != -1:
            release(fd)
    return {"reached_file": reached}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def smaps_kb(addr: int, field: str) -> int | None:
    """Return ``field`` (``Locked``, ``KernelPageSize``, ...) in kB of the mapping at ``addr``."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                inside = int(head.partition("-")[0], 16) == addr
            elif inside and head == field + ":":
                return int(line.split()[1])
    return None


def lock_both_ways(length: int, path: str | None = None) -> dict[str, Any]:
    """Lock ``length`` anonymous bytes once with MAP_LOCKED and once with mlock; compare.

    Returns, per way, the growth of ``VmLck``, the ``Locked`` figure of the
    mapping in smaps (both kB) and how many pages ``mincore`` finds resident.
    ``path``: lock a private mapping of that file instead.  A run that may
    not lock both (``RLIMIT_MEMLOCK``) raises ``SetupRefused`` first.
    """
    allow_locking(2 * length)
    rw = libc.PROT_READ | libc.PROT_WRITE
    seen = {}
    for way in ("MAP_LOCKED", "mlock"):
        before = _status_kb("VmLck")
        with backing(path) as (flags, fd):
            if way == "MAP_LOCKED":
                addr = libc.mmap(0, length, rw, flags | libc.constant("MAP_LOCKED"), fd)
            else:
                addr = libc.mmap(0, length, rw, flags, fd)
                libc.mlock(addr, length)
        resident = sum(b & 1 for b in libc.mincore(addr, length))
        locked_kb = smaps_kb(addr, "Locked")
        seen[way] = {"vmlck_kb": _status_kb("VmLck") - before, "locked_kb": locked_kb,
                     "resident_pages": resident,
                     "resident_and_locked": locked_kb == length // 1024
                     and resident == length // libc.PAGE_SIZE}
        libc.munmap(addr, length)
    return seen


def lock_over_limit(length: int, path: str | None = None) -> dict[str, Any]:
    """As ``nobody``, try MAP_LOCKED and mlock of ``length`` bytes; return each errno name.

    The caller sets a small ``RLIMIT_MEMLOCK``; dropping root drops
    ``CAP_IPC_LOCK``, which would lift the limit.  ``path``: map that file
    (opened before privileges are dropped) instead of anonymous memory.  A
    run that cannot become ``nobody`` raises ``SetupRefused`` before mapping.
    """
    rw = libc.PROT_READ | libc.PROT_WRITE
    errors: dict[str, str | None] = {}
    with backing(path) as (flags, fd):
        capabilities = become_user()
        try:
            libc.mmap(0, length, rw, flags | libc.constant("MAP_LOCKED"), fd)
            errors["MAP_LOCKED"] = None
        except OSError as exc:
            errors["MAP_LOCKED"] = libc.errno_name(exc)
        addr = libc.mmap(0, length, rw, flags, fd)
    try:
        libc.mlock(addr, length)
        errors["mlock"] = None
    except OSError as exc:
        errors["mlock"] = libc.errno_name(exc)
    return {"errors": errors, "capabilities": capabilities,
            "both_refused": all(errors.values())}


def huge_page_kb() -> int:
    """Return the default huge page size in kB (``Hugepagesize`` of /proc/meminfo)."""
    with open("/proc/meminfo") as meminfo:
        return next(int(line.split()[1]) for line in meminfo if line.startswith("Hugepagesize:"))


def map_hugetlb() -> dict[str, Any]:
    """Map and touch one default-size huge page; return the page size smaps reports for it."""
    size_kb = huge_page_kb()
    flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | libc.constant("MAP_HUGETLB")
    addr = libc.mmap(0, size_kb * 1024, libc.PROT_READ | libc.PROT_WRITE, flags)
    note(base=addr, huge_page_kb=size_kb)
    libc.store(addr, MARK)
    kernel_page_kb = smaps_kb(addr, "KernelPageSize")
    return {"huge_page_kb": size_kb, "kernel_page_kb": kernel_page_kb,
            "aligned": addr % (size_kb * 1024) == 0, "huge_backed": kernel_page_kb == size_kb}
