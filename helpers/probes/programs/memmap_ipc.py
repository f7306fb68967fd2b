"""memmap-ipc's complete programs (C++): related processes, the writer/reader pair, the copy.

Each function is one program, call for call; a comment marks every place
where the program checks nothing and the replay, like the program, goes on.
The file names are the program's own and relative: the stage runs them in a
private working directory.
"""

from __future__ import annotations

import ctypes
import os

from helpers import libc
from helpers.probes.programs.process import perror, say, wait_child
from helpers.probes.programs.stage import Event, Stage

RW = libc.PROT_READ | libc.PROT_WRITE
#: The child's line, as the program prints it (cout of a C string).
CHILD_LABEL = "从内存映射区读取出来的数据: "


def related(stage: Stage) -> int:
    """有血缘关系的进程通信: open test.txt (O_CREAT), map 4000 bytes, fork; parent copies "test".

    The parent sleeps 5 s after its store "so the child has time to read";
    the child reads at once.  As written nothing orders the child's read
    after the store; the default run replaces the sleep by what it is meant
    to give, the child reading after the parent's store (the child waits
    for it), and ``as-written`` sleeps the 5 s in the parent instead.
    """
    try:
        fd = os.open("test.txt", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        perror("open", exc)
        return -1
    say("111")
    try:
        ptr = libc.mmap(0, 4000, RW, libc.MAP_SHARED, fd, 0)
    except OSError as exc:
        perror("mmap", exc)
        return -1
    stored = Event()
    pid = os.fork()  # unchecked, as in the program
    if pid > 0:
        say("222")
        libc.write_bytes(ptr, b"test\0")  # memcpy(ptr, str, strlen(str) + 1)
        stored.post()
        stage.sleep(5)
    elif pid == 0:
        stage.handoff(stored)
        say(CHILD_LABEL, libc.c_string(ptr))
    wait_child(pid)  # wait(NULL): the child has none and returns at once
    libc.munmap(ptr, 4000)  # return values unchecked
    os.close(fd)
    return 0


def writer(stage: Stage) -> int:
    """无血缘关系的进程通信, 写端: open test.txt O_RDWR (no O_CREAT), map 4096, copy "test"."""
    try:
        fd = os.open("test.txt", os.O_RDWR)
    except OSError as exc:
        perror("open", exc)
        return -1
    try:
        ptr = libc.mmap(0, 4096, RW, libc.MAP_SHARED, fd, 0)
    except OSError as exc:
        perror("mmap", exc)
        return -1
    libc.write_bytes(ptr, b"test\0")
    libc.munmap(ptr, 4096)
    return 0  # the descriptor is never closed: the exit closes it


def reader(stage: Stage) -> int:
    """无血缘关系的进程通信, 读端: open test.txt O_RDWR, map 4096, print "ptr:" and the string."""
    try:
        ret = os.open("test.txt", os.O_RDWR)
    except OSError as exc:
        perror("open", exc)
        return -1
    try:
        ptr = libc.mmap(0, 4096, RW, libc.MAP_SHARED, ret, 0)
    except OSError as exc:
        perror("mmap", exc)
        return -1
    say("ptr:", libc.c_string(ptr))
    libc.munmap(ptr, 4096)
    return 0


def copy(stage: Stage) -> int:
    """基于内存映射实现文件拷贝: map test.txt, create test2.txt, map it, ftruncate, memcpy.

    The program's order: ``int size = lseek(SEEK_END)``, map the source
    read-only, open the target with O_TRUNC, map it with the source's size,
    ``ftruncate`` (unchecked), ``memcpy``, close both, ``munmap(ptr1,
    4096)`` (whatever the size), ``munmap(ptr2, size)``.  Every failure
    returns 0.
    """
    try:
        fd1 = os.open("test.txt", os.O_RDONLY)
    except OSError as exc:
        perror("open", exc)
        return 0
    size = ctypes.c_int(os.lseek(fd1, 0, os.SEEK_END)).value
    try:
        ptr1 = libc.mmap(0, size, libc.PROT_READ, libc.MAP_SHARED, fd1, 0)
    except OSError as exc:
        perror("mmap", exc)
        return 0
    try:
        fd2 = os.open("test2.txt", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as exc:
        perror("open", exc)
        return 0
    try:
        ptr2 = libc.mmap(0, size, RW, libc.MAP_SHARED, fd2, 0)
    except OSError as exc:
        perror("mmap", exc)
        return 0
    os.ftruncate(fd2, size)
    ctypes.memmove(ptr2, ptr1, size)
    os.close(fd1)
    os.close(fd2)
    libc.munmap(ptr1, 4096)
    libc.munmap(ptr2, size)
    return 0
