"""The peer table: one slot per open handle, held through the kernel's liveness lock.

A handle claims a slot before its first operation by taking the slot's
liveness lock (``helpers.ipc.liveness``): the kernel arbitrates, so two
handles never get one slot, and a dead handle's slot is free the moment its
process is gone.  The slot then holds the handle's token, which is what the
handle writes into a side's lock word while it is inside that side.  A lock
word is judged by its token alone: the holder is alive while its slot still
holds that token and the slot's liveness lock is held by someone else.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets

from helpers.ipc import atomic, layout, liveness, segment
from helpers.ipc.errors import ChannelError


class PeerTable:
    """The slots of one mapped segment, seen through one handle's private description."""

    __slots__ = ("_control", "_fd", "_max_peers")

    def __init__(self, control: atomic.Control, lock_fd: int, max_peers: int) -> None:
        self._control = control
        self._fd = lock_fd
        self._max_peers = max_peers

    def claim(self) -> tuple[int, int]:
        """Take a free slot (free: no live process holds its lock); return (slot, token).

        Raises ``ChannelError`` when every slot belongs to a living handle.
        """
        for slot in range(self._max_peers):
            if liveness.try_lock(self._fd, liveness.BASE + slot):
                # A lock word may still name this slot's dead previous occupant: the
                # new token must differ from it, or the new owner would look like it.
                stale = {cell.load(atomic.ACQUIRE) for cell in self._control.locks}
                token = 0
                while token == 0 or token in stale:
                    token = layout.make_token(slot, secrets.randbits(24))
                self._control.slot(slot).store(token, atomic.RELEASE)
                return slot, token
        raise ChannelError(
            f"all {self._max_peers} peer slots are held by living handles; close some, or "
            "create the channel with a larger max_peers"
        )

    def release(self, slot: int) -> None:
        """Give slot ``slot`` back (its token cleared first, then the kernel lock)."""
        self._control.slot(slot).store(0, atomic.RELEASE)
        liveness.unlock(self._fd, liveness.BASE + slot)

    def holder_alive(self, token: int) -> bool:
        """Return whether the handle whose token is ``token`` lives and still holds its slot."""
        slot = layout.token_slot(token)
        if not 0 <= slot < self._max_peers:
            return False
        if self._control.slot(slot).load(atomic.ACQUIRE) != token:
            return False
        return liveness.slot_alive(self._fd, slot)

    def live_peers(self) -> int:
        """Return how many slots other handles hold now."""
        return liveness.live_slots(self._fd, self._max_peers)


def join(fd: int, view: memoryview, control: atomic.Control, geometry: layout.Geometry,
         label: str, deadline: float, *, fresh: bool) -> tuple[int, PeerTable, int, int]:
    """Enter the segment behind ``fd``; return (lock descriptor, table, slot, token).

    Under the setup lock, a ``fresh`` segment is written and any other is
    validated, then a slot is claimed.  The setup lock is let go before
    returning; the returned descriptor stays open, as it holds the slot's
    liveness lock.  The caller holds signals back for the whole call.
    """
    lock_fd = liveness.open_private(fd)
    try:
        segment.lock_setup(lock_fd, deadline, label)
        if fresh:
            segment.initialise(view, geometry)
        else:
            segment.validate(control, geometry, lock_fd)
        table = PeerTable(control, lock_fd, geometry.max_peers)
        slot, token = table.claim()
    except BaseException:
        os.close(lock_fd)
        raise
    with contextlib.suppress(OSError):
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
    return lock_fd, table, slot, token
