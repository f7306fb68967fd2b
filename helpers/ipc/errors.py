"""Exceptions raised by the channel; every one derives from ``ChannelError``.

Callers that only care whether the channel worked catch ``ChannelError``.
Argument mistakes also derive from the built-in exception a Python caller
expects (``ValueError``, ``TypeError``), and errors that come from the
operating system keep the ``OSError`` as ``__cause__`` and name its errno.
"""

from __future__ import annotations

import errno as _errno


class ChannelError(Exception):
    """Base class: something about the channel or the call was wrong."""


class Full(ChannelError):
    """``send`` timed out: the ring stayed full, or another handle held the send side.

    A live handle holds a side only for the moment of one call, so a side
    held for longer means a peer that is stopped (``SIGSTOP``, a debugger)
    or a lock word some writer of the segment forged; the message says which
    of the two causes it was.

    ``sent`` is how many items of a ``send_many`` batch were delivered before
    the timeout (always 0 for ``send``); the rest were not sent.
    """

    def __init__(self, message: str, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent


class Empty(ChannelError):
    """``recv`` timed out: no message arrived, or another handle held the receive side."""


class ChannelClosed(ChannelError):
    """The handle was closed by this process; it cannot be used again."""


class CorruptChannel(ChannelError):
    """The shared header or a frame breaks the layout's invariants.

    Raised by ``attach`` for a header that is not a channel of this version,
    has impossible geometry, or belongs to another user, and by ``send`` and
    ``recv`` when a control word or a frame in the ring is out of bounds.
    The channel is never read past its bounds: the check comes first.
    """


class MessageTooLarge(ChannelError, ValueError):
    """The message can never fit in this channel's ring."""


class ChannelValueError(ChannelError, ValueError):
    """An argument has the right type but an impossible value."""


class ChannelTypeError(ChannelError, TypeError):
    """An argument has the wrong type."""


class ChannelExists(ChannelError, FileExistsError):
    """``create`` found an object of that name already there."""


class ChannelNotFound(ChannelError, FileNotFoundError):
    """``attach`` found no object of that name."""


class ChannelPermissionError(ChannelError, PermissionError):
    """The operating system refused access to the backing object."""


def errno_name(code: int | None) -> str:
    """Return the symbolic name of an errno value (``"ENOSPC"``), never a bare number."""
    if code is None:
        return "no errno"
    return _errno.errorcode.get(code, f"errno {code}")


def from_oserror(exc: OSError, what: str) -> ChannelError:
    """Return the ``ChannelError`` subclass matching ``exc``, its errno named in the message.

    The caller raises the result ``from exc`` so the original stays attached.
    """
    name = errno_name(exc.errno)
    detail = f"{what}: {name} ({exc.strerror})" if exc.strerror else f"{what}: {name}"
    if exc.errno == _errno.EEXIST:
        return ChannelExists(exc.errno, detail)
    if exc.errno == _errno.ENOENT:
        return ChannelNotFound(exc.errno, detail)
    if exc.errno in (_errno.EACCES, _errno.EPERM):
        return ChannelPermissionError(exc.errno, detail)
    return ChannelError(detail)
