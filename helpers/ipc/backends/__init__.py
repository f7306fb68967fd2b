"""Backing stores for a channel: POSIX shm, a regular file, a sealed memfd.

Each backend is a module with the same surface (``check_name``,
``create``, ``open_existing``, ``unlink``, ``KIND``); ``get`` picks one by
name once, and the channel never branches on the backend again.
"""

from __future__ import annotations

from types import ModuleType

from helpers.ipc.backends import filebacked, memfd, shm
from helpers.ipc.errors import ChannelTypeError, ChannelValueError

BACKENDS: dict[str, ModuleType] = {"shm": shm, "file": filebacked, "memfd": memfd}


def get(backend: object) -> ModuleType:
    """Return the backend module called ``backend`` or raise naming the valid ones."""
    if not isinstance(backend, str):
        raise ChannelTypeError(f"backend must be a str, got {type(backend).__name__}")
    try:
        return BACKENDS[backend]
    except KeyError:
        raise ChannelValueError(
            f"unknown backend {backend!r}; use one of {', '.join(sorted(BACKENDS))}"
        ) from None
