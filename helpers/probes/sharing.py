"""Probes about who sees a write: MAP_SHARED, MAP_PRIVATE, fork."""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note


def private_write(path: str, data: bytes) -> dict[str, Any]:
    """Write ``data`` into a MAP_PRIVATE mapping of ``path`` and look everywhere else.

    Returns what the private mapping, a MAP_SHARED mapping of the same file,
    a forked child's fresh private mapping and the file itself hold, and the
    directory listing before and after (a "new file" would show there).
    """
    directory = os.path.dirname(path)
    before = sorted(os.listdir(directory))
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    rw = libc.PROT_READ | libc.PROT_WRITE
    private = libc.mmap(0, size, rw, libc.MAP_PRIVATE, fd, 0)
    shared = libc.mmap(0, size, rw, libc.MAP_SHARED, fd, 0)
    note(base=private)
    libc.write_bytes(private, data)
    n = len(data)
    read_r, read_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # another process maps the file after the write
        other = libc.mmap(0, size, libc.PROT_READ, libc.MAP_PRIVATE, fd, 0)
        os.write(read_w, libc.read_bytes(other, n))
        os._exit(0)
    os.close(read_w)
    other_process = os.read(read_r, n)
    os.waitpid(pid, 0)
    os.close(read_r)
    libc.msync(private, size, libc.MS_SYNC)
    result = {
        "private": libc.read_bytes(private, n).hex(),
        "shared": libc.read_bytes(shared, n).hex(),
        "other_process": other_process.hex(),
        "file": os.pread(fd, n, 0).hex(),
        "new_files": sorted(set(os.listdir(directory)) - set(before)),
    }
    os.close(fd)
    return result


def pymmap_private_write(path: str, data: bytes) -> dict[str, Any]:
    """Write ``data`` through ``mmap.ACCESS_COPY`` and read the file back."""
    with open(path, "r+b") as handle, pymmap.mmap(handle.fileno(), 0,
                                                  access=pymmap.ACCESS_COPY) as mapped:
        mapped[: len(data)] = data
        mapped.flush()  # a no-op for ACCESS_COPY; present to show flushing does not leak
        return {"private": mapped[: len(data)].hex(),
                "file": os.pread(handle.fileno(), len(data), 0).hex()}
