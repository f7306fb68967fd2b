"""A regular file: the channel survives a restart of every process using it.

The file is created with ``O_CREAT|O_EXCL`` (which never follows a symlink
in the last component) and opened with ``O_NOFOLLOW``, so a symlink planted
at the path is refused instead of redirecting the channel elsewhere.
"""

from __future__ import annotations

import os

from helpers.ipc.errors import ChannelTypeError, ChannelValueError, from_oserror

KIND = "file"
_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC


def check_name(name: object) -> str:
    """Return ``name`` as a str path if usable, else raise saying what is wrong."""
    if not isinstance(name, (str, os.PathLike)):
        raise ChannelTypeError(f"file path must be a str or path, got {type(name).__name__}")
    path = os.fspath(name)
    if not isinstance(path, str):
        raise ChannelTypeError("file path must be text, not bytes")
    if not path or "\0" in path:
        raise ChannelValueError(f"file path {path!r} is empty or holds a NUL byte")
    if path.endswith("/") or os.path.basename(path) in ("", ".", ".."):
        raise ChannelValueError(f"file path {path!r} names a directory, not a file")
    return path


def create(name: str, mode: int) -> int:
    """Create the file exclusively with exactly ``mode``; return its fd."""
    try:
        fd = os.open(name, _FLAGS | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise from_oserror(exc, f"open({name!r}, O_CREAT|O_EXCL|O_NOFOLLOW)") from exc
    os.fchmod(fd, mode)
    return fd


def open_existing(name: str) -> int:
    """Open the existing file read-write without following a symlink; return its fd."""
    try:
        return os.open(name, _FLAGS)
    except OSError as exc:
        raise from_oserror(exc, f"open({name!r}, O_NOFOLLOW)") from exc


def unlink(name: str) -> None:
    """Remove the file's name; mappings that exist stay valid."""
    try:
        os.unlink(name)
    except OSError as exc:
        raise from_oserror(exc, f"unlink({name!r})") from exc


def stat_name(name: str) -> os.stat_result | None:
    """Return what the path refers to now (without following a symlink), or None."""
    try:
        return os.stat(name, follow_symlinks=False)
    except OSError:
        return None
