"""Allocation of a backing object up front, shared by every backend.

``ftruncate`` alone makes a sparse object: the blocks are only taken when a
page is first written through the mapping, and on a full filesystem that
write is a ``SIGBUS`` that kills the writer.  ``posix_fallocate`` takes every
block now, so a full filesystem is an ``ENOSPC`` here, at creation, where it
can be reported.
"""

from __future__ import annotations

import errno
import os

from helpers.ipc.errors import ChannelError, errno_name


def allocate(fd: int, size: int, what: str) -> None:
    """Size the object behind ``fd`` to ``size`` bytes with every block allocated.

    Raises ``ChannelError`` naming the errno (``ENOSPC``, ``EFBIG``, ...)
    with the ``OSError`` as cause; the caller removes the half-made object.
    """
    try:
        os.ftruncate(fd, size)
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        hint = " (the filesystem is full)" if exc.errno == errno.ENOSPC else ""
        raise ChannelError(
            f"cannot allocate {size} bytes for {what}: {errno_name(exc.errno)}{hint}"
        ) from exc
