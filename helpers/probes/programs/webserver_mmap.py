"""webserver-mmap's complete programs (C): parent and child over a file, the copy, anonymous memory.

Call for call, with the programs' unchecked calls left unchecked (an
``open`` that fails gives -1 and the program goes on with it) and their
file names kept: the stage runs them in a private working directory.
"""

from __future__ import annotations

import ctypes
import os

from helpers import libc
from helpers.probes.programs.process import perror, say, unchecked, wait_child
from helpers.probes.programs.stage import Event, Stage

RW = libc.PROT_READ | libc.PROT_WRITE


def _int(value: int) -> int:
    """Return ``value`` as C's ``int`` keeps it (32 bits, signed)."""
    return ctypes.c_int(value).value


def related(stage: Stage) -> int:
    """一、内存映射与进程通信: map test.txt (its size), fork; the child strcpy's, the parent prints.

    ``open`` and ``lseek`` are unchecked: a missing test.txt gives fd -1 and
    size -1, and ``mmap`` is called with them.  The parent waits for the
    child before reading (``wait(NULL)``), so no sleep is involved.
    """
    fd = unchecked(os.open, "test.txt", os.O_RDWR)
    size = _int(unchecked(os.lseek, fd, 0, os.SEEK_END))
    try:
        ptr = libc.mmap(0, size, RW, libc.MAP_SHARED, fd, 0)
    except OSError as exc:
        perror("mmap", exc)
        return 0  # exit(0)
    pid = os.fork()
    if pid > 0:
        wait_child(pid)
        buf = libc.c_string(ptr)  # strcpy(buf, (char *)ptr) into char buf[64]
        say("read data : ", buf)  # printf("read data : %s\n", buf)
    elif pid == 0:
        libc.write_bytes(ptr, b"nihao a, son!!!\0")
    libc.munmap_raw(ptr, size)  # unchecked
    return 0


def copy(stage: Stage) -> int:
    """The copy demo: open english.txt, create cpy.txt, truncate it, write one byte, map, memcpy.

    The failed ``open`` of cpy.txt is reported and ignored; ``truncate`` and
    ``write`` are unchecked; both ``mmap`` calls come before both checks.
    """
    try:
        fd = os.open("english.txt", os.O_RDWR)
    except OSError as exc:
        perror("open", exc)
        return 0
    length = _int(os.lseek(fd, 0, os.SEEK_END))
    try:
        fd1 = os.open("cpy.txt", os.O_RDWR | os.O_CREAT, 0o664)
    except OSError as exc:
        perror("open", exc)
        fd1 = -1
    unchecked(os.truncate, "cpy.txt", length)
    unchecked(os.write, fd1, b"\0")  # write(fd1, "", 1): the string's NUL, at offset 0
    mapped: dict[str, int | OSError] = {}
    for label, which in (("ptr", fd), ("ptr1", fd1)):
        try:
            mapped[label] = libc.mmap(0, length, RW, libc.MAP_SHARED, which, 0)
        except OSError as exc:
            mapped[label] = exc
    for label, result in mapped.items():
        if isinstance(result, OSError):
            perror(label, result)
            return 0
    ptr, ptr1 = int(mapped["ptr"]), int(mapped["ptr1"])  # type: ignore[arg-type]
    ctypes.memmove(ptr1, ptr, length)
    libc.munmap_raw(ptr1, length)
    libc.munmap_raw(ptr, length)
    unchecked(os.close, fd1)
    unchecked(os.close, fd)
    return 0


def anonymous(stage: Stage) -> int:
    """二、匿名映射与进程通信: 4096 bytes MAP_SHARED|MAP_ANONYMOUS, fork; child sleeps 1 s, prints.

    The child's ``sleep(1)`` is the only thing that orders its read after
    the parent's ``strcpy``; the default run replaces it by waiting for the
    parent's store.
    """
    length = 4096
    try:
        ptr = libc.mmap(0, length, RW, libc.MAP_SHARED | libc.MAP_ANONYMOUS, -1, 0)
    except OSError as exc:
        perror("mmap", exc)
        return 0
    stored = Event()
    pid = os.fork()
    if pid > 0:
        libc.write_bytes(ptr, b"hello, world\0")
        stored.post()
        wait_child(pid)
    elif pid == 0:
        stage.sleep(1)
        stage.handoff(stored)
        say(libc.c_string(ptr))  # printf("%s\n", (char *)ptr)
    try:
        libc.munmap(ptr, length)
    except OSError as exc:
        perror("munmap", exc)
        return 0
    return 0
