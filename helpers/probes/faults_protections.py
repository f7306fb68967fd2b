"""Probes of accesses the protection bits forbid, and of addresses no longer mapped."""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes.faults_calls import OK, attempt

ANON = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
RW = libc.PROT_READ | libc.PROT_WRITE


def write_after_mprotect_readonly(*, write: bool) -> dict[str, Any]:
    """Write a page, make it read-only with ``mprotect``, then load (or store) a byte.

    Returns the byte loaded; a store must end the child with ``SIGSEGV``
    (``SEGV_ACCERR``), the ``mprotect`` result in the notes.
    """
    page = libc.PAGE_SIZE
    addr = libc.mmap(0, page, RW, ANON)
    libc.store(addr + 9, 0x52)
    libc.mprotect(addr, page, libc.PROT_READ)
    note(base=addr, mprotect="ok")
    if write:
        libc.store(addr + 9, 0x57)
    return {"byte": libc.load(addr + 9)}


def add_write_to_readonly_file_mapping(path: str, flags: str) -> dict[str, str]:
    """Map ``path`` (opened ``O_RDONLY``) ``PROT_READ`` and ask ``mprotect`` for write too."""
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDONLY)
    addr = libc.mmap(0, page, libc.PROT_READ, libc.constant(flags), fd, 0)
    return {"mprotect": attempt(libc.mprotect, addr, page, RW)}


def touch_prot_none(*, write: bool) -> dict[str, Any]:
    """Load (or store) a byte of a ``PROT_NONE`` mapping: ``SIGSEGV`` (``SEGV_ACCERR``)."""
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_NONE, ANON)
    note(base=addr)
    if write:
        libc.store(addr + 3, 1)
    return {"byte": libc.load(addr + 3)}


def load_after_munmap() -> dict[str, Any]:
    """Unmap a page between two ``PROT_NONE`` guards, confirm the hole, then load from it.

    The guards keep a new mapping from landing at the freed address;
    ``mincore`` answering ``ENOMEM`` shows nothing is mapped there just
    before the load, which must end the child with ``SIGSEGV`` (``SEGV_MAPERR``).
    """
    page = libc.PAGE_SIZE
    region = libc.mmap(0, 3 * page, libc.PROT_NONE, ANON)
    middle = libc.mmap(region + page, page, RW, ANON | libc.MAP_FIXED)
    libc.store(middle, 0x4D)
    libc.munmap(middle, page)
    hole = attempt(libc.mincore, middle, page)
    note(base=middle, mincore_after_munmap=hole,
         guards_mapped=attempt(libc.mincore, region, page) == OK)
    return {"byte": libc.load(middle), "mincore_after_munmap": hole}
