"""The peer table: one 64-byte slot per open handle, for identity, roles and liveness.

A handle claims a slot before its first operation.  The slot records who it
is (pid and start time, so a dead or reused pid is recognised), which roles
it has taken (sender, receiver) and its two "busy" flags for the biased fast
path.  The sender and receiver counts kept beside the table decide whether a
handle may take the lock-free fast path: only a lone sender, or a lone
receiver, may.  Slots of dead processes are reclaimed on every scan, so a
crashed peer stops counting as soon as anyone registers or closes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from helpers.ipc import layout, liveness
from helpers.ipc.errors import ChannelError
from helpers.ipc.robust_mutex import OWNER_DIED, TIMED_OUT, RobustMutex

#: how long table housekeeping may wait for the table lock before giving up.
TABLE_TIMEOUT = 5.0


class PeerTable:
    """Operations on the slot table of one mapped segment."""

    __slots__ = ("_max_peers", "_mutex", "_words")

    def __init__(self, words: memoryview, max_peers: int, mutex: RobustMutex) -> None:
        self._words = words
        self._max_peers = max_peers
        self._mutex = mutex

    @contextmanager
    def _locked(self) -> Iterator[None]:
        outcome = self._mutex.acquire(time.monotonic() + TABLE_TIMEOUT)
        if outcome == TIMED_OUT:
            raise ChannelError(f"peer table lock not acquired within {TABLE_TIMEOUT} s")
        try:
            if outcome == OWNER_DIED:
                # A peer died mid-update: every field is rebuilt by the scan below.
                self._scan()
                self._mutex.consistent()
            yield
        finally:
            self._mutex.release()

    def claim(self, me: liveness.Identity) -> int:
        """Take a free (or dead peer's) slot for a new handle; return its identity word.

        Raises ``ChannelError`` when every slot belongs to a living handle.
        """
        w = self._words
        with self._locked():
            self._scan()
            for slot in range(self._max_peers):
                base = layout.slot_word(slot, 0)
                if w[base + layout.SLOT_IDENT] == 0:
                    ident = (secrets.randbits(47) + 1) << 16 | (slot + 1)
                    w[base + layout.SLOT_PID] = me.pid
                    w[base + layout.SLOT_START] = me.start
                    w[base + layout.SLOT_ROLES] = 0
                    w[base + layout.SLOT_BUSY_SEND] = 0
                    w[base + layout.SLOT_BUSY_RECV] = 0
                    w[base + layout.SLOT_IDENT] = ident
                    return ident
        raise ChannelError(
            f"all {self._max_peers} peer slots are held by living handles; close some, or "
            "create the channel with a larger max_peers"
        )

    def add_role(self, ident: int, role: int) -> None:
        """Record that handle ``ident`` sends or receives, and recount the roles."""
        w = self._words
        with self._locked():
            base = layout.slot_word(layout.ident_slot(ident), 0)
            if w[base + layout.SLOT_IDENT] == ident:
                w[base + layout.SLOT_ROLES] |= role
            self._scan()

    def release(self, ident: int) -> None:
        """Free the slot of handle ``ident`` and recount the roles."""
        w = self._words
        with self._locked():
            base = layout.slot_word(layout.ident_slot(ident), 0)
            if w[base + layout.SLOT_IDENT] == ident:
                self._clear(base)
            self._scan()

    def rescan(self) -> None:
        """Reclaim the slots of dead peers and recount the roles."""
        with self._locked():
            self._scan()

    def holder_alive(self, ident: int) -> bool:
        """Return whether the handle ``ident`` still holds its slot in a living process."""
        w = self._words
        slot = layout.ident_slot(ident)
        if not 0 <= slot < self._max_peers:
            return False
        base = layout.slot_word(slot, 0)
        if w[base + layout.SLOT_IDENT] != ident:
            return False
        return liveness.is_alive(w[base + layout.SLOT_PID], w[base + layout.SLOT_START])

    def _clear(self, base: int) -> None:
        w = self._words
        w[base + layout.SLOT_IDENT] = 0
        w[base + layout.SLOT_ROLES] = 0
        w[base + layout.SLOT_BUSY_SEND] = 0
        w[base + layout.SLOT_BUSY_RECV] = 0
        w[base + layout.SLOT_PID] = 0
        w[base + layout.SLOT_START] = 0

    def _scan(self) -> None:
        """Clear dead peers' slots and store the live sender and receiver counts."""
        w = self._words
        senders = receivers = 0
        for slot in range(self._max_peers):
            base = layout.slot_word(slot, 0)
            ident = w[base + layout.SLOT_IDENT]
            if not ident:
                continue
            pid, start = w[base + layout.SLOT_PID], w[base + layout.SLOT_START]
            if layout.ident_slot(ident) != slot or not liveness.is_alive(pid, start):
                self._clear(base)
                continue
            roles = w[base + layout.SLOT_ROLES]
            senders += bool(roles & layout.ROLE_SEND)
            receivers += bool(roles & layout.ROLE_RECV)
        w[layout.SENDERS] = senders
        w[layout.RECEIVERS] = receivers
