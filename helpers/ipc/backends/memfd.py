"""An anonymous ``memfd``, sealed so nobody can shrink or grow it.

A memfd has no name in any namespace: it is shared by inheriting it across
``fork`` or by passing its descriptor.  After sizing and allocating it the
channel adds ``F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL``, so a truncation
by anyone (this process included) fails with ``EPERM`` and the mapping can
never run past the end of the object (``SIGBUS``).
"""

from __future__ import annotations

import fcntl
import os

from helpers.ipc.errors import (
    ChannelError,
    ChannelTypeError,
    ChannelValueError,
    errno_name,
    from_oserror,
)

KIND = "memfd"
LABEL_MAX = 249
SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def check_name(name: object) -> str:
    """Return ``name`` if it is a usable memfd label, else raise saying what is wrong."""
    if not isinstance(name, str):
        raise ChannelTypeError(f"memfd label must be a str, got {type(name).__name__}")
    if not name or "\0" in name:
        raise ChannelValueError(f"memfd label {name!r} is empty or holds a NUL byte")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
        raise ChannelValueError(f"memfd label {name!r} cannot be encoded as UTF-8") from None
    if size > LABEL_MAX:
        raise ChannelValueError(f"memfd label is {size} bytes, limit {LABEL_MAX}")
    return name


def create(name: str, mode: int) -> int:
    """Create a sealable memfd labelled ``name``; return its fd (``mode`` applied)."""
    try:
        fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError as exc:
        raise from_oserror(exc, f"memfd_create({name!r})") from exc
    os.fchmod(fd, mode)
    return fd


def seal(fd: int) -> None:
    """Forbid shrinking, growing and further sealing of the memfd behind ``fd``."""
    try:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except OSError as exc:
        raise ChannelError(f"cannot seal memfd: {errno_name(exc.errno)}") from exc


def seals(fd: int) -> int:
    """Return the seals set on ``fd`` (``F_GET_SEALS``)."""
    return fcntl.fcntl(fd, fcntl.F_GET_SEALS)


def open_existing(name: str) -> int:
    """Refuse: a memfd has no name to open; share the fd instead."""
    raise ChannelValueError(
        f"a memfd channel has no name to attach to ({name!r}); pass its fd to "
        "Channel.from_fd() or inherit the Channel across fork"
    )


def unlink(name: str) -> None:
    """Do nothing: a memfd disappears with its last descriptor and mapping."""


def stat_name(name: str) -> os.stat_result | None:
    """Return None: a memfd has no name that could be replaced."""
    return None
