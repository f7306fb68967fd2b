"""Probes of the POSIX assertions on ``shm_open`` and ``shm_unlink``.

Each verb creates the objects it needs under the name it is given (a fresh
name the check unlinks at teardown whatever happens) and reports what it
saw: bytes shared, descriptor numbers, modes, owners, errno names.  Verbs
that need a caller without privilege drop to ``nobody`` in their own
isolated child, so the check runs the same as root and as a user.
"""

from __future__ import annotations

import fcntl
import os
import stat
from typing import Any

from helpers import libc, namespaces
from helpers.probes.faults_calls import attempt
from helpers.probes.faults_privilege import become_user, drop_capability, has_capability

CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL


def same_object(name: str) -> dict[str, Any]:
    """Create ``name``, write to it, open it again; return whether the new descriptor sees it."""
    fd = libc.shm_open(name, CREATE, 0o600)
    os.write(fd, b"shared")
    second = libc.shm_open(name, os.O_RDWR)
    return {"same": os.pread(second, 6, 0) == b"shared"}


def new_description(name: str) -> dict[str, Any]:
    """Open one object twice; return whether moving one offset leaves the other alone."""
    first = libc.shm_open(name, CREATE, 0o600)
    second = libc.shm_open(name, os.O_RDWR)
    os.write(first, b"12345678")
    return {"own_description": os.lseek(second, 0, os.SEEK_CUR) == 0,
            "offset": os.lseek(first, 0, os.SEEK_CUR)}


def lowest_descriptor(name: str) -> dict[str, Any]:
    """Free a low descriptor number and return whether shm_open returns exactly it."""
    keep = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    lowest = keep[1]
    os.close(lowest)
    return {"lowest": libc.shm_open(name, CREATE, 0o600) == lowest}


def close_on_exec(name: str) -> dict[str, Any]:
    """Return whether FD_CLOEXEC is set on a new shm descriptor."""
    fd = libc.shm_open(name, CREATE, 0o600)
    return {"cloexec": bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)}


def access_mode(name: str, mode: str, operation: str) -> dict[str, Any]:
    """Open an existing object with ``mode`` and return the result of reading or writing it."""
    libc.ftruncate(libc.shm_open(name, CREATE, 0o600), 8)
    fd = libc.shm_open(name, getattr(os, mode))
    if operation == "write":
        return {"result": attempt(os.pwrite, fd, b"w", 0)}
    return {"result": attempt(os.pread, fd, 1, 0)}


def created(name: str, mode: int, umask: int) -> dict[str, Any]:
    """Create ``name`` with ``mode`` under ``umask``; return size, owner, group and permissions."""
    os.umask(umask)
    fd = libc.shm_open(name, CREATE, mode)
    info = os.fstat(fd)
    return {"size": info.st_size, "uid": info.st_uid == os.geteuid(),
            "gid": info.st_gid == os.getegid(), "mode": oct(stat.S_IMODE(info.st_mode)),
            "writable": attempt(os.pwrite, fd, b"w", 0)}


def exclusive_race(name: str, racers: int) -> dict[str, Any]:
    """Fork ``racers`` processes that create ``name`` with O_CREAT|O_EXCL; count the creators."""
    read_end, write_end = os.pipe()
    children = []
    for _ in range(racers):
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.write(write_end, b"1" if attempt(libc.shm_open, name, CREATE, 0o600) == "ok"
                     else b"0")
            os._exit(0)
        children.append(pid)
    os.close(write_end)
    for pid in children:
        os.waitpid(pid, 0)
    answers = os.read(read_end, racers + 1)
    return {"creators": answers.count(b"1"), "answers": len(answers)}


def truncate_existing(name: str) -> dict[str, Any]:
    """Open an 8-byte object O_RDWR|O_TRUNC; return its size, and whether mode and owner held."""
    fd = libc.shm_open(name, CREATE, 0o640)
    libc.ftruncate(fd, 8)
    before = os.fstat(fd)
    after = os.fstat(libc.shm_open(name, os.O_RDWR | os.O_TRUNC))
    return {"size": after.st_size, "kept": (after.st_mode, after.st_uid) ==
            (before.st_mode, before.st_uid)}


def persists(name: str) -> dict[str, Any]:
    """Write to a new object, close it, open it again; return whether the bytes stayed."""
    fd = libc.shm_open(name, CREATE, 0o600)
    os.write(fd, b"kept")
    os.close(fd)
    return {"persists": os.pread(libc.shm_open(name, os.O_RDONLY), 4, 0) == b"kept"}


def open_result(name: str, oflag: str, create_first: bool = False) -> dict[str, Any]:
    """Return the result of shm_open(``name``, ``oflag``) (``"O_RDWR|O_CREAT"``)."""
    if create_first:
        libc.shm_open(name, CREATE, 0o600)
    flags = 0
    for part in oflag.split("|"):
        flags |= getattr(os, part)
    return {"shm_open": attempt(libc.shm_open, name, flags, 0o600)}


def long_name(name: str, length: int, call: str) -> dict[str, Any]:
    """Return the result of shm_open (O_CREAT) or shm_unlink of ``name`` padded to ``length``.

    ``length`` counts the characters after the leading slash (NAME_MAX is 255 on Linux).
    """
    padded = (name + "x" * length)[:length + 1]
    if call == "shm_unlink":
        return {"result": attempt(libc.shm_unlink, padded)}
    return {"result": attempt(libc.shm_open, padded, CREATE, 0o600)}


def denied(name: str, mode: int, oflag: str) -> dict[str, Any]:
    """Create ``name`` with ``mode`` as its owner, then open it as another user with ``oflag``."""
    os.close(libc.shm_open(name, CREATE, mode))
    os.fchmod(libc.shm_open(name, os.O_RDWR), mode)
    become_user()
    flags = 0
    for part in oflag.split("|"):
        flags |= getattr(os, part)
    return {"shm_open": attempt(libc.shm_open, name, flags, 0o600)}


def unlink_denied(name: str) -> dict[str, Any]:
    """As another user, unlink root's object; return the errno and whether the object is intact.

    /dev/shm is sticky, so only the owner may remove a name there.
    """
    fd = libc.shm_open(name, CREATE, 0o644)
    os.fchmod(fd, 0o644)
    os.write(fd, b"intact")
    become_user()
    result = attempt(libc.shm_unlink, name)
    again = libc.shm_open(name, os.O_RDONLY)
    return {"shm_unlink": result, "intact": os.pread(again, 6, 0) == b"intact"}


def unlink_while_open(name: str) -> dict[str, Any]:
    """Unlink an object that is open and mapped; return whether the name is gone at once."""
    fd = libc.shm_open(name, CREATE, 0o600)
    libc.ftruncate(fd, libc.PAGE_SIZE)
    libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    unlinked = attempt(libc.shm_unlink, name)
    return {"shm_unlink": unlinked, "reopen": attempt(libc.shm_open, name, os.O_RDWR)}


def recreate_after_unlink(name: str) -> dict[str, Any]:
    """Keep an object open, unlink it, create the name again; return whether it is a new object."""
    old = libc.shm_open(name, CREATE, 0o600)
    os.write(old, b"old")
    libc.shm_unlink(name)
    new = libc.shm_open(name, CREATE, 0o600)
    return {"new_object": os.fstat(new).st_size == 0 and os.pread(old, 3, 0) == b"old"}


def unlink_twice(name: str) -> dict[str, Any]:
    """Create ``name`` and unlink it twice; return both results."""
    os.close(libc.shm_open(name, CREATE, 0o600))
    return {"first": attempt(libc.shm_unlink, name), "second": attempt(libc.shm_unlink, name)}


def create_in_private_dev_shm(name: str, options: str) -> dict[str, Any]:
    """Mount a tmpfs with ``options`` over /dev/shm in a private mount namespace, then create.

    The mount exists only in this child's namespace and vanishes with it,
    so the host's /dev/shm is never touched.  CAP_DAC_OVERRIDE is given up
    first, so that the directory's mode binds even a root caller.
    """
    namespaces.enter_private_mount_namespace()
    libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", namespaces.MS_NOSUID | namespaces.MS_NODEV,
               options.encode())
    if has_capability("CAP_DAC_OVERRIDE"):
        drop_capability("CAP_DAC_OVERRIDE")
    return {"shm_open": attempt(libc.shm_open, name, CREATE, 0o600)}
