"""Probes of sealed memfds: the file nobody can shrink, so its mappings never meet SIGBUS.

A memfd created with ``MFD_ALLOW_SEALING`` takes seals (``fcntl(F_ADD_SEALS)``)
that bind every descriptor of the file, in every process.  The probes try
the forbidden size changes themselves and through a
:class:`~helpers.probes.faults_peer.Peer` that reopens the file by its
``/proc/<pid>/fd`` link, as another process holding it would.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from helpers import libc, names
from helpers.isolate import note
from helpers.probes.faults_calls import attempt
from helpers.probes.faults_peer import Peer

RW = libc.PROT_READ | libc.PROT_WRITE
SEALS = {"F_SEAL_SEAL": fcntl.F_SEAL_SEAL, "F_SEAL_SHRINK": fcntl.F_SEAL_SHRINK,
         "F_SEAL_GROW": fcntl.F_SEAL_GROW, "F_SEAL_WRITE": fcntl.F_SEAL_WRITE}


def _seal_names(fd: int) -> list[str]:
    seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    return [name for name, bit in SEALS.items() if seals & bit]


def _sized_memfd(size: int) -> int:
    fd = os.memfd_create(names.unique_name("sealed"), os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    return fd


def _reopen_and_truncate(link: str, size: int) -> None:
    fd = os.open(link, os.O_RDWR)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def shrink_sealed(pages: int) -> dict[str, Any]:
    """Seal a ``pages``-page memfd against shrinking (and further seals), then try to shrink it.

    Returns each attempt's result, the seals in force, the size, and whether
    every page of a shared mapping made before still reads back its pattern.
    """
    page = libc.PAGE_SIZE
    fd = _sized_memfd(pages * page)
    pattern = bytes(range(256)) * (pages * page // 256)
    os.pwrite(fd, pattern, 0)
    peer = Peer(_reopen_and_truncate, f"/proc/{os.getpid()}/fd/{fd}", page)
    addr = libc.mmap(0, pages * page, RW, libc.MAP_SHARED, fd, 0)
    note(base=addr)
    sealing = attempt(fcntl.fcntl, fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    return {"add_shrink_and_seal": sealing,
            "ftruncate_smaller": attempt(os.ftruncate, fd, page),
            "peer_ftruncate_smaller": peer.act(),
            "add_grow_after_seal": attempt(fcntl.fcntl, fd, fcntl.F_ADD_SEALS,
                                           fcntl.F_SEAL_GROW),
            "seals": _seal_names(fd), "st_size": os.fstat(fd).st_size,
            "every_page_intact": libc.read_bytes(addr, pages * page) == pattern}


def grow_sealed(pages: int) -> dict[str, Any]:
    """Seal a ``pages``-page memfd against growing; try to grow it, then to seal writes.

    ``F_SEAL_WRITE`` is tried while a writable shared mapping exists (refused)
    and again once it is gone.
    """
    page = libc.PAGE_SIZE
    size = pages * page
    fd = _sized_memfd(size)
    sealing = attempt(fcntl.fcntl, fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_GROW)
    addr = libc.mmap(0, size, RW, libc.MAP_SHARED, fd, 0)
    result = {"add_grow": sealing,
              "ftruncate_larger": attempt(os.ftruncate, fd, size + page),
              "pwrite_past_eof": attempt(os.pwrite, fd, b"x", size),
              "pwrite_inside": attempt(os.pwrite, fd, b"x", size - 1),
              "add_write_while_mapped": attempt(fcntl.fcntl, fd, fcntl.F_ADD_SEALS,
                                                fcntl.F_SEAL_WRITE)}
    libc.munmap(addr, size)
    result["add_write_unmapped"] = attempt(fcntl.fcntl, fd, fcntl.F_ADD_SEALS,
                                           fcntl.F_SEAL_WRITE)
    result["seals"] = _seal_names(fd)
    result["st_size"] = os.fstat(fd).st_size
    return result
