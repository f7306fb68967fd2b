"""Probes of the POSIX assertions on ``munmap``: what stays, what goes, what it returns."""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.probes import read_file
from helpers.probes.faults_calls import OK, attempt
from helpers.probes.faults_privilege import allow_locking

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE
ANON = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS


def _mapped(addr: int) -> bool:
    return attempt(libc.mincore, addr, PAGE) == OK


def hole_between_guards() -> dict[str, Any]:
    """Unmap the empty middle page of guard, hole, guard; return the result and the guards."""
    region = libc.mmap(0, 3 * PAGE, libc.PROT_NONE, ANON)
    libc.munmap(region + PAGE, PAGE)
    result = attempt(libc.munmap, region + PAGE, PAGE)
    return {"munmap": result, "guards_kept": _mapped(region) and _mapped(region + 2 * PAGE)}


def private_changes_discarded(path: str) -> dict[str, Any]:
    """Store through a MAP_PRIVATE mapping, unmap, map again: return whether the file bytes show."""
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(0, PAGE, RW, libc.MAP_PRIVATE, fd, 0)
    libc.write_bytes(addr, b"private")
    libc.munmap(addr, PAGE)
    again = libc.mmap(0, PAGE, libc.PROT_READ, libc.MAP_PRIVATE, fd, 0)
    original = read_file(path, 7)
    return {"discarded": libc.read_bytes(again, 7) == original != b"private"}


def _locked_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    raise LookupError("/proc/self/status has no VmLck line")


def locks_removed() -> dict[str, Any]:
    """mlock a page, unmap it, and return whether the locked total went back down."""
    allow_locking(PAGE)
    before = _locked_kib()
    addr = libc.mmap(0, PAGE, RW, ANON)
    libc.mlock(addr, PAGE)
    during = _locked_kib()
    libc.munmap(addr, PAGE)
    return {"removed": during > before and _locked_kib() == before}


def return_values() -> dict[str, Any]:
    """Return what munmap returned for a mapped page and for length 0."""
    addr = libc.mmap(0, PAGE, RW, ANON)
    ok, _ = libc.munmap_raw(addr, PAGE)
    bad, err = libc.munmap_raw(addr, 0)
    return {"success": ok, "failure": bad, "failure_errno": err}


def outside_address_space() -> dict[str, Any]:
    """Return the result of unmapping a page at the top of the 64-bit address space."""
    return {"munmap": libc.munmap_raw((1 << 64) - 2 * PAGE, PAGE)[1] or "ok"}


def unaligned() -> dict[str, Any]:
    """Return the result of munmap from one byte into a 2-page mapping."""
    addr = libc.mmap(0, 2 * PAGE, RW, ANON)
    return {"munmap": attempt(libc.munmap, addr + 1, PAGE)}
