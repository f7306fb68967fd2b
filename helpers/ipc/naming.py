"""Fresh names for channels of each backend, in the run's naming scheme.

Everything the suite creates carries the run's prefix (``helpers.names``),
so the end-of-run check can find what a crashed test left behind: shm
channels get a shm name, file channels a path in the temporary directory,
memfd channels a label (a memfd leaves nothing behind, but its label shows
in ``/proc/<pid>/fd``).
"""

from __future__ import annotations

import os
import tempfile

from helpers import names
from helpers.ipc.errors import ChannelValueError

BACKENDS = ("shm", "file", "memfd")


def fresh_name(backend: str, tag: str = "channel") -> str:
    """Return an unused name for a channel of ``backend``."""
    if backend == "shm":
        return names.shm_name(tag)
    if backend == "file":
        return os.path.join(tempfile.gettempdir(), names.unique_name(tag))
    if backend == "memfd":
        return names.unique_name(tag)
    raise ChannelValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
