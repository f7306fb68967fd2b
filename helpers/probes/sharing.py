"""Probes about who sees a write: MAP_SHARED, MAP_PRIVATE, fork, unrelated processes.

The "unrelated process" is a :class:`~helpers.probes.peer.Peer`: a fresh
interpreter that maps the same file and answers one request at a time, so
every read it makes is ordered after the store that preceded the request.
"""

from __future__ import annotations

import mmap as pymmap
import os
import statistics
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release
from helpers.probes.fork import Link, Mapped, result_of, spawn
from helpers.probes.peer import Peer
from helpers.probes.regions import dirty_kb, region_at


def private_write(path: str, data: bytes) -> dict[str, Any]:
    """Write ``data`` into a MAP_PRIVATE mapping of ``path`` and look everywhere else.

    Returns the file's bytes before the write; what the private mapping, a
    MAP_SHARED mapping of the same file, a forked child's fresh private
    mapping and the file itself hold after it; and the files that appeared
    in the directory meanwhile (a "new file" would show there).
    """
    directory = os.path.dirname(path)
    before = sorted(os.listdir(directory))
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    original = os.pread(fd, len(data), 0).hex()
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
    release(read_w)
    other_process = os.read(read_r, n)
    os.waitpid(pid, 0)
    release(read_r)
    synced = libc.errno_of(libc.msync, private, size, libc.MS_SYNC)
    new_files = sorted(set(os.listdir(directory)) - set(before))
    result = {
        "msync_errno": synced,
        "original": original,
        "private": libc.read_bytes(private, n).hex(),
        "shared": libc.read_bytes(shared, n).hex(),
        "other_process": other_process.hex(),
        "file": os.pread(fd, n, 0).hex(),
        "new_files": new_files,
        "new_file_count": len(new_files),
    }
    release(fd)
    return result


def pymmap_private_write(path: str, data: bytes) -> dict[str, Any]:
    """Write ``data`` through ``mmap.ACCESS_COPY``; return the file before, the mapping and
    the file after, and the files that appeared in the directory.
    """
    directory = os.path.dirname(path)
    before = set(os.listdir(directory))
    with open(path, "r+b") as handle, pymmap.mmap(handle.fileno(), 0,
                                                  access=pymmap.ACCESS_COPY) as mapped:
        original = os.pread(handle.fileno(), len(data), 0).hex()
        mapped[: len(data)] = data
        mapped.flush()  # a no-op for ACCESS_COPY; present to show flushing does not leak
        new_files = sorted(set(os.listdir(directory)) - before)
        return {"original": original, "private": mapped[: len(data)].hex(),
                "file": os.pread(handle.fileno(), len(data), 0).hex(),
                "new_files": new_files, "new_file_count": len(new_files)}


# --- between this process and an unrelated one ---------------------------------------------

def _open_mapped(path: str, layer: str, *, shared: bool = True) -> Mapped:
    """Return a read-write mapping of the whole file at ``path`` through ``layer``."""
    fd = os.open(path, os.O_RDWR)
    try:
        return Mapped(layer, os.fstat(fd).st_size, fd=fd, shared=shared)
    finally:
        release(fd)


def store_seen_elsewhere(path: str, layer: str, token: bytes, answer: bytes) -> dict[str, Any]:
    """Store ``token`` through a MAP_SHARED mapping and look for it everywhere else, no msync.

    An unrelated process (a fresh interpreter, mapping through the same
    layer) maps the file MAP_SHARED and MAP_PRIVATE and reads both before
    and after the store; a new descriptor reads the file; the other process
    then stores ``answer`` at offset 64, which this side reads.  Also
    returns what was stored (``token``, ``answer``) and the mapping's dirty
    kB after the store and after msync(MS_SYNC), and the errno of that
    msync (None when it succeeded).
    """
    here = _open_mapped(path, layer)
    note(base=here.addr)
    size, n = here.length, len(token)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)  # so the dirty pages counted below are the store's, not the file's creation's
    release(fd)
    with Peer() as peer:
        shared = peer.map(path, length=size, layer=layer)
        private = peer.map(path, length=size, flags="MAP_PRIVATE", layer=layer)
        before = {"shared": peer.read(shared, 0, n).hex(),
                  "private": peer.read(private, 0, n).hex()}
        here.write(0, token)
        seen = {"peer_shared": peer.read(shared, 0, n).hex(),
                "peer_private_untouched": peer.read(private, 0, n).hex()}
        peer.write(shared, 64, answer)
        seen["here_reads_answer"] = here.read(64, len(answer)).hex()
    fd = os.open(path, os.O_RDONLY)
    seen["new_descriptor"] = os.pread(fd, n, 0).hex()
    release(fd)
    seen["dirty_kb_after_store"] = dirty_kb(here.addr)
    seen["msync_errno"] = libc.errno_of(here.sync)
    seen["dirty_kb_after_msync"] = dirty_kb(here.addr)
    return {"before": before, "token": token.hex(), "answer": answer.hex(), **seen}


def flag_pairings(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Return what an unrelated reader sees of a store, per writer/reader flag pairing.

    Pairing ``W/R`` uses its own page of the file: this process stores
    ``token`` through its mapping with flags ``W`` after the reader's
    mapping with flags ``R`` has read that page once (so a private reader
    holds the page before the store).  Returns ``{"token": stored, "seen":
    {pairing: bytes read}}``.
    """
    writers = {"MAP_SHARED": _open_mapped(path, layer),
               "MAP_PRIVATE": _open_mapped(path, layer, shared=False)}
    size, n = writers["MAP_SHARED"].length, len(token)
    pairs = [(w, r) for w in writers for r in ("MAP_SHARED", "MAP_PRIVATE")]
    seen = {}
    with Peer() as peer:
        readers = {r: peer.map(path, length=size, flags=r, layer=layer)
                   for r in ("MAP_SHARED", "MAP_PRIVATE")}
        for page, (w, r) in enumerate(pairs):
            at = page * libc.PAGE_SIZE
            peer.read(readers[r], at, n)
            writers[w].write(at, token)
            seen[f"{w}/{r}"] = peer.read(readers[r], at, n).hex()
    return {"token": token.hex(), "seen": seen}


def read_only_receiver(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Store ``token`` here; an unrelated process maps the file O_RDONLY, PROT_READ, MAP_SHARED.

    Returns what was stored, what the receiver read before and after the
    store and how long it spun before the store showed (it starts spinning
    first; None when it never showed within the peer's deadline: then what
    the receiver reads after it is the observation).
    """
    here = _open_mapped(path, layer)
    n = len(token)
    with Peer() as peer:
        ident = peer.map(path, mode="O_RDONLY", prot="r", length=here.length, layer=layer)
        before = peer.read(ident, 0, n).hex()
        try:
            spun: int | None = peer.await_bytes(ident, 0, token,
                                                then=lambda: here.write(0, token))
        except TimeoutError:
            spun = None
        after = peer.read(ident, 0, n).hex()
    return {"token": token.hex(), "before": before, "after": after, "spun_ns": spun}


def visibility_latency(path: str, layer: str, rounds: int) -> dict[str, Any]:
    """Store ``rounds`` counter values while an unrelated process spins on them.

    For each value the other process starts spinning first, then this one
    stores; returns the nanoseconds each took to show (every one must show
    within the deadline, or the probe raises TimeoutError), and their median
    and maximum.
    """
    here = _open_mapped(path, layer)
    with Peer() as peer:
        ident = peer.map(path, length=here.length, layer=layer)
        spun = [peer.await_bytes(ident, 0, i.to_bytes(8, "little"),
                                 then=lambda i=i: here.write(0, i.to_bytes(8, "little")))
                for i in range(1, rounds + 1)]
    return {"rounds": rounds, "spun_ns": spun, "median_ns": statistics.median(spun),
            "max_ns": max(spun)}


def private_store_isolated(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Store ``token`` into a MAP_PRIVATE mapping; return what everyone else sees.

    A child forked before the store, an unrelated process's MAP_SHARED
    mapping and a descriptor read offset 0; then msync (its errno is
    returned, None on success) and munmap and the file is read again.  The
    other direction, unspecified by POSIX: the unrelated process stores into
    page 1, which this private mapping has only read, and this side reads it.
    """
    here = _open_mapped(path, layer, shared=False)
    n = len(token)
    original = here.read(0, n).hex()
    here.read(libc.PAGE_SIZE, n)

    def child(link: Link) -> str:
        link.recv()
        return here.read(0, n).hex()

    forked = spawn(child)
    with Peer() as peer:
        ident = peer.map(path, length=here.length)
        peer.read(ident, 0, n)
        here.write(0, token)
        forked.link.send("stored")
        seen = {"original": original, "here": here.read(0, n).hex(),
                "forked_child": result_of(forked),
                "unrelated_process": peer.read(ident, 0, n).hex()}
        status = forked.wait()
        peer.write(ident, libc.PAGE_SIZE, token[::-1])
        seen["untouched_page_after_outside_store"] = here.read(libc.PAGE_SIZE, n).hex()
    fd = os.open(path, os.O_RDONLY)
    seen["file_before_msync"] = os.pread(fd, n, 0).hex()
    seen["msync_errno"] = libc.errno_of(here.sync)
    here.unmap()
    seen["file_after_msync_munmap"] = os.pread(fd, n, 0).hex()
    release(fd)
    return {**seen, "child_status": status, "outside_token": token[::-1].hex()}


# --- one process: the mapping and the file ---------------------------------------------------

def byte_correspondence(path: str, layer: str, offset: int, positions: list[int]) -> list[dict]:
    """Map ``path`` at ``offset``; per position, write through one side and read the other.

    For position ``i``: ``pwrite`` at ``offset + i`` then load ``i`` through
    the mapping; store at ``i`` through the mapping then ``pread`` at
    ``offset + i``.  Returns what each read saw.
    """
    fd = os.open(path, os.O_RDWR)
    here = Mapped(layer, os.fstat(fd).st_size - offset, fd=fd, offset=offset)
    rows = []
    for i in positions:
        os.pwrite(fd, bytes([i % 251 + 1]), offset + i)
        through_map = here.read(i, 1)[0]
        here.write(i, bytes([255 - i % 251]))
        rows.append({"i": i, "pwrite_then_load": through_map == i % 251 + 1,
                     "store_then_pread": os.pread(fd, 1, offset + i)[0] == 255 - i % 251})
    release(fd)
    return rows


def partial_mapping(path: str, layer: str, first_page: int, pages: int) -> dict[str, Any]:
    """Map ``pages`` pages of ``path`` from page ``first_page``; compare with the file's bytes.

    Returns whether the mapping's bytes equal the file's range, the
    ``/proc/self/maps`` line of the mapping (size and file offset) and what
    lies just before and after it.
    """
    page = libc.PAGE_SIZE
    fd = os.open(path, os.O_RDWR)  # read-write: a Python mmap's address needs a writable buffer
    here = Mapped(layer, pages * page, fd=fd, offset=first_page * page)
    expected = os.pread(fd, pages * page, first_page * page)
    release(fd)
    region = region_at(here.addr)
    assert region is not None
    return {"equal": here.read(0, pages * page) == expected,
            "region_bytes": region.end - region.start, "region_offset": region.offset,
            "region_path_is_file": region.path == os.path.realpath(path)}
