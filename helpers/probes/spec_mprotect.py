"""Probes of the "shall" sentences of POSIX ``mprotect``: pages, protections, errors."""

from __future__ import annotations

from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes.faults_calls import attempt
from helpers.probes.mapping import bits

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE
ANON = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS


def whole_page_read_only() -> dict[str, Any]:
    """mprotect one byte of a page to PROT_READ, then store far from it (SIGSEGV expected)."""
    addr = libc.mmap(0, PAGE, RW, ANON)
    libc.mprotect(addr, 1, libc.PROT_READ)
    note(base=addr, protected=True)
    libc.store(addr + PAGE - 8, 1)
    return {"survived": True}


def change_to(prot: str) -> dict[str, Any]:
    """Return the result of changing a read-write anonymous page to ``prot``."""
    addr = libc.mmap(0, PAGE, RW, ANON)
    return {"mprotect": attempt(libc.mprotect, addr, PAGE, bits(prot))}


def touch_after(prot: str, access: str) -> dict[str, Any]:
    """mprotect a page to ``prot`` and load from or store to it (SIGSEGV expected)."""
    addr = libc.mmap(0, PAGE, RW, ANON)
    libc.mprotect(addr, PAGE, bits(prot))
    note(base=addr, protected=True)
    if access == "store":
        libc.store(addr, 1)
    else:
        libc.load(addr)
    return {"survived": True}


def unaligned() -> dict[str, Any]:
    """Return the result of mprotect from one byte into a mapped page."""
    addr = libc.mmap(0, 2 * PAGE, RW, ANON)
    return {"mprotect": attempt(libc.mprotect, addr + 1, PAGE, libc.PROT_READ)}


def over_hole() -> dict[str, Any]:
    """Return the result of mprotect over a range whose middle page is unmapped."""
    addr = libc.mmap(0, 3 * PAGE, RW, ANON)
    libc.munmap(addr + PAGE, PAGE)
    return {"mprotect": attempt(libc.mprotect, addr, 3 * PAGE, libc.PROT_READ)}


def return_values() -> dict[str, Any]:
    """Return the results of a valid mprotect and of one over an unmapped page.

    A call that returned -1 is reported by the errno it set, any other
    return value as ``"ok"``.
    """
    addr = libc.mmap(0, PAGE, RW, ANON)
    success = attempt(libc.mprotect, addr, PAGE, libc.PROT_READ)
    libc.munmap(addr, PAGE)
    return {"success": success, "failure": attempt(libc.mprotect, addr, PAGE, libc.PROT_READ)}
