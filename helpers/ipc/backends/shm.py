"""POSIX shared-memory objects (``shm_open``): a name in the shm namespace.

glibc's ``shm_open`` opens ``/dev/shm/<name>`` with ``O_NOFOLLOW`` and
``O_CLOEXEC``; CPython exposes it in ``_posixshmem``.  Where that module is
missing the same file is opened directly with the same flags.
"""

from __future__ import annotations

import os

from helpers.ipc.errors import ChannelTypeError, ChannelValueError, from_oserror

try:  # CPython's own binding of shm_open/shm_unlink (Unix builds)
    import _posixshmem
except ImportError:  # pragma: no cover - every Linux CPython has it
    _posixshmem = None

KIND = "shm"
NAME_MAX = 255
_DEV_SHM = "/dev/shm"


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid POSIX shm name, else raise saying what is wrong."""
    if not isinstance(name, str):
        raise ChannelTypeError(f"shm name must be a str, got {type(name).__name__}")
    if not name.startswith("/") or len(name) < 2:
        raise ChannelValueError(f"shm name {name!r} must be '/' followed by at least one character")
    if "/" in name[1:]:
        raise ChannelValueError(f"shm name {name!r} may hold no '/' after the leading one")
    if "\0" in name or name in ("/.", "/.."):
        raise ChannelValueError(f"shm name {name!r} is not a valid file name")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
        raise ChannelValueError(f"shm name {name!r} cannot be encoded as UTF-8") from None
    if size > NAME_MAX:
        raise ChannelValueError(f"shm name is {size} bytes, the limit is {NAME_MAX}")
    return name


def _open(name: str, flags: int, mode: int) -> int:
    if _posixshmem is not None:
        return _posixshmem.shm_open(name, flags, mode)
    return os.open(_DEV_SHM + name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def create(name: str, mode: int) -> int:
    """Create the object exclusively (``O_CREAT|O_EXCL``) with exactly ``mode``; return its fd."""
    try:
        fd = _open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise from_oserror(exc, f"shm_open({name!r}, O_CREAT|O_EXCL)") from exc
    os.fchmod(fd, mode)  # the umask may have removed bits the caller asked for
    return fd


def open_existing(name: str) -> int:
    """Open an existing object read-write; return its fd."""
    try:
        return _open(name, os.O_RDWR, 0)
    except OSError as exc:
        raise from_oserror(exc, f"shm_open({name!r})") from exc


def unlink(name: str) -> None:
    """Remove the name; mappings that exist stay valid until unmapped."""
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink(name)
        else:
            os.unlink(_DEV_SHM + name)
    except OSError as exc:
        raise from_oserror(exc, f"shm_unlink({name!r})") from exc


def stat_name(name: str) -> os.stat_result | None:
    """Return what the name refers to now (without following a symlink), or None."""
    try:
        return os.stat(_DEV_SHM + name, follow_symlinks=False)
    except OSError:
        return None
