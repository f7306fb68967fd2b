"""Probes about where a mapping's pages are: frames, residency, copies and counters.

The kernel tells: ``/proc/[pid]/pagemap`` gives each virtual page's present
bit and, to a privileged reader, its physical frame number (PFN);
``/proc/[pid]/smaps`` gives per-mapping resident and dirty sizes;
``/proc/self/io`` counts read/write system calls and the bytes they copied;
``getrusage`` counts page faults.  A :class:`Mapping` is a shared or private
mapping made through either layer (``libc`` ctypes or Python's ``pymmap``),
so each probe can run in both.
"""

from __future__ import annotations

import ctypes
import mmap as pymmap
import os
import resource
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import release

PAGE = libc.PAGE_SIZE
_PRESENT = 1 << 63
_PFN_MASK = (1 << 55) - 1
RW = libc.PROT_READ | libc.PROT_WRITE


# --- mappings in either layer ----------------------------------------------------------------

@dataclass
class Mapping:
    """A mapping made through one layer; reads and writes go through that layer.

    For ``pymmap`` the accesses are slices of the ``mmap.mmap`` object (with
    its bounds checks); ``addr`` is still known so that pagemap and smaps can
    be read for it.
    """

    addr: int
    length: int
    layer: str
    handle: pymmap.mmap | None = None

    def read(self, offset: int, n: int) -> bytes:
        """Return ``n`` bytes at ``offset``."""
        if self.handle is not None:
            return self.handle[offset:offset + n]
        return libc.read_bytes(self.addr + offset, n)

    def write(self, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset``."""
        if self.handle is not None:
            self.handle[offset:offset + len(data)] = data
        else:
            libc.write_bytes(self.addr + offset, data)

    def sync(self, offset: int = 0, length: int | None = None) -> None:
        """Write the range back and wait: ``msync(MS_SYNC)`` or ``mmap.flush``."""
        length = self.length - offset if length is None else length
        if self.handle is not None:
            self.handle.flush(offset, length)
        else:
            libc.msync(self.addr + offset, length, libc.MS_SYNC)

    def touch(self, pages: Iterable[int], *, write: bool = True) -> None:
        """Access the first byte of each page in ``pages`` (a store unless ``write`` is False)."""
        for page in pages:
            if write:
                self.write(page * PAGE, b"\x01")
            else:
                self.read(page * PAGE, 1)

    def close(self) -> None:
        """Unmap."""
        if self.handle is not None:
            self.handle.close()
        else:
            libc.munmap(self.addr, self.length)


def _address_of(mapped: pymmap.mmap) -> int:
    view = ctypes.c_char.from_buffer(mapped)
    try:
        return ctypes.addressof(view)
    finally:
        del view  # releases the export, so the mmap object can still be closed


def map_fd(fd: int, length: int, layer: str, *, shared: bool = True) -> Mapping:
    """Return a read-write mapping of ``fd`` (offset 0) made through ``layer``."""
    if layer == "pymmap":
        flags = pymmap.MAP_SHARED if shared else pymmap.MAP_PRIVATE
        mapped = pymmap.mmap(fd, length, flags=flags)
        return Mapping(_address_of(mapped), length, layer, mapped)
    flags = libc.MAP_SHARED if shared else libc.MAP_PRIVATE
    return Mapping(libc.mmap(0, length, RW, flags, fd, 0), length, layer)


def map_anonymous(length: int, layer: str, *, shared: bool = False) -> Mapping:
    """Return a read-write anonymous mapping made through ``layer``."""
    if layer == "pymmap":
        flags = pymmap.MAP_SHARED if shared else pymmap.MAP_PRIVATE
        mapped = pymmap.mmap(-1, length, flags=flags | pymmap.MAP_ANONYMOUS)
        return Mapping(_address_of(mapped), length, layer, mapped)
    flags = (libc.MAP_SHARED if shared else libc.MAP_PRIVATE) | libc.MAP_ANONYMOUS
    return Mapping(libc.mmap(0, length, RW, flags), length, layer)


# --- what the kernel tells about pages --------------------------------------------------------

def page_entries(addr: int, npages: int, pid: int | str = "self") -> list[int]:
    """Return the raw 64-bit pagemap entries of ``npages`` pages from ``addr``."""
    with open(f"/proc/{pid}/pagemap", "rb") as handle:
        raw = os.pread(handle.fileno(), 8 * npages, (addr // PAGE) * 8)
    return list(struct.unpack(f"={npages}Q", raw))


def present(addr: int, npages: int, pid: int | str = "self") -> list[bool]:
    """Return, per page, whether the page tables map it (pagemap bit 63; no privilege needed)."""
    return [bool(entry & _PRESENT) for entry in page_entries(addr, npages, pid)]


def frames(addr: int, npages: int, pid: int | str = "self") -> list[int | None]:
    """Return each page's physical frame number, None where not present.

    Without CAP_SYS_ADMIN the kernel reports frame 0 for every present page,
    so callers that compare frames need root (the ``proc_pagemap`` need).
    """
    return [entry & _PFN_MASK if entry & _PRESENT else None
            for entry in page_entries(addr, npages, pid)]


def same_frames(left: list[int | None], right: list[int | None]) -> bool | None:
    """Return whether two lists of frame numbers are equal; None when they cannot tell.

    Frame 0 is what pagemap reports for a present page to a reader without
    CAP_SYS_ADMIN, and None marks an absent page: neither can be compared.
    """
    if any(frame in (None, 0) for frame in (*left, *right)):
        return None
    return left == right


def vma_of(addr: int, pid: int | str = "self") -> dict[str, Any]:
    """Return the ``/proc/[pid]/smaps`` record of the mapping containing ``addr``.

    Sizes are in kB as the kernel prints them (``Rss``, ``Shared_Dirty``, ...);
    ``name`` is the path or pseudo-name of the maps line, ``perms`` its
    permissions.
    """
    found: dict[str, Any] | None = None
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            fields = line.split()
            head = fields[0]
            if not head.endswith(":") and "-" in head:
                if found is not None:
                    break
                low, high = (int(part, 16) for part in head.split("-"))
                if low <= addr < high:
                    found = {"start": low, "end": high, "perms": fields[1],
                             "name": " ".join(fields[5:])}
            elif found is not None and len(fields) >= 2 and fields[1].isdigit():
                found[head[:-1]] = int(fields[1])
    if found is None:
        raise LookupError(f"no mapping of pid {pid} contains {addr:#x}")
    return found


def dirty_kb(addr: int) -> int:
    """Return the dirty size in kB (shared plus private) of the mapping containing ``addr``."""
    vma = vma_of(addr)
    return int(vma.get("Shared_Dirty", 0) + vma.get("Private_Dirty", 0))


class IoCounters:
    """``/proc/self/io`` read through one descriptor, so each snapshot costs one ``pread``.

    Looking is not free: each snapshot is one read call of the text's
    length, which :func:`io_delta` takes off again so that a delta counts
    only what happened between two snapshots.
    """

    def __init__(self) -> None:
        self._fd = os.open("/proc/self/io", os.O_RDONLY)

    def snapshot(self) -> dict[str, int]:
        """Return the counters now, plus the page-fault counts of ``getrusage``."""
        text = os.pread(self._fd, 4096, 0)
        counters = {key: int(value) for key, value in
                    (line.split(": ") for line in text.decode().splitlines() if ": " in line)}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        counters["minflt"], counters["majflt"] = usage.ru_minflt, usage.ru_majflt
        counters["looked"] = len(text)
        return counters

    def close(self) -> None:
        """Close the descriptor."""
        release(self._fd)


def io_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Return how the counters moved between two snapshots, less the first snapshot's own read."""
    delta = {key: after[key] - before[key]
             for key in ("syscr", "syscw", "rchar", "wchar", "minflt", "majflt")}
    delta["syscr"] -= 1
    delta["rchar"] -= before["looked"]
    return delta


def drop_cached_pages(fd: int) -> list[bool]:
    """Write ``fd``'s file back, ask the kernel to drop its cached pages; return residency.

    ``posix_fadvise(POSIX_FADV_DONTNEED)`` after ``fsync`` evicts the clean,
    unmapped pages of that one file (the whole page cache is never touched:
    other processes share this machine).  Returns ``mincore`` per page so the
    caller can show whether the eviction happened.
    """
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    size = os.fstat(fd).st_size
    addr = libc.mmap(0, size, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    try:
        return [bool(byte & 1) for byte in libc.mincore(addr, size)]
    finally:
        libc.munmap(addr, size)


# --- probes ------------------------------------------------------------------------------------

def peer_frames(path: str, npages: int) -> dict[str, Any]:
    """Map ``path`` shared, read every page, return the address and the frame of each page.

    Runs in an unrelated process (a fresh interpreter) for
    :func:`frames_shared_with_unrelated`.
    """
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, npages * PAGE, "libc")
    mapping.touch(range(npages), write=False)
    return {"addr": mapping.addr, "frames": frames(mapping.addr, npages)}


def frames_shared_with_unrelated(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Map ``path`` shared here, store, map it in an unrelated process; return both sides' frames.

    Also returns what a third descriptor reads after a store through the
    mapping (page cache: the store is visible at once) and how
    ``/proc/self/io`` moved while every page of the mapping was read.
    """
    from helpers.probes.ipc import run_unrelated  # ipc builds on this module

    npages = os.path.getsize(path) // PAGE
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, npages * PAGE, layer)
    note(base=mapping.addr)
    counters = IoCounters()
    before = counters.snapshot()
    mapping.touch(range(npages), write=False)
    after = counters.snapshot()
    mapping.write(0, token)  # frames after a store: a private copy would show here
    here = frames(mapping.addr, npages)
    other = run_unrelated(peer_frames, path, npages)
    third = os.open(path, os.O_RDONLY)
    seen = os.pread(third, len(token), 0)
    release(third)
    io = io_delta(before, after)
    return {"addr": mapping.addr, "frames": here, "other_addr": other["addr"],
            "other_frames": other["frames"], "third_descriptor_reads": seen.hex(),
            "io_while_reading": io, "same_frames": same_frames(here, other["frames"]),
            "read_sees_store": seen == token, "bytes_copied_while_reading": io["rchar"]}


def _touch_and_report(addr: int, npages: int, token: bytes) -> dict[str, Any]:
    for page in range(npages):
        libc.write_bytes(addr + page * PAGE, token)
    return {"frames": frames(addr, npages)}


def frames_across_fork(layer: str, npages: int, token: bytes) -> dict[str, Any]:
    """Share ``npages`` of MAP_SHARED|MAP_ANONYMOUS memory with a forked child; compare frames.

    The child stores ``token`` at the start of every page and reports its
    frames; returns both sides' frames and what this process reads.
    """
    from helpers.probes.ipc import start_forked  # ipc builds on this module

    mapping = map_anonymous(npages * PAGE, layer, shared=True)
    note(base=mapping.addr)
    mapping.touch(range(npages))
    child = start_forked(_touch_and_report, mapping.addr, npages, token).result()
    here = frames(mapping.addr, npages)
    reads = [mapping.read(page * PAGE, len(token)).hex() for page in range(npages)]
    return {"frames": here, "child_frames": child["frames"], "reads": reads,
            "same_frames": same_frames(here, child["frames"]),
            "child_stores_seen": reads == [token.hex()] * npages}


def presence_on_access(layer: str, npages: int = 64) -> dict[str, Any]:
    """Map ``npages`` private anonymous pages, store into every other page; return presence.

    Returns the present bits and the mapping's ``Rss`` before and after the
    stores, and, after a fork, the frame of page 0 in the parent and in a
    child that stored into it (copy-on-write: same virtual address, another
    frame).
    """
    from helpers.probes.ipc import start_forked  # ipc builds on this module

    mapping = map_anonymous(npages * PAGE, layer)
    note(base=mapping.addr)
    before = {"present": present(mapping.addr, npages), "rss_kb": vma_of(mapping.addr)["Rss"]}
    touched = list(range(0, npages, 2))
    mapping.touch(touched)
    after = {"present": present(mapping.addr, npages), "rss_kb": vma_of(mapping.addr)["Rss"]}
    child = start_forked(_store_and_report_frame, mapping.addr)
    child_frame = child.result()
    parent_frame = frames(mapping.addr, 1)[0]
    return {"addr": mapping.addr, "touched": touched, "before": before, "after": after,
            "parent_frame": parent_frame, "child_frame": child_frame,
            "present_before_touch": any(before["present"]),
            "present_exactly_where_touched":
                [i for i, p in enumerate(after["present"]) if p] == touched,
            "child_same_frame": same_frames([parent_frame], [child_frame])}


def _store_and_report_frame(addr: int) -> int | None:
    libc.store(addr, 0x2A)
    return frames(addr, 1)[0]


def rss_of_large_mapping(path: str, layer: str, length: int, touched: int) -> dict[str, Any]:
    """Grow ``path`` sparsely to ``length``, map it whole, store into ``touched`` pages.

    Returns the mapping's ``Rss`` before and after (kB) and the file's
    allocated size; the pages are spread evenly over the mapping.
    """
    fd = os.open(path, os.O_RDWR)
    os.ftruncate(fd, length)
    mapping = map_fd(fd, length, layer)
    note(base=mapping.addr)
    rss_before = vma_of(mapping.addr)["Rss"]
    step = length // PAGE // touched
    mapping.touch(range(0, touched * step, step))
    rss_after = vma_of(mapping.addr)["Rss"]
    return {"mapped_kb": length // 1024, "rss_before_kb": rss_before, "rss_after_kb": rss_after,
            "touched_kb": touched * PAGE // 1024,
            "file_allocated_kb": os.fstat(fd).st_blocks // 2,
            "memory_only_for_touched": rss_after <= touched * PAGE // 1024}


def syscalls_of_mapped_access(path: str, layer: str) -> dict[str, Any]:
    """Read and write every page of ``path`` through a mapping, then with pread/pwrite.

    Returns the movement of ``/proc/self/io`` and fault counters for: two
    snapshots in a row (the cost of looking), the mapped accesses, and the
    same accesses through ``pread``/``pwrite``.
    """
    npages = os.path.getsize(path) // PAGE
    fd = os.open(path, os.O_RDWR)
    mapping = map_fd(fd, npages * PAGE, layer)
    note(base=mapping.addr)
    counters = IoCounters()
    first = counters.snapshot()
    second = counters.snapshot()
    for page in range(npages):
        data = mapping.read(page * PAGE, 8)
        mapping.write(page * PAGE + 8, data)
    third = counters.snapshot()
    for page in range(npages):
        data = os.pread(fd, 8, page * PAGE)
        os.pwrite(fd, data, page * PAGE + 8)
    fourth = counters.snapshot()
    counters.close()
    mapped = io_delta(second, third)
    return {"pages": npages, "looking": io_delta(first, second), "mapped": mapped,
            "syscalls": io_delta(third, fourth),
            "read_write_calls_while_mapped": sum(mapped[k] for k in ("syscr", "syscw")),
            "bytes_counted_while_mapped": sum(mapped[k] for k in ("rchar", "wchar"))}


def read_copy_frames(path: str) -> dict[str, Any]:
    """Evict ``path``'s cache, ``pread`` page 0 into a page-aligned buffer; compare frames.

    Returns page 0's residency in the page cache before and after the read
    (``mincore``), the buffer's frame and the frame a mapping of the file
    shows for page 0 (the page-cache frame), and how ``rchar`` moved.
    """
    fd = os.open(path, os.O_RDONLY)
    resident_before = drop_cached_pages(fd)[0]
    buffer = map_anonymous(PAGE, "libc")
    view = (ctypes.c_char * PAGE).from_address(buffer.addr)
    counters = IoCounters()
    start = counters.snapshot()
    copied = os.preadv(fd, [view], 0)
    end = counters.snapshot()
    mapping = libc.mmap(0, PAGE, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    resident_after = bool(libc.mincore(mapping, PAGE)[0] & 1)
    libc.load(mapping)
    buffer_frame, cache_frame = frames(buffer.addr, 1)[0], frames(mapping, 1)[0]
    same = same_frames([buffer_frame], [cache_frame])
    return {"copied": copied, "resident_before": resident_before,
            "resident_after_read": resident_after,
            "buffer_frame": buffer_frame, "cache_frame": cache_frame,
            "same_bytes": libc.read_bytes(mapping, PAGE) == bytes(view),
            "io": io_delta(start, end),
            "two_copies": None if same is None else resident_after and not same}


def shared_library_mappings() -> dict[str, Any]:
    """Return the ``/proc/self/maps`` lines of the C library this process loaded."""
    lines = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and _is_libc(os.path.basename(fields[5])):
                lines.append({"range": fields[0], "perms": fields[1], "path": fields[5]})
    return {"mappings": lines, "mapped_from_file": bool(lines)}


def _is_libc(name: str) -> bool:
    return name.startswith("libc.so") or (name.startswith("libc-") and name.endswith(".so"))
