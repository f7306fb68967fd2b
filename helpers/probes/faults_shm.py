"""Probes of shared-memory objects misnamed, created twice, or used after removal.

POSIX objects get names from the check (``shm_name`` fixture, always
unlinked); System V segments get a key in the suite's range and are marked
for removal as soon as they are attached, their id noted first so the check
can remove them should the probe die in between (and only then).
"""

from __future__ import annotations

import os
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes.faults_calls import OK, attempt, attempt_value

SHM_DIR = "/dev/shm"


def _ours(prefix: str) -> list[str]:
    return sorted(name for name in os.listdir(SHM_DIR) if name.startswith(prefix))


def open_bad_names(bad: dict[str, str], prefix: str) -> dict[str, Any]:
    """Return ``shm_open(O_CREAT)`` and ``shm_unlink`` results per malformed name.

    ``bad`` maps a label (``"inner slash"``) to the name tried.

    ``prefix`` is the unique part every test name carries; the objects in
    /dev/shm starting with it are listed before and after (both must be empty).
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    before = _ours(prefix)
    results = {}
    for label, name in bad.items():
        opened, fd = attempt_value(libc.shm_open, name, flags, 0o600)
        if fd is not None:
            os.close(fd)
        results[label] = {"shm_open": opened, "shm_unlink": attempt(libc.shm_unlink, name)}
    return {"results": results, "before": before, "after": _ours(prefix)}


def create_twice(name: str) -> dict[str, Any]:
    """Create ``name`` exclusively twice, unlink it, then open it without ``O_CREAT``."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    first, fd = attempt_value(libc.shm_open, name, flags, 0o600)
    if fd is not None:
        os.close(fd)
    result: dict[str, Any] = {"first": first, "second": attempt(libc.shm_open, name, flags, 0o600),
              "unlink": attempt(libc.shm_unlink, name),
              "open_after_unlink": attempt(libc.shm_open, name, os.O_RDWR, 0o600)}
    result["exists_at_end"] = os.path.exists(os.path.join(SHM_DIR, name.lstrip("/")))
    return result


def _free_key(keys: list[int], size: int) -> tuple[int, int]:
    """Return ``(key, shmid)`` of a new segment at the first of ``keys`` nobody uses."""
    flags = libc.CONSTANTS["IPC_CREAT"] | libc.CONSTANTS["IPC_EXCL"] | 0o600
    for key in keys:
        result, shmid = attempt_value(libc.shmget, key, size, flags)
        if result == OK:
            return key, shmid
        if result != "EEXIST":
            raise OSError(f"shmget({key:#x}, IPC_CREAT|IPC_EXCL) failed with {result}")
    raise LookupError(f"every key of {[hex(k) for k in keys]} is in use")


def attach_after_rmid(keys: list[int]) -> dict[str, Any]:
    """Attach a segment, remove it (``IPC_RMID``), attach again, detach all, attach once more.

    Returns each step's result: the second attach while the first is still
    in place (Linux allows it), the final attach once the last detach
    destroyed the segment, and ``shmget`` by the old key without ``IPC_CREAT``.
    """
    page = libc.PAGE_SIZE
    key, shmid = _free_key(keys, page)
    note(shmid=shmid, key=key)
    first = libc.shmat(shmid)
    libc.shmctl_rmid(shmid)
    note(removed=True)  # from here on the kernel removes it, even if this child dies
    libc.store(first, 0x53)
    again, second = attempt_value(libc.shmat, shmid)
    shares = second is not None and libc.load(second) == 0x53
    libc.shmdt(first)
    if second is not None:
        libc.shmdt(second)
    return {"key": key, "shmat_after_rmid_while_attached": again,
            "second_attachment_sees_the_segment": shares,
            "shmat_after_last_detach": attempt(libc.shmat, shmid),
            "shmget_old_key": attempt(libc.shmget, key, page, 0o600)}
