"""Probes that map descriptors which cannot be mapped: closed, pipe, socket, directory, write-only.

Every probe tries both layers on demand: the C ``mmap`` through
:mod:`helpers.libc`, or Python's ``mmap.mmap``, which checks a regular
file's size first but otherwise passes the descriptor to the same call.
"""

from __future__ import annotations

import fcntl
import mmap as pymmap
import os
import socket
from typing import Any

from helpers import libc
from helpers.platform import filesystem_type
from helpers.probes.faults_calls import attempt
from helpers.probes.mapping import bits


def _map(fd: int, prot: str, flags: str, layer: str, access: str = "ACCESS_READ") -> str:
    """Return ``"ok"`` or the errno name of mapping one page of ``fd``.

    ``prot`` and ``flags`` are for libc; Python's layer has only ``access``
    (``ACCESS_READ`` and ``ACCESS_WRITE`` map shared, ``ACCESS_COPY`` private).
    """
    page = libc.PAGE_SIZE
    if layer == "pymmap":
        return attempt(pymmap.mmap, fd, page, access=getattr(pymmap, access))
    return attempt(libc.mmap, 0, page, bits(prot), bits(flags), fd, 0)


def map_closed_descriptor(path: str, *, layer: str = "libc") -> dict[str, Any]:
    """Open and close ``path``, then map its former descriptor number, -1 and one out of range.

    ``fcntl(F_GETFD)`` confirms the number is free before the attempt (no
    one reused it).  Python's ``mmap`` treats -1 as "anonymous", so it is
    tried only through libc.
    """
    fd = os.open(path, os.O_RDWR)
    os.close(fd)
    free = attempt(fcntl.fcntl, fd, fcntl.F_GETFD)
    beyond = os.sysconf("SC_OPEN_MAX") + 1000
    result = {"number_free": free, "closed": _map(fd, "PROT_READ", "MAP_SHARED", layer),
              "out_of_range": _map(beyond, "PROT_READ", "MAP_SHARED", layer)}
    if layer == "libc":
        result["minus_one"] = _map(-1, "PROT_READ", "MAP_SHARED", layer)
    return result


def map_pipe_and_socket(*, layer: str = "libc") -> dict[str, str]:
    """Return the results of mapping a pipe's read end and an AF_UNIX socket, shared read-only."""
    read_end, _write_end = os.pipe()
    left, _right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return {"pipe": _map(read_end, "PROT_READ", "MAP_SHARED", layer),
            "unix_socket": _map(left.fileno(), "PROT_READ", "MAP_SHARED", layer)}


def map_directory(path: str, *, layer: str = "libc") -> dict[str, Any]:
    """Return the result of mapping one page of the directory ``path`` privately, read-only.

    The filesystem's type comes along: mapping support is the filesystem's.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    return {"directory": _map(fd, "PROT_READ", "MAP_PRIVATE", layer, "ACCESS_COPY"),
            "filesystem": filesystem_type(path)}


def map_write_only(path: str, *, prot: str = "PROT_READ", flags: str = "MAP_SHARED",
                   access: str | None = None) -> dict[str, str]:
    """Return the result of mapping ``path`` opened ``O_WRONLY``.

    Through libc with ``prot`` and ``flags``, or, when ``access`` is given,
    through Python's mmap with that access mode.
    """
    fd = os.open(path, os.O_WRONLY)
    if access is not None:
        return {"mmap": _map(fd, prot, flags, "pymmap", access)}
    return {"mmap": _map(fd, prot, flags, "libc")}
