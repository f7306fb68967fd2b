"""go-mmap's demo (Go): grow tmp.txt to 1 byte, map 128 MiB, grow to 22, store the spaced message.

Go's ``syscall.Mmap(fd, offset, length, prot, flags)`` is ``mmap(NULL,
length, prot, flags, fd, offset)``; ``File.Truncate`` is ``ftruncate``;
``File.Stat`` is ``fstat``.  Errors the demo discards (``_ =``, ``f, _ :=``,
``info, _ :=``) are discarded here too; its ``_assert`` panics become a
printed panic message and exit status 2, as Go's runtime does.
"""

from __future__ import annotations

import os

from helpers import libc
from helpers.probes.programs.process import say, unchecked
from helpers.probes.programs.stage import Stage

RW = libc.PROT_READ | libc.PROT_WRITE
DEFAULT_MAX_FILE_SIZE = 1 << 30
DEFAULT_MEM_MAP_SIZE = 128 * (1 << 20)


class GoPanic(Exception):
    """``panic(fmt.Sprintf(msg, v...))`` from the demo's ``_assert``."""


def _assert(condition: bool, msg: str) -> None:
    if not condition:
        raise GoPanic(msg)


def demo(stage: Stage) -> int:
    """main: remove tmp.txt, create it, grow(1), mmap, grow(22), store "h e l l o ...", munmap."""
    unchecked(os.remove, "tmp.txt")
    fd = unchecked(os.open, "tmp.txt", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        def grow(size: int) -> None:
            info = unchecked(os.fstat, fd)  # info, _ := demo.file.Stat()
            if info == -1:  # info.Size() on the nil FileInfo of a failed Stat
                raise GoPanic("runtime error: invalid memory address or nil pointer dereference")
            if info.st_size >= size:
                return
            _assert(unchecked(os.ftruncate, fd, size) != -1, "failed to truncate")

        grow(1)
        b, err = libc.mmap_raw(0, DEFAULT_MEM_MAP_SIZE, RW, libc.MAP_SHARED, fd, 0)
        _assert(err is None, f"failed to mmap{err}")
        try:
            msg = "hello mmap!"
            grow(len(msg) * 2)
            for i, v in enumerate(msg):  # range over a string: byte index, rune
                libc.store(b + 2 * i, ord(v))
                libc.store(b + 2 * i + 1, ord(" "))
        finally:  # defer demo.munmap()
            _assert(libc.munmap_raw(b, DEFAULT_MEM_MAP_SIZE)[0] == 0, "failed to munmap")
    except GoPanic as exc:
        say(f"panic: {exc}")
        return 2
    return 0
