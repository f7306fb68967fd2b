"""Probes of resource limits: address space, locked memory, descriptors, map count, huge pages.

Every limit is set inside the probe's child only (through the runner's
``rlimits`` or :func:`helpers.isolate.child.set_rlimit` in the child), never
on the host; a limit this run may not set is a refused setup, never a
result.  The ``vm.max_map_count`` and huge page pools are read, never
changed.
"""

from __future__ import annotations

import mmap as pymmap
import os
import resource
import time
from typing import Any

from helpers import libc
from helpers.isolate.child import set_rlimit
from helpers.probes.faults_calls import OK, attempt, attempt_value
from helpers.probes.faults_privilege import drop_capability, has_capability, holds_over_machine

ANON_PRIVATE = "MAP_PRIVATE|MAP_ANONYMOUS"


def _status_kb(field: str) -> int:
    """Return a ``kB`` figure of /proc/self/status (``VmSize``, ``VmLck``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(f"/proc/self/status has no {field}")


def _anonymous(length: int, extra_flags: int = 0) -> int:
    rw = libc.PROT_READ | libc.PROT_WRITE
    return libc.mmap(0, length, rw, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | extra_flags)


def map_beyond_address_space_limit(headroom: int, too_big: int, fits: int, *,
                                   layer: str = "libc") -> dict[str, Any]:
    """Return how mapping ``too_big`` then ``fits`` bytes fares under a tight ``RLIMIT_AS``.

    The soft limit is set to the child's current virtual size plus
    ``headroom``, so ``too_big`` (more than the headroom) must fail and
    ``fits`` (less) succeed.
    """
    size = _status_kb("VmSize") * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    set_rlimit("RLIMIT_AS", size + headroom, hard)
    if layer == "pymmap":
        return {"limit": size + headroom,
                "too_big": attempt(pymmap.mmap, -1, too_big),
                "fits": attempt(pymmap.mmap, -1, fits)}
    return {"limit": size + headroom,
            "too_big": attempt(_anonymous, too_big), "fits": attempt(_anonymous, fits)}


def _privilege(privileged: bool) -> dict[str, Any]:
    """Drop CAP_IPC_LOCK unless ``privileged``; return the limit and whether CAP_IPC_LOCK lifts it.

    ``CAP_IPC_LOCK`` is True only where it lifts the limit: effective in the
    initial user namespace (root of a user namespace holds the bit in vain).
    """
    if not privileged and has_capability("CAP_IPC_LOCK"):
        drop_capability("CAP_IPC_LOCK")
    return {"RLIMIT_MEMLOCK": resource.getrlimit(resource.RLIMIT_MEMLOCK)[0],
            "CAP_IPC_LOCK": holds_over_machine("CAP_IPC_LOCK")}


def mlock_beyond_limit(length: int, *, privileged: bool) -> dict[str, Any]:
    """Return the result of ``mlock`` on ``length`` bytes under the child's RLIMIT_MEMLOCK.

    Unless ``privileged``, the child first gives up ``CAP_IPC_LOCK`` (which
    lifts the limit), so a root run shows both sides.
    """
    evidence = _privilege(privileged)
    addr = _anonymous(length)
    evidence["mlock"] = attempt(libc.mlock, addr, length)
    evidence["VmLck_kB"] = _status_kb("VmLck")
    return evidence


def map_locked_beyond_limit(too_big: int, fits: int, *, privileged: bool) -> dict[str, Any]:
    """Return how ``MAP_LOCKED`` mappings of ``too_big`` and ``fits`` bytes fare under the limit."""
    evidence = _privilege(privileged)
    locked = libc.constant("MAP_LOCKED")
    before = _status_kb("VmLck")
    evidence["too_big"] = attempt(_anonymous, too_big, locked)
    evidence["fits"] = attempt(_anonymous, fits, locked)
    evidence["VmLck_growth_kB"] = _status_kb("VmLck") - before
    return evidence


def shm_open_without_free_descriptor(name: str) -> dict[str, Any]:
    """Return the result of ``shm_open(O_CREAT)`` once no descriptor is left, and what it made.

    The soft ``RLIMIT_NOFILE`` is lowered to the lowest free descriptor
    number, so every number below the limit is in use.
    """
    lowest_free = os.dup(0)
    os.close(lowest_free)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    set_rlimit("RLIMIT_NOFILE", lowest_free, hard)
    result = attempt(libc.shm_open, name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    created = os.path.exists("/dev/shm/" + name.lstrip("/"))
    if created:  # the check failed, but leave nothing behind
        libc.shm_unlink(name)
    return {"RLIMIT_NOFILE": lowest_free, "shm_open": result, "object_created": created}


def _count_mappings(fd: int, buffer: bytearray) -> int:
    """Return the mappings listed by the maps file ``fd``, using only ``buffer`` (no new memory).

    Lines count, except the ``[vsyscall]`` gate area: x86-64 lists it, but it
    is not a mapping of the process and does not count toward its limit.
    """
    lines, tail = 0, b""
    while count := os.readv(fd, [buffer]):
        lines += buffer.count(b"\n", 0, count)
        tail = (tail + buffer[max(0, count - 64):count])[-64:]
    return lines - (b"[vsyscall]" in tail)


def exhaust_map_count(limit: int, budget_s: float) -> dict[str, Any]:
    """Make mappings until ``mmap`` fails; return the errno, the count, and splits at the end.

    Most mappings come cheaply from one region whose every other page is made
    ``PROT_NONE`` (each ``mprotect`` splits off two more); single pages of
    alternating protection, which cannot merge either, then go up to the
    limit.  A 3-page mapping made first is then split by ``mprotect`` and by
    ``munmap`` of its middle page, each needing one mapping more than the
    limit allows.  ``RLIMIT_AS`` is set just above what ``limit`` pages need,
    as a bound should the count never be reached; at the limit nothing that
    could need a new mapping runs (the maps file is counted through a buffer
    allocated beforehand).  Gives up (``"gave_up"``) after ``budget_s`` seconds.
    """
    page = libc.PAGE_SIZE
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    set_rlimit("RLIMIT_AS", _status_kb("VmSize") * 1024 + (limit + 4096) * page, hard)
    three = _anonymous(3 * page)
    maps = os.open("/proc/self/maps", os.O_RDONLY)
    buffer = bytearray(1 << 16)
    prots = (libc.PROT_READ, libc.PROT_NONE)
    flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
    deadline = time.monotonic() + budget_s
    pairs = max(0, (limit - _count_mappings(maps, buffer)) // 2 - 64)
    region = libc.mmap(0, 2 * pairs * page, libc.PROT_READ, flags)
    for pair in range(pairs):
        libc.mprotect(region + (2 * pair + 1) * page, page, libc.PROT_NONE)
        if pair % 4096 == 0 and time.monotonic() > deadline:
            return {"gave_up": True, "made": 2 * pair}
    made, failure = 2 * pairs, ""
    while not failure:
        try:
            libc.mmap(0, page, prots[made % 2], flags)
        except OSError as exc:
            failure = libc.errno_name(exc) or "?"
            break
        made += 1
        if made % 4096 == 0 and time.monotonic() > deadline:
            return {"gave_up": True, "made": made}
    split_mprotect = attempt(libc.mprotect, three + page, page, libc.PROT_NONE)
    split_munmap = attempt(libc.munmap, three + page, page)
    middle_still_mapped = _mapped(three + page)
    os.lseek(maps, 0, os.SEEK_SET)
    count = _count_mappings(maps, buffer)
    return {"limit": limit, "mmap": failure, "made": made, "map_count": count,
            "mprotect_split": split_mprotect, "munmap_split": split_munmap,
            "middle_still_mapped": middle_still_mapped}


def _mapped(addr: int) -> bool:
    return attempt(libc.mincore, addr, libc.PAGE_SIZE) == OK


def _meminfo() -> dict[str, int]:
    values = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            key, _, rest = line.partition(":")
            if key.startswith("HugePages_") or key == "Hugepagesize":
                values[key] = int(rest.split()[0])
    return values


def map_huge_pages_beyond_pool(max_overcommit_bytes: int) -> dict[str, Any]:
    """Return the result of a ``MAP_HUGETLB`` mapping one huge page larger than can be had.

    With no free and no overcommit huge pages that is a single page.  When
    overcommit is allowed, the kernel allocates surplus pages to try: the
    probe refuses (``"too_costly"``) if that could take more than
    ``max_overcommit_bytes`` of memory.
    """
    info = _meminfo()
    if "HugePages_Free" not in info:
        raise libc.Unsupported("MAP_HUGETLB", "the kernel has no hugetlb pool")
    with open("/proc/sys/vm/nr_overcommit_hugepages") as handle:
        overcommit = int(handle.read())
    huge = info["Hugepagesize"] * 1024
    evidence: dict[str, Any] = {"HugePages_Free": info["HugePages_Free"],
                                "nr_overcommit_hugepages": overcommit, "huge_page_size": huge}
    if overcommit * huge > max_overcommit_bytes:
        return {**evidence, "too_costly": True}
    pages = info["HugePages_Free"] + overcommit + 1
    result, addr = attempt_value(_anonymous, pages * huge, libc.constant("MAP_HUGETLB"))
    if addr is not None:
        libc.munmap(addr, pages * huge)
    return {**evidence, "huge_pages_asked": pages, "mmap": result}
