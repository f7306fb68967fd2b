"""Blocking on a shared 32-bit word: futex where there is one, polling elsewhere.

A blocked caller never spins for long: it sleeps on a word that the other
side bumps (and wakes) after making progress.  Sleeps are cut into slices
and the caller re-checks its real condition after each one, for three
reasons: signal handlers must run, a deadline must be kept, and a peer killed
between making progress and waking the sleepers must not leave them asleep
for ever.  The slice is ``RECHECK`` (20 ms): the sleep flags are
sequentially consistent atomics (``helpers.ipc.atomic``, edge 5), so a live
waker never misses a sleeper, an idle channel costs one short wake-up per
slice and a dead peer's missed wake costs at most one slice.  Without
futexes (``PollSleeper``) the caller polls with a growing pause up to
``SHORT_SLICE``.  The futex words are ``helpers.ipc.atomic`` cells.
"""

from __future__ import annotations

import time

from helpers.ipc import atomic, futex

RECHECK = 0.02
SHORT_SLICE = 0.001


class FutexSleeper:
    """Sleep on and wake a futex word of a mapped segment."""

    __slots__ = ()

    def sleep(self, cell: object, expected: int, deadline: float | None) -> bool:
        """Sleep one slice while ``cell`` holds ``expected``; False once past ``deadline``."""
        step = RECHECK
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(step, left)
        futex.wait(cell.address, expected, step)  # type: ignore[attr-defined]
        return True

    def wake(self, cell: object) -> None:
        """Change ``cell`` and wake every sleeper on it."""
        cell.fetch_add(1, atomic.RELEASE)  # type: ignore[attr-defined]
        futex.wake(cell.address)  # type: ignore[attr-defined]


class PollSleeper:
    """The portable fallback: re-check the word with a growing pause."""

    __slots__ = ("_pause",)

    def __init__(self) -> None:
        self._pause = 20e-6

    def sleep(self, cell: object, expected: int, deadline: float | None) -> bool:
        """Pause briefly unless ``cell`` changed; False once past ``deadline``."""
        if cell.load(atomic.ACQUIRE) != expected:  # type: ignore[attr-defined]
            self._pause = 20e-6
            return True
        pause = self._pause
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pause = min(pause, left)
        time.sleep(pause)
        self._pause = min(self._pause * 2, SHORT_SLICE)
        return True

    def wake(self, cell: object) -> None:
        """Change ``cell`` so that pollers see progress."""
        cell.fetch_add(1, atomic.RELEASE)  # type: ignore[attr-defined]
