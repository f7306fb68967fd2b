"""Probes about msync and durability: when stores through a mapping reach the file and the disk.

What "reached" means is read from the kernel, not assumed: a ``pread`` from
another descriptor shows what the page cache holds; the mapping's dirty size
in ``/proc/self/smaps`` shows whether the pages still wait for writeback;
``mincore`` after ``posix_fadvise(DONTNEED)`` shows whether a later read must
come from the device.  Files are written back (``fsync``) before each probe
so that only the probe's own stores are dirty.
"""

from __future__ import annotations

import os
import time
from typing import Any

from helpers import libc
from helpers.isolate import SetupRefused, note
from helpers.probes.faults_privilege import allow_locking
from helpers.probes.ipc import MappingPeer, start_forked
from helpers.probes.pages import PAGE, IoCounters, dirty_kb, drop_cached_pages, map_fd


def _writeback_timing() -> dict[str, int]:
    """Return the kernel's writeback period and dirty-page age limit, in centiseconds."""
    timing = {}
    for name in ("dirty_expire_centisecs", "dirty_writeback_centisecs"):
        with open(f"/proc/sys/vm/{name}") as handle:
            timing[name] = int(handle.read())
    return timing


def store_and_follow(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Store ``token`` through a MAP_SHARED mapping and follow it to the disk.

    Returns: the page faults of a first read of every page after the file's
    cache was dropped; what a new descriptor reads right after the store
    (before any msync or munmap); the mapping's dirty size before the store,
    after it and after a synchronous sync; and the dirty size a fresh
    mapping shows after a second store was followed by ``munmap`` without
    msync (munmap writes nothing back: written back means that store is in
    the file and its page is clean).  The sync's errno (None on success) is
    returned, not raised: what the file shows after the store is the question.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    evicted = not any(drop_cached_pages(fd))
    mapping = map_fd(fd, size, layer)
    note(base=mapping.addr)
    counters = IoCounters()
    start = counters.snapshot()
    mapping.touch(range(size // PAGE), write=False)
    faults = counters.snapshot()
    clean = dirty_kb(mapping.addr)
    mapping.write(0, token)
    reader = os.open(path, os.O_RDONLY)
    seen = os.pread(reader, len(token), 0)
    dirty = dirty_kb(mapping.addr)
    sync_errno = libc.errno_of(mapping.sync)
    synced = dirty_kb(mapping.addr)
    mapping.write(PAGE, token)
    mapping.close()
    again = map_fd(fd, size, "libc")
    again.touch(range(size // PAGE), write=False)
    left_dirty, in_file = dirty_kb(again.addr), os.pread(fd, len(token), PAGE) == token
    first = {k: faults[k] - start[k] for k in ("majflt", "minflt")}
    return {"cache_dropped": evicted, "stored": token.hex(),
            "first_read_faults": first, "first_read_fault_count": sum(first.values()),
            "new_descriptor_reads": seen.hex(), "dirty_kb_before_store": clean,
            "dirty_kb_after_store": dirty, "dirty_kb_after_sync": synced, "msync_errno": sync_errno,
            "dirty_kb_after_munmap_without_msync": left_dirty,
            "munmap_wrote_back": left_dirty == 0 and in_file,
            "writeback": _writeback_timing()}


def private_store_and_follow(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Store ``token`` through a MAP_PRIVATE mapping of ``path`` and look for it in the file.

    Returns what a new descriptor reads right after the store, and after
    ``msync(MS_SYNC)`` and ``munmap`` of the private mapping; the errno of
    that msync is returned (None on success), so that a failing one still
    shows where the store went.
    """
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, os.fstat(fd).st_size, layer, shared=False)
    note(base=mapping.addr)
    mapping.write(0, token)
    reader = os.open(path, os.O_RDONLY)
    after_store = os.pread(reader, len(token), 0)
    sync_errno = libc.errno_of(mapping.sync)
    mapping.close()
    return {"stored": token.hex(), "new_descriptor_reads": after_store.hex(),
            "msync_errno": sync_errno,
            "file_after_msync_and_munmap": os.pread(reader, len(token), 0).hex()}


def _window(fd: int, offset: int) -> int:
    """Map one page of ``fd`` at ``offset`` read-only and fault it in; return its address.

    /proc/self/smaps counts dirty memory per mapping, so a one-page window
    onto a page tells whether that page alone is dirty (a page written
    through another mapping is dirty in every mapping that maps it).
    """
    addr = libc.mmap(0, PAGE, libc.PROT_READ, libc.MAP_SHARED, fd, offset)
    libc.read_bytes(addr, 1)
    return addr


def sync_subrange(path: str, layer: str) -> dict[str, Any]:
    """Dirty page 1 and the last page of a mapping of ``path``; sync page 1 alone, then the last.

    The file's cache is dropped first and the two pages lie megabytes apart,
    so they sit in different folios (the kernel tracks dirtiness per folio,
    which may span several pages).  One-page windows onto both pages show
    each page's dirty size after each sync.  Also returns the result of a
    sync at an unaligned address and of one reaching past the end of the
    mapping (``libc``: an unmapped page right behind it, so ENOMEM;
    ``pymmap``: Python's own bounds check).
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    drop_cached_pages(fd)
    mapping = map_fd(fd, size + PAGE if layer == "libc" else size, layer)
    if layer == "libc":
        libc.munmap(mapping.addr + size, PAGE)  # a hole right behind the mapping
        mapping.length = size
    note(base=mapping.addr)
    last = size - PAGE
    mapping.write(PAGE, b"one")
    mapping.write(last, b"last")
    windows = {"page_1": _window(fd, PAGE), "last_page": _window(fd, last)}
    result: dict[str, Any] = {"dirty_kb_before": {k: dirty_kb(a) for k, a in windows.items()}}
    result["sync_page_1"] = _attempt(lambda: mapping.sync(PAGE, PAGE))
    result["dirty_kb_after_page_1"] = {k: dirty_kb(a) for k, a in windows.items()}
    result["sync_last_page"] = _attempt(lambda: mapping.sync(last, PAGE))
    result["dirty_kb_after_last_page"] = {k: dirty_kb(a) for k, a in windows.items()}
    result["unaligned"] = _attempt(lambda: mapping.sync(1, PAGE))
    result["past_end"] = _attempt(lambda: mapping.sync(0, size + PAGE))
    return result


def _attempt(call: Any) -> str:
    """Return ``"ok"`` when ``call()`` returns, else the errno name or ``ValueError: ...``."""
    try:
        call()
    except OSError as exc:
        return libc.errno_name(exc) or "OSError"
    except ValueError as exc:
        return f"ValueError: {exc}"
    return "ok"


def async_versus_sync(path: str, layer: str) -> dict[str, Any]:
    """Dirty every page of ``path``'s mapping, then time ``MS_ASYNC`` and ``MS_SYNC``.

    The mapping is made through ``layer``; both calls are ``msync`` on its
    address (Python's mmap offers only ``flush()``, which is MS_SYNC).
    Returns both durations and the dirty size after each call.
    """
    fd = os.open(path, os.O_RDWR)
    os.fsync(fd)
    size = os.fstat(fd).st_size
    mapping = map_fd(fd, size, layer)
    note(base=mapping.addr)
    filler = bytes([0x5A]) * PAGE
    for offset in range(0, size, PAGE):
        mapping.write(offset, filler)
    dirty = dirty_kb(mapping.addr)
    start = time.perf_counter()
    libc.msync(mapping.addr, size, libc.MS_ASYNC)
    async_seconds = time.perf_counter() - start
    after_async = dirty_kb(mapping.addr)
    start = time.perf_counter()
    libc.msync(mapping.addr, size, libc.MS_SYNC)
    sync_seconds = time.perf_counter() - start
    return {"size": size, "dirty_kb": dirty, "async_seconds": async_seconds,
            "written_by_async_kb": dirty - after_async,
            "dirty_kb_after_async": after_async, "sync_seconds": sync_seconds,
            "dirty_kb_after_sync": dirty_kb(mapping.addr)}


def sync_cleans(path: str, layer: str) -> dict[str, Any]:
    """Dirty a mapping of ``path``, sync it through ``layer``; return dirty sizes and Dirty."""
    fd = os.open(path, os.O_RDWR)
    os.fsync(fd)
    size = os.fstat(fd).st_size
    mapping = map_fd(fd, size, layer)
    note(base=mapping.addr)
    mapping.touch(range(size // PAGE))
    dirty = dirty_kb(mapping.addr)
    start = time.perf_counter()
    mapping.sync()
    seconds = time.perf_counter() - start
    return {"dirty_kb_before": dirty, "dirty_kb_after": dirty_kb(mapping.addr),
            "seconds": seconds, "meminfo_dirty_kb": _meminfo("Dirty")}


def _meminfo(field: str) -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise LookupError(f"/proc/meminfo has no {field}")


def invalidate_between_processes(path: str, token: bytes) -> dict[str, Any]:
    """Show what another process's mapping of ``path`` reads with and without MS_INVALIDATE.

    A forked peer maps the file itself.  Returns what it reads after a store
    here (before any msync), after a ``pwrite`` to the file, after
    ``msync(MS_INVALIDATE)``, and the result of MS_INVALIDATE on a locked
    range (``SetupRefused.as_value()`` where this run may not lock a page).
    """
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, PAGE, "libc")
    note(base=mapping.addr)
    peer = MappingPeer("file", path, PAGE)
    try:
        n = len(token)
        mapping.write(0, token)
        after_store = peer.read(0, n)
        os.pwrite(fd, token[::-1], 2 * n)
        after_pwrite = peer.read(2 * n, n)
        here_after_pwrite = mapping.read(2 * n, n)
        libc.msync(mapping.addr, PAGE, libc.MS_INVALIDATE)
        after_invalidate = peer.read(0, 3 * n)
        try:
            allow_locking(PAGE)
        except SetupRefused as exc:
            locked = exc.as_value()
        else:
            libc.mlock(mapping.addr, PAGE)
            try:
                libc.msync(mapping.addr, PAGE, libc.MS_INVALIDATE)
                locked = "succeeds"
            except OSError as exc:
                locked = libc.errno_name(exc)
    finally:
        peer.stop()
    return {"stored": token.hex(), "written": token[::-1].hex(),
            "peer_after_store": after_store.hex(), "peer_after_pwrite": after_pwrite.hex(),
            "here_after_pwrite": here_after_pwrite.hex(),
            "peer_after_invalidate": after_invalidate.hex(), "invalidate_locked": locked}


def _store_and_exit(path: str, layer: str, token: bytes) -> dict[str, Any]:
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, PAGE, layer)
    mapping.write(0, token)
    return {"dirty_kb_at_exit": dirty_kb(mapping.addr)}  # exits with no msync, no munmap


def survives_writer(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """A proxy for a restart: the writer exits without msync; then the cache is dropped.

    A forked writer stores ``token`` through a MAP_SHARED mapping and exits
    without msync.  Returns its dirty size at exit, what this (other)
    process reads, whether the file's pages left the page cache after
    ``fsync`` + ``posix_fadvise(DONTNEED)``, and what a read from the device
    then returns.
    """
    writer = start_forked(_store_and_exit, path, layer, token).result()
    fd = os.open(path, os.O_RDONLY)
    after_exit = os.pread(fd, len(token), 0)
    resident = drop_cached_pages(fd)
    from_device = os.pread(fd, len(token), 0)
    return {"writer": writer, "stored": token.hex(), "other_process_reads": after_exit.hex(),
            "resident_after_drop": resident, "reread_after_drop": from_device.hex()}
