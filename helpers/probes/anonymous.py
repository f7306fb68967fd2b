"""Probes about anonymous mappings and ``/dev/zero``: no file, zero-filled, shared by fork only."""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.isolate import SetupRefused, note
from helpers.probes.faults_privilege import become_user
from helpers.probes.fork import Link, Mapped, result_of, spawn
from helpers.probes.peer import Peer, PeerError
from helpers.probes.regions import describe_at, regions

PAGE = libc.PAGE_SIZE


def _first_nonzero(data: bytes) -> int | None:
    """Return the index of the first byte that is not zero, None if every byte is."""
    stripped = data.lstrip(b"\0")
    return None if not stripped else len(data) - len(stripped)


def across_fork(layer: str, shared: bool, token: bytes) -> dict[str, Any]:
    """Map anonymous memory, fork, let the child store ``token``; return what the parent reads.

    The parent reads only after reaping the child, so the store, if it is
    shared at all, has happened.  Returns the token stored beside what was read.
    """
    region = Mapped(layer, PAGE, shared=shared)

    def child(link: Link) -> int:
        region.write(0, token)
        return region.addr

    forked = spawn(child)
    child_address = result_of(forked)
    status = forked.wait()
    return {"token": token.hex(), "parent_reads": region.read(0, len(token)).hex(),
            "child_status": status, "same_address": child_address == region.addr}


def _open_as_nobody(path: str) -> str:
    """Return what ``open(path)`` gives a forked process with no privilege: ``ok`` or the errno.

    Where the process cannot become ``nobody``, the refusal
    (``SetupRefused.as_value()``), which the check observes as unobservable.
    """

    def child(link: Link) -> str:
        try:
            become_user()
        except SetupRefused as exc:
            return exc.as_value()
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError as exc:
            return libc.errno_name(exc) or "OSError"
        return "ok"

    forked = spawn(child)
    try:
        return result_of(forked)
    finally:
        forked.wait()


def reached_from_outside(layer: str, token: bytes) -> dict[str, Any]:
    """Store ``token`` in shared anonymous memory; try to read it from an unrelated process.

    The only name such memory has outside its process tree is
    ``/proc/<pid>/map_files/<start>-<end>``.  Returns what a fresh
    interpreter with this run's privileges reads through it, and (when
    running as root) what an unprivileged process gets opening it.
    """
    region = Mapped(layer, PAGE, shared=True)
    region.write(0, token)
    where = describe_at(region.addr)
    assert where is not None
    path = f"/proc/{os.getpid()}/map_files/{where['start'][2:]}-{where['end'][2:]}"
    with Peer() as peer:
        try:
            ident = peer.map(path, length=PAGE)
            unrelated = "reads " + peer.read(ident, 0, len(token)).hex()
        except PeerError as exc:
            unrelated = exc.name
    unprivileged = _open_as_nobody(path) if os.geteuid() == 0 else "not tried (not root)"
    return {"path": path, "unrelated_process": unrelated, "unprivileged_process": unprivileged,
            "token": token.hex(), "euid": os.geteuid()}


def fresh_anonymous(layer: str, shared: bool, size: int, *, dirty_first: bool) -> dict[str, Any]:
    """Map ``size`` bytes of anonymous memory and return whether every byte reads zero.

    With ``dirty_first`` the process first fills and frees a region of the
    same size, so memory it has just released is around to be reused.
    Also returns the pathname ``/proc/self/maps`` shows for the mapping.
    """
    if dirty_first:
        old = Mapped(layer, size, shared=shared)
        old.write(0, b"\xa5" * size)
        if old.handle is not None:
            old.handle.close()
        else:
            libc.munmap(old.addr, size)
    region = Mapped(layer, size, shared=shared)
    note(base=region.addr)
    where = describe_at(region.addr)
    return {"first_nonzero": _first_nonzero(region.read(0, size)),
            "path": where["path"] if where else None, "perms": where["perms"] if where else None}


def anonymous_ignores_fd(path: str, offset: int) -> dict[str, Any]:
    """Map MAP_PRIVATE|MAP_ANONYMOUS passing an open file's fd and ``offset``; return the path.

    Linux ignores the fd of an anonymous mapping; the offset is still checked.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        addr = libc.mmap(0, PAGE, libc.PROT_READ | libc.PROT_WRITE,
                         libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, fd, offset)
    finally:
        os.close(fd)
    where = describe_at(addr)
    return {"path": where["path"] if where else None, "first_byte": libc.load(addr)}


def anonymous_versus_heap(layer: str, size: int) -> dict[str, Any]:
    """Map ``size`` anonymous bytes, use them, and place them and a ``malloc`` against ``[heap]``.

    Returns whether the mapping and a ``malloc(size)`` block lie inside a
    ``[heap]`` region, every such region, and the regions that hold them.
    """
    region = Mapped(layer, size, shared=False)
    region.write(size - 5, b"works")
    works = region.read(size - 5, 5) == b"works"
    # The kernel names every region inside the brk range [heap]: a mapping
    # placed there splits the heap into several regions of that name.
    heap = [r for r in regions() if r.path == "[heap]"]
    block = libc.malloc(size)
    try:
        block_region = describe_at(block)
    finally:
        libc.free(block)

    def in_heap(addr: int) -> bool:
        return any(r.start <= addr < r.end for r in heap)

    return {"usable": works, "mapping_in_heap": in_heap(region.addr),
            "malloc_in_heap": in_heap(block), "heap": [r.as_data() for r in heap],
            "mapping_region": describe_at(region.addr), "malloc_region": block_region}


def dev_zero_io(pattern: bytes, read_size: int) -> dict[str, Any]:
    """Write ``pattern`` to /dev/zero and read ``read_size`` bytes back; return both results.

    ``asked`` is the length of ``pattern``: a full write reports exactly that.
    The reads and writes go through the C library, as a C program's do.
    """
    fd = os.open("/dev/zero", os.O_RDWR)
    try:
        written = libc.write(fd, pattern)
        data = libc.read(fd, read_size)
    finally:
        os.close(fd)
    return {"asked": len(pattern), "written": written, "read": len(data),
            "first_nonzero": _first_nonzero(data)}


def dev_zero_mapping(layer: str, shared: bool, token: bytes) -> dict[str, Any]:
    """Map /dev/zero, store, fork, and see which stores each side and a stranger read.

    Returns: the initial first nonzero byte (None: all zero), whether the
    store before the fork stayed, what the child reads of the parent's store
    made after the fork and what the parent reads of the child's, the maps
    pathname, and what an unrelated process mapping /dev/zero reads.
    """
    fd = os.open("/dev/zero", os.O_RDWR)
    region = Mapped(layer, 2 * PAGE, fd=fd, shared=shared)
    os.close(fd)
    initial = _first_nonzero(region.read(0, 2 * PAGE))
    region.write(0, token)
    kept = region.read(0, len(token)) == token

    def child(link: Link) -> dict[str, str]:
        link.recv()  # the parent has stored at offset 64
        seen = region.read(64, len(token)).hex()
        region.write(128, token)
        return {"parent_store_after_fork": seen}

    forked = spawn(child)
    region.write(64, token)
    forked.link.send("stored")
    child = result_of(forked)
    status = forked.wait()
    with Peer() as peer:
        ident = peer.map("/dev/zero", length=PAGE, flags="MAP_SHARED" if shared else "MAP_PRIVATE")
        stranger = peer.read(ident, 0, len(token)).hex()
    where = describe_at(region.addr)
    return {"initial_first_nonzero": initial, "store_kept": kept, "child_status": status,
            "child_reads_parent_store": child["parent_store_after_fork"],
            "parent_reads_child_store": region.read(128, len(token)).hex(),
            "path": where["path"] if where else None, "unrelated_reads": stranger,
            "token": token.hex()}

