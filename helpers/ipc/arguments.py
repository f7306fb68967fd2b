"""Checks of the arguments callers pass to a channel, each raising a named ``ChannelError``.

Argument mistakes are ``ChannelTypeError`` (also a ``TypeError``) or
``ChannelValueError`` (also a ``ValueError``), and the message says what
was expected and what came.
"""

from __future__ import annotations

import time

from helpers.ipc.errors import ChannelTypeError, ChannelValueError


def deadline(timeout: object) -> float | None:
    """Return ``timeout`` seconds from now on the monotonic clock (None: no deadline).

    A timeout too large for a float (an int beyond about 1e308 s) is no
    deadline, as infinity is.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ChannelTypeError(f"timeout must be None or a number, got {type(timeout).__name__}")
    if not timeout >= 0:  # also refuses NaN
        raise ChannelValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
    try:
        return time.monotonic() + timeout
    except OverflowError:
        return None


def payload(data: object) -> bytes | memoryview:
    """Return ``data`` as something a byte slice of the ring can be assigned from."""
    if type(data) is bytes:
        return data
    if isinstance(data, str):
        raise ChannelTypeError("messages are bytes, not str; encode the text first")
    return _bytes_view(data, "a message must be a bytes-like object")


def writable(buffer: object) -> memoryview:
    """Return ``buffer`` as a writable byte view, or raise saying why it cannot be one."""
    view = _bytes_view(buffer, "recv_into needs a writable bytes-like buffer")
    if view.readonly:
        raise ChannelTypeError("recv_into needs a writable buffer, this one is read-only")
    return view


def _bytes_view(data: object, wanted: str) -> memoryview:
    """Return ``data`` as a flat byte view; ``wanted`` starts the error for anything else."""
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise ChannelTypeError(f"{wanted}, got {type(data).__name__}") from None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def integer(value: object, what: str, low: int, high: int) -> int:
    """Return ``value`` if it is an int (not a bool) in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChannelTypeError(f"{what} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ChannelValueError(f"{what} must be in {low}..{high}, got {value}")
    return value
