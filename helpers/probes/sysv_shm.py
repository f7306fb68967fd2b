"""Probes about System V shared memory: shared frames, size limits, kernel persistence.

Keys come from the suite's range (:func:`helpers.names.sysv_key_base` plus a
slot of :data:`KEY_SLOTS`, one per check so that checks running at the same
time never meet).  Every probe removes its segment (``IPC_RMID``) before it
returns, also on error; :func:`remove_key` is what the checks' finalisers
call in case a probe died before that.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from helpers import libc, names
from helpers.isolate import note
from helpers.probes.ipc import run_unrelated, start_forked
from helpers.probes.pages import PAGE, frames, vma_of

#: Offsets into the suite's key range, one per check (and per message queue).
KEY_SLOTS = {"frames": 0x10, "capacity": 0x11, "persistence": 0x12, "kinds": 0x13,
             "timing": 0x14, "message-queue": 0x15}
CREATE_NEW = libc.CONSTANTS["IPC_CREAT"] | libc.CONSTANTS["IPC_EXCL"] | 0o600


def key_for(slot: str) -> int:
    """Return this run's System V key for ``slot`` (a name in :data:`KEY_SLOTS`)."""
    return names.sysv_key_base() + KEY_SLOTS[slot]


def remove_key(key: int) -> bool:
    """Remove the segment with ``key`` if there is one; return whether there was."""
    try:
        segment = libc.shmget(key, 0, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        libc.shmctl_rmid(segment)
    return True


def _segment_listed(key: int) -> dict[str, Any] | None:
    """Return the ``/proc/sysvipc/shm`` row of ``key`` (size, creator pid, attachments)."""
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()
    for line in lines[1:]:
        fields = line.split()
        if int(fields[0]) == key:
            return {"shmid": int(fields[1]), "size": int(fields[3]), "cpid": int(fields[4]),
                    "nattch": int(fields[6])}
    return None


def _attach_and_report(key: int, npages: int) -> dict[str, Any]:
    addr = libc.shmat(libc.shmget(key, 0, 0))
    for page in range(npages):
        libc.load(addr + page * PAGE)
    return {"addr": addr, "frames": frames(addr, npages),
            "reads": libc.read_bytes(addr, 8).hex()}


def attached_frames(key: int, npages: int, token: bytes) -> dict[str, Any]:
    """Attach a new segment here, store ``token``; a forked child attaches it again and reads.

    Returns both attachments' addresses and frames, what the child read, and
    the segment's shared dirty size as smaps reports it here.
    """
    segment = libc.shmget(key, npages * PAGE, CREATE_NEW)
    try:
        addr = libc.shmat(segment)
        note(base=addr)
        for page in range(npages):
            libc.write_bytes(addr + page * PAGE, token)
        other = start_forked(_attach_and_report, key, npages).result()
        vma = vma_of(addr)
        here = frames(addr, npages)
        known = None not in here and 0 not in here  # frame 0: hidden without CAP_SYS_ADMIN
        return {"addr": addr, "frames": here, "other": other,
                "maps_name": vma["name"], "shared_dirty_kb": vma.get("Shared_Dirty", 0),
                "same_frames": other["frames"] == here if known else None}
    finally:
        libc.shmctl_rmid(segment)


def segment_limits() -> dict[str, int]:
    """Return this IPC namespace's ``shmmax`` (bytes), ``shmall`` (pages) and ``shmmni``."""
    return {name: int(Path(f"/proc/sys/kernel/{name}").read_text())
            for name in ("shmmax", "shmall", "shmmni")}


def require_segment_size(size: int) -> None:
    """Raise :class:`helpers.libc.Unsupported` when the limits refuse a ``size``-byte segment.

    shmget(2) refuses a segment larger than ``kernel.shmmax`` (EINVAL) or
    one that would take more than ``kernel.shmall`` pages (ENOSPC).  For a
    probe that needs a segment of that size to measure something else, that
    is a setting of this machine (a container's private IPC namespace often
    has small ones), named here, never the outcome of the call under test.
    """
    limits = segment_limits()
    pages = -(-size // PAGE)
    if size > limits["shmmax"]:
        raise libc.Unsupported(f"a System V segment of {size} bytes",
                               f"kernel.shmmax is {limits['shmmax']} (shmget would fail EINVAL)")
    if pages > limits["shmall"]:
        raise libc.Unsupported(f"a System V segment of {pages} pages",
                               f"kernel.shmall is {limits['shmall']} pages (shmget would fail "
                               "ENOSPC)")


def large_segment(key: int, size: int) -> dict[str, Any]:
    """Create (never touch) a segment of ``size`` bytes; return the limits and the result."""
    limits = segment_limits()
    try:
        segment = libc.shmget(key, size, CREATE_NEW)
    except OSError as exc:
        return {"limits": limits, "result": libc.errno_name(exc)}
    try:
        listed = _segment_listed(key)
    finally:
        libc.shmctl_rmid(segment)
    return {"limits": limits, "result": "created", "listed_size": listed and listed["size"]}


def _create_write_exit(key: int, token: bytes) -> int:
    segment = libc.shmget(key, PAGE, CREATE_NEW)
    addr = libc.shmat(segment)
    libc.write_bytes(addr, token)
    libc.shmdt(addr)
    return os.getpid()


def read_segment(key: int, n: int) -> str:
    """Attach segment ``key`` read-only and return its first ``n`` bytes, hex (unrelated side)."""
    addr = libc.shmat(libc.shmget(key, 0, 0), 0, libc.CONSTANTS["SHM_RDONLY"])
    return libc.read_bytes(addr, n).hex()


def _mounted_devices() -> set[str]:
    devices = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        devices.add(line.split()[2])  # major:minor of the mounted filesystem
    return devices


def outlives_creator(key: int, token: bytes) -> dict[str, Any]:
    """A forked creator writes ``token`` into a new segment and exits; who can still see it?

    Returns whether /proc/sysvipc/shm still lists the segment, what an
    unrelated process reads from it, the name /proc/self/maps gives an
    attachment here, and whether its device is that of any mounted
    filesystem (a file on disk would be).
    """
    try:
        creator = start_forked(_create_write_exit, key, token).result()
        listed = _segment_listed(key)
        unrelated = run_unrelated(read_segment, key, len(token))
        addr = libc.shmat(libc.shmget(key, 0, 0), 0, libc.CONSTANTS["SHM_RDONLY"])
        with open("/proc/self/maps") as maps:
            line = next(row for row in maps if int(row.split("-")[0], 16) == addr)
        device = line.split()[3]
        major, minor = (int(part, 16) for part in device.split(":"))
        return {"creator_pid": creator, "listed_after_creator_exit": listed,
                "unrelated_reads": unrelated, "maps_name": " ".join(line.split()[5:]),
                "device": f"{major}:{minor}",
                "device_is_mounted_filesystem": f"{major}:{minor}" in _mounted_devices(),
                "unrelated_reads_token": unrelated == token.hex()}
    finally:
        remove_key(key)
