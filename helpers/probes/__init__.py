"""Probes: module-level verbs that run inside isolated children.

Each family of checks has a module here (``offsets``, ``eof``, ...).  A probe
returns JSON-able evidence or lets the call's error or signal end it; it
declares the mapping base with :func:`helpers.isolate.note` before touching
memory so fault offsets can be reported.
"""

from __future__ import annotations

import os

from helpers.isolate import note
from helpers.libc import close_past_deferred_error


def release(fd: int) -> None:
    """Close ``fd``, a step on the way to a probe's question, and go on whatever close says.

    A deferred error of close (:func:`helpers.libc.close_past_deferred_error`)
    says nothing about what the probe looks at next, so it is sent as
    evidence (the note ``close_errno``) instead of ending the probe.
    """
    if err := close_past_deferred_error(fd):
        note(close_errno=err)


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
