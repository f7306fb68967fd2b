"""Probes of the "shall" sentences of POSIX ``msync``: flags, alignment, private data, times."""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.probes.faults_calls import attempt
from helpers.probes.mapping import bits

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE


def _map(path: str, flags: int = libc.MAP_SHARED) -> tuple[int, int]:
    fd = os.open(path, os.O_RDWR)
    return fd, libc.mmap(0, PAGE, RW, flags, fd, 0)


def flags_result(path: str, flags: str, unknown: int = 0) -> dict[str, Any]:
    """Return the result of msync over a shared file page with ``flags`` (``"0"`` for none).

    ``unknown`` adds a bit no MS_ flag uses.
    """
    _, addr = _map(path)
    return {"msync": attempt(libc.msync, addr, PAGE, bits(flags) | unknown)}


def unaligned(path: str) -> dict[str, Any]:
    """Return the result of msync(MS_SYNC) from one byte into a mapped page."""
    _, addr = _map(path)
    return {"msync": attempt(libc.msync, addr + 1, PAGE - 1, libc.MS_SYNC)}


def written_to_file(path: str, layer: str = "libc") -> dict[str, Any]:
    """Store through MAP_SHARED, msync(MS_SYNC); return whether read(2) sees the bytes.

    Python's ``mmap.flush()`` is its msync(MS_SYNC).
    """
    fd = os.open(path, os.O_RDWR)
    if layer == "pymmap":
        with pymmap.mmap(fd, PAGE) as mapped:
            mapped[:6] = b"synced"
            mapped.flush()
            return {"in_file": os.pread(fd, 6, 0) == b"synced"}
    addr = libc.mmap(0, PAGE, RW, libc.MAP_SHARED, fd, 0)
    libc.write_bytes(addr, b"synced")
    libc.msync(addr, PAGE, libc.MS_SYNC)
    return {"in_file": os.pread(fd, 6, 0) == b"synced"}


def private_not_written(path: str) -> dict[str, Any]:
    """Store through MAP_PRIVATE, msync(MS_SYNC); return whether the file stayed as it was."""
    fd, addr = _map(path, libc.MAP_PRIVATE)
    before = os.pread(fd, 7, 0)
    libc.write_bytes(addr, b"private")
    libc.msync(addr, PAGE, libc.MS_SYNC)
    return {"file_unchanged": os.pread(fd, 7, 0) == before != b"private"}


def invalidate_shows_file(path: str) -> dict[str, Any]:
    """pwrite under a mapping, msync(MS_SYNC|MS_INVALIDATE); return whether the mapping shows it."""
    fd, addr = _map(path)
    os.pwrite(fd, b"fresh", 0)
    libc.msync(addr, PAGE, libc.MS_SYNC | libc.MS_INVALIDATE)
    return {"consistent": libc.read_bytes(addr, 5) == b"fresh"}


def return_values(path: str) -> dict[str, Any]:
    """Return the results of a valid msync and of one over an unmapped page.

    A call that returned -1 is reported by the errno it set, any other
    return value as ``"ok"``.
    """
    _, addr = _map(path)
    success = attempt(libc.msync, addr, PAGE, libc.MS_SYNC)
    libc.munmap(addr, PAGE)
    return {"success": success, "failure": attempt(libc.msync, addr, PAGE, libc.MS_SYNC)}
