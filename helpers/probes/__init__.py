"""Probes: module-level verbs that run inside isolated children.

Each family of checks has a module here (``offsets``, ``eof``, ...).  A probe
returns JSON-able evidence or lets the call's error or signal end it; it
declares the mapping base with :func:`helpers.isolate.note` before touching
memory so fault offsets can be reported.
"""

from __future__ import annotations

import errno
import os

from helpers.isolate import note
from helpers.libc import errno_name


def release(fd: int) -> None:
    """Close ``fd``, a step on the way to a probe's question, and go on whatever close says.

    close(2): Linux releases the descriptor before it can report a deferred
    error (EIO, ENOSPC, EDQUOT, EINTR), and the file's mappings stay.  Such
    an error says nothing about what the probe looks at next, so it is sent
    as evidence (the note ``close_errno``) instead of ending the probe.
    EBADF, a descriptor the probe does not hold, is the probe's own bug and
    is raised.
    """
    try:
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise
        note(close_errno=errno_name(exc))


def read_file(path: str, n: int = -1) -> bytes:
    """Return the first ``n`` bytes of ``path`` (all when ``n`` is -1) through a new descriptor.

    For reading a file that the probe has mapped: its descriptor is
    released with :func:`release`, so a deferred error of close, which a
    file with live mappings can report, does not end the probe.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        if n < 0:
            n = os.fstat(fd).st_size
        return os.pread(fd, n, 0)
    finally:
        release(fd)
