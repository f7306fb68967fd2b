"""Probes about ``prot``: against the file's open mode, and what each protection allows."""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import read_file, release
from helpers.probes.mapping import bits, map_file, open_mode

__all__ = ["call_code", "map_file", "on_noexec_mount", "pymmap_access", "pymmap_store",
           "store_and_read", "touch_prot_none"]

MARK = 0x57  # 'W', stored through the mapping

#: A routine that returns 42 (``mov eax, 42; ret`` / ``mov w0, #42; ret``), per machine.
RETURN_42 = {
    "x86_64": bytes.fromhex("b82a000000c3"),
    "aarch64": bytes.fromhex("40058052c0035fd6"),
}


def on_noexec_mount(path: str) -> bool:
    """Return whether ``path``'s directory is on a filesystem mounted noexec (PROT_EXEC: EPERM)."""
    return bool(os.statvfs(os.path.dirname(path)).f_flag & os.ST_NOEXEC)


def pymmap_access(path: str, mode: str, access: str) -> int:
    """Map ``path`` opened with ``mode`` through Python's mmap with ``access``; return length."""
    fd = os.open(path, open_mode(mode))
    try:
        with pymmap.mmap(fd, 0, access=getattr(pymmap, access)) as mapped:
            return len(mapped)
    finally:
        release(fd)


def store_and_read(path: str | None, prot: str, flags: str) -> dict[str, Any]:
    """Map one page with ``prot`` and ``flags`` (``path`` None: anonymous), store, then load.

    The file's first byte after the store is sent as a note before the load,
    so it survives when the load (or the store) ends the child with a signal.
    Returns the byte read back and the file's first byte (None for no file).
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR) if path is not None else -1
    try:
        addr = libc.mmap(0, page, bits(prot), bits(flags), fd, 0)
        note(base=addr, mapped=True)
        libc.store(addr, MARK)
        in_file = os.pread(fd, 1, 0).hex() if fd != -1 else None
    finally:
        if fd != -1:
            release(fd)
    changed = in_file == bytes([MARK]).hex() if in_file is not None else None
    note(stored=True, file=in_file, file_changed=changed)
    read_back = libc.load(addr)
    return {"read_back": read_back, "file": in_file, "file_changed": changed,
            "usable": read_back == MARK}


def pymmap_store(path: str, access: str) -> dict[str, Any]:
    """Store one byte through Python's mmap with ``access``; return what the file then holds."""
    fd = os.open(path, os.O_RDWR)
    try:
        with pymmap.mmap(fd, 0, access=getattr(pymmap, access)) as mapped:
            mapped[0] = MARK
            read_back = mapped[0]
    finally:
        release(fd)
    in_file = read_file(path, 1).hex()
    return {"read_back": read_back, "file": in_file,
            "file_changed": in_file == bytes([MARK]).hex()}


def call_code(path: str, prot: str) -> int:
    """Write a return-42 routine into ``path``, map it with ``prot`` and call it; return 42.

    Raises :class:`helpers.libc.Unsupported` on a machine whose routine is not
    tabulated; a mapping without PROT_EXEC ends the child with SIGSEGV.
    """
    machine = os.uname().machine
    if machine not in RETURN_42:
        raise libc.Unsupported("machine code", f"no return-42 routine for {machine}")
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, RETURN_42[machine], 0)
        addr = libc.mmap(0, libc.PAGE_SIZE, bits(prot), libc.MAP_PRIVATE, fd, 0)
    finally:
        release(fd)
    note(base=addr, mapped=True)
    return ctypes.CFUNCTYPE(ctypes.c_int)(addr)()


def touch_prot_none(path: str | None, access: str) -> int:
    """Map one page PROT_NONE (``path`` None: anonymous) and ``load``, ``store`` or ``reopen``.

    ``reopen`` first grants PROT_READ with mprotect, then loads: the range
    stayed reserved.  Returns the byte loaded; a fault ends the child.
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR) if path is not None else -1
    flags = libc.MAP_SHARED if path is not None else libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
    try:
        addr = libc.mmap(0, page, libc.PROT_NONE, flags, fd, 0)
    finally:
        if fd != -1:
            release(fd)
    note(base=addr, mapped=True)
    if access == "store":
        libc.store(addr, MARK)
    elif access == "reopen":
        libc.mprotect(addr, page, libc.PROT_READ)
    return libc.load(addr)
