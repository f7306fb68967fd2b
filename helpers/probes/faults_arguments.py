"""Probes that call the mapping functions with absurd arguments.

Each returns ``"ok"`` or the errno name of every call it makes (see
:func:`~helpers.probes.faults_calls.attempt`), with what it checked around
the call: that nothing got mapped, that an old mapping is intact.  Mappings
a call should not have made are removed again, so one wrong answer does not
disturb the next case.
"""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes.faults_calls import OK, attempt, attempt_value
from helpers.probes.faults_privilege import allow_locking
from helpers.probes.mapping import bits

RW = libc.PROT_READ | libc.PROT_WRITE
ANON = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS


def _mmap(length: int, prot: int, flags: int, fd: int = -1, offset: int = 0,
          addr: int = 0) -> str:
    """Return ``"ok"`` or the errno name of one ``mmap``; unmap what it made."""
    result, made = attempt_value(libc.mmap, addr, length, prot, flags, fd, offset)
    if made is not None:
        libc.munmap(made, length)
    return result


def _mapped(addr: int, length: int = libc.PAGE_SIZE) -> bool:
    """Return whether ``[addr, addr+length)`` is all mapped (``mincore`` fails otherwise)."""
    return attempt(libc.mincore, addr, length) == OK


def map_anonymous(length: int, *, flags: str = "MAP_PRIVATE|MAP_ANONYMOUS",
                  offset: int = 0) -> dict[str, str]:
    """Return the result of an anonymous read-write ``mmap`` of ``length`` bytes."""
    return {"mmap": _mmap(length, RW, bits(flags), -1, offset)}


def pymmap_anonymous(length: int) -> dict[str, str]:
    """Return the result of ``mmap.mmap(-1, length)``; a length C cannot hold raises."""
    return {"mmap": attempt(pymmap.mmap, -1, length)}


def map_file_at(path: str, length: int, offset: int, *,
                flags: str = "MAP_SHARED") -> dict[str, str]:
    """Return the result of mapping ``length`` bytes of ``path`` from ``offset``, read-only."""
    fd = os.open(path, os.O_RDWR)
    return {"mmap": _mmap(length, libc.PROT_READ, bits(flags), fd, offset)}


def pymmap_file_at(path: str, length: int, offset: int) -> dict[str, str]:
    """Return the result of ``mmap.mmap(fd, length, offset=offset)`` on ``path``."""
    fd = os.open(path, os.O_RDWR)
    return {"mmap": attempt(pymmap.mmap, fd, length, offset=offset)}


def map_fixed_unaligned(flag: str) -> dict[str, Any]:
    """Ask for ``flag`` (``MAP_FIXED`` or ``MAP_FIXED_NOREPLACE``) at a free page address + 1.

    The address is made free by mapping and unmapping a page; afterwards
    ``mincore`` tells whether anything got mapped there.
    """
    page = libc.PAGE_SIZE
    free = libc.mmap(0, page, RW, ANON)
    libc.munmap(free, page)
    result = _mmap(page, RW, ANON | libc.constant(flag), addr=free + 1)
    return {"mmap": result, "mapped_there": _mapped(free)}


def zero_lengths(path: str) -> dict[str, str]:
    """Return the results of ``mmap`` (anonymous and of a file) and ``munmap`` with length 0."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, page, RW, ANON)
    return {"mmap_anonymous": _mmap(0, RW, ANON),
            "mmap_file": _mmap(0, libc.PROT_READ, libc.MAP_SHARED, fd),
            "munmap": attempt(libc.munmap, addr, 0),
            "page_still_mapped": _mapped(addr)}


def munmap_unaligned() -> dict[str, Any]:
    """Return the result of ``munmap(addr + 1, page)`` on two pages, and what is still mapped."""
    page = libc.PAGE_SIZE
    addr = libc.mmap(0, 2 * page, RW, ANON)
    result = attempt(libc.munmap, addr + 1, page)
    return {"munmap": result, "still_mapped": [_mapped(addr), _mapped(addr + page)]}


def msync_unmapped(path: str) -> dict[str, Any]:
    """Map two pages of ``path``, unmap the second; return ``msync`` of both and of the hole."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, 2 * page, RW, libc.MAP_SHARED, fd, 0)
    libc.munmap(addr + page, page)
    hole_mapped = _mapped(addr + page)
    return {"hole_mapped": hole_mapped,
            "two_pages": attempt(libc.msync, addr, 2 * page, libc.MS_SYNC),
            "freed_page": attempt(libc.msync, addr + page, page, libc.MS_SYNC),
            "mapped_page": attempt(libc.msync, addr, page, libc.MS_SYNC)}


def msync_bad_flags(path: str) -> dict[str, str]:
    """Return ``msync`` results for contradictory, unknown and unaligned arguments."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, page, RW, libc.MAP_SHARED, fd, 0)
    known = libc.MS_SYNC | libc.MS_ASYNC | libc.MS_INVALIDATE
    unknown = 1 << (known.bit_length())  # the first bit above the defined flags
    return {"MS_SYNC|MS_ASYNC": attempt(libc.msync, addr, page, libc.MS_SYNC | libc.MS_ASYNC),
            f"MS_SYNC|{unknown:#x}": attempt(libc.msync, addr, page, libc.MS_SYNC | unknown),
            "addr+1": attempt(libc.msync, addr + 1, page - 1, libc.MS_SYNC),
            "MS_SYNC": attempt(libc.msync, addr, page, libc.MS_SYNC)}


def invalidate_locked(path: str) -> dict[str, str]:
    """Lock one page of a two-page file mapping; return ``MS_INVALIDATE`` on it and on the other.

    A run that may not lock a page (``RLIMIT_MEMLOCK``) raises ``SetupRefused`` first.
    """
    page = libc.PAGE_SIZE
    allow_locking(page)
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, 2 * page, RW, libc.MAP_SHARED, fd, 0)
    locked = attempt(libc.mlock, addr, page)
    return {"mlock": locked,
            "invalidate_locked": attempt(libc.msync, addr, page, libc.MS_INVALIDATE),
            "invalidate_unlocked": attempt(libc.msync, addr + page, page, libc.MS_INVALIDATE),
            "invalidate_both": attempt(libc.msync, addr, 2 * page, libc.MS_INVALIDATE)}


def flags_without_type(path: str) -> dict[str, str]:
    """Return ``mmap`` results when ``flags`` names no (valid) mapping type."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    anonymous = libc.MAP_ANONYMOUS
    validate = libc.constant("MAP_SHARED_VALIDATE")
    return {"file, flags 0": _mmap(page, RW, 0, fd),
            "file, MAP_ANONYMOUS": _mmap(page, RW, anonymous, fd),
            "anonymous, MAP_ANONYMOUS": _mmap(page, RW, anonymous),
            "anonymous, MAP_SHARED_VALIDATE": _mmap(page, RW, validate | anonymous)}


def unknown_flag_bits(path: str, unknown: list[int]) -> dict[str, dict[str, str]]:
    """Return, per bit of ``unknown``, ``mmap`` results under MAP_SHARED_VALIDATE and MAP_SHARED."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)
    validate = libc.constant("MAP_SHARED_VALIDATE")
    return {f"{bit:#x}": {"MAP_SHARED_VALIDATE": _mmap(page, RW, validate | bit, fd),
                          "MAP_SHARED": _mmap(page, RW, libc.MAP_SHARED | bit, fd)}
            for bit in unknown}


def fixed_noreplace_over_mapping() -> dict[str, Any]:
    """``MAP_FIXED_NOREPLACE`` a page over the second page of a patterned 2-page mapping.

    Returns the result and whether the old pattern is intact.  Kernels before
    4.17 ignore the flag and may map elsewhere: the returned address is
    compared with the one asked for.
    """
    page = libc.PAGE_SIZE
    addr = libc.mmap(0, 2 * page, RW, ANON)
    pattern = bytes(range(256)) * (2 * page // 256)
    libc.write_bytes(addr, pattern)
    note(base=addr)
    flag = libc.constant("MAP_FIXED_NOREPLACE")
    result, made = attempt_value(libc.mmap, addr + page, page, RW, ANON | flag)
    elsewhere = made is not None and made != addr + page
    return {"mmap": result, "mapped_elsewhere": elsewhere,
            "pattern_intact": libc.read_bytes(addr, 2 * page) == pattern}
