"""A side's lock: a futex word holding the holder's token, recovered through liveness.

Lock words live in the shared segment and hold no pointer: 0 when free, else
the token of the handle inside the side (``helpers.ipc.peers``).  Entering
is one compare-and-swap; leaving is one compare-and-swap back to 0 followed
by a look at the waiter count, and a ``FUTEX_WAKE`` only if someone waits.

Why the release is a single compare-and-swap: CPython runs signal handlers
(``KeyboardInterrupt``, a ``SIGALRM`` timeout) only at function entry,
backward jumps and just after a call returns.  The channel enters a side as
the first call inside a ``try`` whose ``finally`` starts with the releasing
compare-and-swap (from its own token, so it does nothing where the entry
failed).  An exception that unwinds the caller at any of those points
therefore never leaves the lock held, and a second exception cannot come
between the start of the ``finally`` and the release.  A waiter increments
the waiter count as the first call inside its own ``try`` and decrements it
first thing in the ``finally``, for the same reason.  At worst an exception
skips a wake, which costs a sleeper one re-check slice.

A holder that died inside the side is recognised by any waiter that has
waited ``CHECK_AFTER``: the token's slot no longer holds that token, or the
kernel holds no liveness lock on it.  The waiter then swaps the dead token
for its own.  Positions only move by one atomic store after the work, so a
dead holder leaves nothing half done that could be published.
"""

from __future__ import annotations

import time

from helpers.ipc import atomic, futex, layout
from helpers.ipc.errors import ChannelError
from helpers.ipc.peers import PeerTable

#: how long a waiter waits before it asks whether the holder is alive, and between asks.
CHECK_AFTER = 0.002
CHECK_EVERY = 0.005
#: longest single futex sleep: signal handlers run and deadlines are kept in between.
SLICE = 0.02
#: a waker that found nobody asleep this many times in a row resets the count.
USELESS_WAKES = 64


class SideLock:
    """One side's lock word and waiter count, as used by one handle."""

    __slots__ = ("_address", "_futex", "_table", "_useless", "attention", "cas", "word")

    def __init__(self, control: atomic.Control, side: int, table: PeerTable,
                 use_futex: bool) -> None:
        self.word = control.locks[side]
        self.attention = control.attention[side]
        self.cas = self.word.cas
        self._address = self.word.address
        self._table = table
        self._futex = use_futex
        self._useless = 0

    def acquire(self, token: int, deadline: float | None) -> float | None:
        """Enter the side; return None (entered), -1.0 (deadline passed) or recovery seconds.

        Must be called inside the caller's ``try`` whose ``finally`` calls
        ``release``: an exception raised in here after the lock was taken is
        then still undone.
        """
        cas = self.cas
        if cas(0, token, atomic.SEQ_CST) == 0:
            return None
        started = time.monotonic()
        check_at = started + CHECK_AFTER
        checked = 0
        try:
            self.attention.fetch_add(1, atomic.SEQ_CST)
            while True:
                held = cas(0, token, atomic.SEQ_CST)
                if held == 0:
                    return None
                if held == token:
                    raise ChannelError("this handle is already inside the side: a handle "
                                       "is not re-entrant (signal handler or thread?)")
                now = time.monotonic()
                late = deadline is not None and now >= deadline
                if now >= check_at or (late and checked != held):
                    # A caller out of time still asks once: a dead holder never
                    # makes "no message" or "no room" out of a usable channel.
                    checked = held
                    if not self._table.holder_alive(held):
                        if cas(held, token, atomic.SEQ_CST) == held:
                            return time.monotonic() - started
                        continue
                    check_at = now + CHECK_EVERY
                if late:
                    return -1.0
                step = min(SLICE, check_at - now)
                if deadline is not None:
                    step = min(step, deadline - now)
                if self._futex:
                    futex.wait(self._address, held, max(step, 0.0))
                else:
                    time.sleep(min(max(step, 0.0), 0.0005))
        finally:
            self.attention.fetch_sub(1, atomic.SEQ_CST)

    def wake(self) -> None:
        """Wake one waiter (called after a release that saw waiters in the attention word)."""
        if not self._futex:
            return
        if futex.wake(self._address, 1):
            self._useless = 0
            return
        # Nobody was asleep: a waiter may be between counting itself and sleeping (it
        # re-checks before sleeping), or an interrupted one left its count behind.
        self._useless += 1
        if self._useless >= USELESS_WAKES:
            self._useless = 0
            value = self.attention.load(atomic.SEQ_CST)
            self.attention.cas(value, value & layout.ASLEEP, atomic.SEQ_CST)
