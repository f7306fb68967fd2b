"""Probes of the POSIX assertions on ``mmap``: one verb per case, each returning what it saw.

Files arrive filled with a known byte; each verb maps, touches and reports
the bytes, sizes or errno names it observed, and notes the step it reached
before a touch that may kill it (``SIGBUS``, ``SIGSEGV``).
"""

from __future__ import annotations

import mmap as pymmap
import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import read_file, release
from helpers.probes.faults_calls import attempt
from helpers.probes.faults_privilege import become_user
from helpers.probes.mapping import bits

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE


def _fd(path: str, mode: int = os.O_RDWR) -> int:
    return os.open(path, mode)


def _map(path: str, length: int, prot: str = "PROT_READ|PROT_WRITE",
         flags: str = "MAP_SHARED", mode: int = os.O_RDWR, offset: int = 0) -> int:
    fd = _fd(path, mode)
    try:
        addr = libc.mmap(0, length, bits(prot), bits(flags), fd, offset)
    finally:
        release(fd)
    note(base=addr)
    return addr


def bytes_at_offset(path: str, layer: str) -> dict[str, Any]:
    """Map page 1 of a file whose page i holds byte i; return whether the bytes match."""
    with open(path, "r+b") as handle:
        handle.write(b"".join(bytes([i + 1]) * PAGE for i in range(3)))
    if layer == "pymmap":
        with open(path, "rb") as handle, pymmap.mmap(handle.fileno(), PAGE, offset=PAGE,
                                                     access=pymmap.ACCESS_READ) as mapped:
            seen = mapped[:PAGE]
    else:
        seen = libc.read_bytes(_map(path, PAGE, "PROT_READ", offset=PAGE), PAGE)
    return {"matches": seen == bytes([2]) * PAGE}


def replace_whole_page(path: str) -> dict[str, Any]:
    """MAP_FIXED one byte of a file over the second page of an anonymous region.

    Returns whether a byte far from the one named (offset 100 of that page)
    now shows the file, that is whether the whole page was replaced.
    """
    region = libc.mmap(0, 2 * PAGE, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.write_bytes(region, b"A" * 2 * PAGE)
    fd = _fd(path)
    libc.mmap(region + PAGE, 1, libc.PROT_READ, libc.MAP_SHARED | libc.MAP_FIXED, fd, 0)
    return {"replaced": libc.read_bytes(region + PAGE + 100, 1) == b"F",
            "first_page_kept": libc.read_bytes(region, 1) == b"A"}


def map_object(target: str, kind: str) -> dict[str, Any]:
    """Map one page of a regular file or of a new shm object; return ``"ok"`` or the errno."""
    if kind == "shm":
        fd = libc.shm_open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            libc.ftruncate(fd, PAGE)
        finally:
            libc.shm_unlink(target)
    else:
        fd = _fd(target)
    return {"mmap": attempt(libc.mmap, 0, PAGE, RW, libc.MAP_SHARED, fd, 0)}


def typed_memory_open(name: str) -> dict[str, Any]:
    """Open a typed memory object (POSIX_TYPED_MEM_ALLOCATE); Unsupported where there is none."""
    fd = libc.posix_typed_mem_open(name, os.O_RDWR, 1)
    return {"mmap": attempt(libc.mmap, 0, PAGE, RW, libc.MAP_SHARED, fd, 0)}


def map_with_prot(prot: str) -> dict[str, Any]:
    """Return the result of an anonymous private mapping with protection ``prot``."""
    return {"mmap": attempt(libc.mmap, 0, PAGE, bits(prot),
                            libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)}


def touch(prot: str, access: str) -> dict[str, Any]:
    """Map a page with ``prot`` and load from or store to it (may die by SIGSEGV)."""
    addr = libc.mmap(0, PAGE, bits(prot), libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    note(base=addr, mapped=True)
    if access == "store":
        libc.store(addr + 8, 0x2A)
    else:
        libc.load(addr + 8)
    return {"survived": True}


def map_fd_mode(path: str, mode: str, prot: str, flags: str, layer: str) -> dict[str, Any]:
    """Return the result of mapping ``path`` opened with ``mode`` (``O_RDONLY``, ...)."""
    fd = _fd(path, getattr(os, mode))
    if layer == "pymmap":
        access = pymmap.ACCESS_WRITE if "WRITE" in prot else pymmap.ACCESS_READ
        if flags == "MAP_PRIVATE":
            access = pymmap.ACCESS_COPY
        return {"mmap": attempt(pymmap.mmap, fd, PAGE, access=access)}
    return {"mmap": attempt(libc.mmap, 0, PAGE, bits(prot), bits(flags), fd, 0)}


def disposition(path: str, flags: str, layer: str = "libc") -> dict[str, Any]:
    """Store through a mapping of ``path`` and return whether the file's bytes changed.

    Python's mmap module spells MAP_SHARED as ACCESS_WRITE and MAP_PRIVATE as ACCESS_COPY.
    """
    if layer == "pymmap":
        access = pymmap.ACCESS_COPY if flags == "MAP_PRIVATE" else pymmap.ACCESS_WRITE
        with open(path, "r+b") as handle, pymmap.mmap(handle.fileno(), PAGE,
                                                      access=access) as mapped:
            mapped[0:1] = b"W"
    else:
        libc.write_bytes(_map(path, PAGE, flags=flags), b"W")
    return {"file_changed": read_file(path, 1) == b"W"}


def type_across_fork(path: str) -> dict[str, Any]:
    """Store in a shared and a private mapping from a forked child; report what the parent sees."""
    shared = _map(path, PAGE, flags="MAP_SHARED")
    private = libc.mmap(0, PAGE, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    pid = os.fork()
    if pid == 0:
        libc.write_bytes(shared, b"S")
        libc.write_bytes(private, b"P")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return {"child_exit": os.waitstatus_to_exitcode(status),
            "kept": libc.read_bytes(shared, 1) == b"S" and libc.read_bytes(private, 1) == b"\0"}


def fixed_at_free_address() -> dict[str, Any]:
    """Map MAP_FIXED at a free address; return the result and whether it landed there."""
    hole = libc.mmap(0, PAGE, libc.PROT_NONE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.munmap(hole, PAGE)
    addr, err = libc.mmap_raw(hole, PAGE, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS |
                              libc.MAP_FIXED)
    return {"mmap": err or "ok", "exact": addr == hole}


def map_private_file(path: str) -> dict[str, Any]:
    """Return the result of a MAP_PRIVATE mapping of a file."""
    fd = _fd(path)
    return {"mmap": attempt(libc.mmap, 0, PAGE, RW, libc.MAP_PRIVATE, fd, 0)}


def tail_of_last_page(path: str) -> dict[str, Any]:
    """Map a 100-byte file: the rest of its page reads zero and is reachable."""
    os.truncate(path, 100)
    addr = _map(path, 100)
    return {"tail_zero": libc.read_bytes(addr + 100, PAGE - 100) == bytes(PAGE - 100)}


def tail_store_not_written(target: str, kind: str) -> dict[str, Any]:
    """Store past the end of a 100-byte object, grow it, and return whether the store shows."""
    if kind == "shm":
        fd = libc.shm_open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        libc.shm_unlink(target)
    else:
        fd = _fd(target)
    libc.ftruncate(fd, 100)
    addr = libc.mmap(0, PAGE, RW, libc.MAP_SHARED, fd, 0)
    libc.store(addr + 200, 0x2A)
    libc.msync(addr, PAGE, libc.MS_SYNC)
    libc.munmap(addr, PAGE)
    libc.ftruncate(fd, PAGE)
    return {"not_written": os.pread(fd, 1, 200) == b"\0"}


def touch_past_eof(path: str) -> dict[str, Any]:
    """Map 2 pages of a 1-page file and load from the second (SIGBUS expected)."""
    addr = _map(path, 2 * PAGE)
    note(mapped=True)
    libc.load(addr + PAGE)
    return {"survived": True}


def atime_marked(path: str) -> dict[str, Any]:
    """Set the file's atime to the epoch, read through a mapping, return whether atime moved.

    A filesystem mounted ``noatime`` never marks access times, which mmap(2)
    allows ("may be updated"): the case cannot be seen there at all.
    """
    if os.statvfs(path).f_flag & os.ST_NOATIME:
        raise libc.Unsupported("access-time updates", "the scratch filesystem is mounted "
                               "noatime, so st_atime cannot show the mapping's reads")
    os.utime(path, (0, 10**9))
    addr = _map(path, PAGE, "PROT_READ")
    libc.read_bytes(addr, 1)
    libc.munmap(addr, PAGE)
    return {"marked": os.stat(path).st_atime > 0}


def times_marked(path: str, msync_flag: str) -> dict[str, Any]:
    """Store through MAP_SHARED, msync, and return whether mtime and ctime moved."""
    before = os.stat(path)
    os.utime(path, (10**9, 10**9))
    addr = _map(path, PAGE)
    libc.write_bytes(addr, b"T")
    libc.msync(addr, PAGE, libc.constant(msync_flag))
    after = os.stat(path)
    return {"marked": after.st_mtime > 10**9 and after.st_ctime_ns >= before.st_ctime_ns}


def return_values(path: str) -> dict[str, Any]:
    """Return whether a success returned the address (never MAP_FAILED) and a failure MAP_FAILED."""
    fd = _fd(path)
    addr, err = libc.mmap_raw(0, PAGE, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    bad, bad_err = libc.mmap_raw(0, PAGE, libc.PROT_READ, libc.MAP_SHARED, fd, 1)
    return {"success": err is None and addr not in (libc.MAP_FAILED, 0) and addr % PAGE == 0,
            "failure": bad == libc.MAP_FAILED and bad_err is not None, "failure_errno": bad_err}


def mlockall_beyond_limit() -> dict[str, Any]:
    """Lock future mappings as an unprivileged user; map 1 MiB more than RLIMIT_MEMLOCK allows.

    The caller sets the limit (the runner's ``rlimits``, 64 KiB); a limit the
    child may not set, or a root that cannot become ``nobody``, raises
    ``SetupRefused`` before ``mmap``, never as its result.
    """
    become_user()
    libc.mlockall(libc.constant("MCL_FUTURE"))
    return {"mmap": attempt(libc.mmap, 0, 1 << 20, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)}


def map_count_limit() -> dict[str, Any]:
    """Map single pages of alternating protection until mmap fails; return its errno."""
    flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
    for count in range(1 << 20):
        prot = libc.PROT_READ if count % 2 else libc.PROT_NONE
        err = libc.mmap_raw(0, PAGE, prot, flags)[1]
        if err is not None:
            return {"mmap": err, "mappings": count}
    return {"mmap": "ok", "mappings": count}


def fixed_past_address_space() -> dict[str, Any]:
    """MAP_FIXED a range at the top of the 64-bit space (never user memory); return the errno."""
    flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | libc.MAP_FIXED
    return {"mmap": libc.mmap_raw((1 << 64) - 2 * PAGE, PAGE, RW, flags)[1] or "ok"}


def no_room(length: int) -> dict[str, Any]:
    """Return the errno of an anonymous mapping larger than any free range."""
    return {"mmap": libc.mmap_raw(0, length, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)[1]
            or "ok"}
