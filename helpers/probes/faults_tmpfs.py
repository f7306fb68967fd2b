"""Probes on a small private tmpfs: running out of space, and ``noexec``.

Each probe mounts its own tmpfs of a few pages over an empty directory the
check made (see :mod:`helpers.namespaces`), in a mount namespace of its own,
so nothing on the host fills up or changes.  Where the platform refuses the
namespace or the mount, the probe ends with
:class:`~helpers.namespaces.NamespaceRefused` and the check is skipped.
"""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.namespaces import small_tmpfs
from helpers.probes.faults_calls import OK, attempt


def _free_bytes(directory: str) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def store_every_page_of_sparse_file(mount_point: str, fs_size: int, file_size: int, *,
                                    layer: str = "libc") -> dict[str, Any]:
    """Store one byte per page of a sparse ``file_size`` file on a ``fs_size`` tmpfs.

    The file is only ``ftruncate``-d, so no page is allocated until a store
    needs it; once the tmpfs is full the next store has no way to report
    ``ENOSPC`` and the child dies by ``SIGBUS``, the fault offset naming the
    first page that could not be allocated.  Returns the pages stored if
    every store worked (it should not).
    """
    page = libc.PAGE_SIZE
    with small_tmpfs(mount_point, size=fs_size):
        fd = os.open(os.path.join(mount_point, "sparse"), os.O_RDWR | os.O_CREAT, 0o600)
        os.ftruncate(fd, file_size)
        if layer == "pymmap":
            mapped = pymmap.mmap(fd, file_size, access=pymmap.ACCESS_WRITE)
            addr = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
            store = mapped.__setitem__
            note(base=addr, layer=layer, free_bytes=_free_bytes(mount_point))
            for offset in range(0, file_size, page):
                store(offset, 0x53)
        else:
            rw = libc.PROT_READ | libc.PROT_WRITE
            addr = libc.mmap(0, file_size, rw, libc.MAP_SHARED, fd, 0)
            note(base=addr, layer=layer, free_bytes=_free_bytes(mount_point))
            for offset in range(0, file_size, page):
                libc.store(addr + offset, 0x53)
        return {"pages_stored": file_size // page}


def allocate_up_front(mount_point: str, fs_size: int, too_big: int,
                      fits: int) -> dict[str, Any]:
    """Return the results of allocating ``too_big`` then ``fits`` bytes, and of using them.

    ``posix_fallocate`` reserves real pages: on a tmpfs of ``fs_size`` bytes
    the ``too_big`` request must fail with ``ENOSPC`` at once (and leave the
    file's size alone), the ``fits`` one succeed, after which a store into
    every page of a shared mapping of the file has nothing left to fail on.
    """
    page = libc.PAGE_SIZE
    with small_tmpfs(mount_point, size=fs_size):
        free_before = _free_bytes(mount_point)
        big = os.open(os.path.join(mount_point, "too-big"), os.O_RDWR | os.O_CREAT, 0o600)
        too_big_result = attempt(os.posix_fallocate, big, 0, too_big)
        too_big_size = os.fstat(big).st_size
        os.close(big)
        fd = os.open(os.path.join(mount_point, "fits"), os.O_RDWR | os.O_CREAT, 0o600)
        fits_result = attempt(os.posix_fallocate, fd, 0, fits)
        note(too_big=too_big_result, fits=fits_result)
        stored = 0
        if fits_result == OK:
            rw = libc.PROT_READ | libc.PROT_WRITE
            addr = libc.mmap(0, fits, rw, libc.MAP_SHARED, fd, 0)
            note(base=addr)
            for offset in range(0, fits, page):
                libc.store(addr + offset, 0x41)
                stored += 1
        return {"free_before": free_before, "too_big": too_big_result,
                "too_big_size_after": too_big_size, "fits": fits_result,
                "pages_stored": stored, "pages_in_file": fits // page}


def exec_mapping_on_noexec(mount_point: str, *, noexec: bool) -> dict[str, str]:
    """Return how ``PROT_EXEC`` fares on a file of a private tmpfs, mounted noexec or not.

    Two ways in: asking for ``PROT_READ | PROT_EXEC`` at ``mmap`` time, and
    mapping ``PROT_READ`` first then adding ``PROT_EXEC`` with ``mprotect``.
    """
    page = libc.PAGE_SIZE
    with small_tmpfs(mount_point, size=16 * page, noexec=noexec):
        fd = os.open(os.path.join(mount_point, "code"), os.O_RDWR | os.O_CREAT, 0o700)
        os.write(fd, b"\xc3" * page)  # x86 'ret'; never executed, only mapped
        rx = libc.PROT_READ | libc.PROT_EXEC
        mmap_exec = attempt(libc.mmap, 0, page, rx, libc.MAP_PRIVATE, fd, 0)
        addr = libc.mmap(0, page, libc.PROT_READ, libc.MAP_PRIVATE, fd, 0)
        mprotect_exec = attempt(libc.mprotect, addr, page, rx)
        return {"mmap_prot_exec": mmap_exec, "mprotect_add_exec": mprotect_exec}
