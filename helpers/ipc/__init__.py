"""The reference IPC channel: messages between processes over a shared mapping.

``Channel`` is built with ``Channel.create`` / ``Channel.attach`` /
``Channel.from_fd`` on one of three backends (POSIX shm, a regular file, a
sealed memfd).  ``helpers.ipc.channel`` states the delivery guarantees;
``helpers.ipc.layout`` the shared layout; ``helpers.ipc.faults`` the named
fault points tests arm.  ``python -m helpers.ipc.bench`` measures it against
the standard transports and ``python -m helpers.ipc.stress`` loads it.
"""

from helpers.ipc.channel import Channel, Statistics
from helpers.ipc.errors import (
    ChannelClosed,
    ChannelError,
    ChannelExists,
    ChannelNotFound,
    ChannelPermissionError,
    ChannelTypeError,
    ChannelValueError,
    CorruptChannel,
    Empty,
    Full,
    MessageTooLarge,
)

__all__ = [
    "Channel",
    "ChannelClosed",
    "ChannelError",
    "ChannelExists",
    "ChannelNotFound",
    "ChannelPermissionError",
    "ChannelTypeError",
    "ChannelValueError",
    "CorruptChannel",
    "Empty",
    "Full",
    "MessageTooLarge",
    "Statistics",
]
