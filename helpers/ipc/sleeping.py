"""Blocking on a shared 32-bit word: futex where there is one, polling elsewhere.

A blocked caller never spins for long: it sleeps on a word that the other
side bumps (and wakes) after making progress.  Sleeps are cut into slices
and the caller re-checks its real condition after each one, for three
reasons: signal handlers must run, a deadline must be kept, and a peer killed
between making progress and waking the sleepers must not leave them asleep
for ever.  The slice is ``RECHECK`` (20 ms) when the kernel's barrier makes
missed wakes impossible, so an idle channel costs one short wake-up per slice
and a dead peer's missed wake costs at most one slice; it is ``SHORT_SLICE``
when there is no barrier and a missed wake is possible.  Without futexes
(``PollSleeper``) the caller polls with a growing pause up to ``SHORT_SLICE``.
"""

from __future__ import annotations

import time

from helpers.ipc import futex

RECHECK = 0.02
SHORT_SLICE = 0.001
MASK32 = 0xFFFFFFFF


class FutexSleeper:
    """Sleep on and wake a futex word of a mapped segment."""

    __slots__ = ("_base", "_slice", "_words")

    def __init__(self, words32: memoryview, base_address: int, fenced: bool) -> None:
        self._words = words32
        self._base = base_address
        self._slice = RECHECK if fenced else SHORT_SLICE

    def set_fenced(self, fenced: bool) -> None:
        """Choose the long slice (missed wakes impossible) or the short one."""
        self._slice = RECHECK if fenced else SHORT_SLICE

    def sleep(self, index: int, expected: int, deadline: float | None) -> bool:
        """Sleep one slice while word ``index`` holds ``expected``; False once past ``deadline``."""
        step = self._slice
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(step, left)
        futex.wait(self._base + 4 * index, expected, step)
        return True

    def wake(self, index: int) -> None:
        """Change word ``index`` and wake every sleeper on it."""
        words = self._words
        words[index] = (words[index] + 1) & MASK32
        futex.wake(self._base + 4 * index)


class PollSleeper:
    """The portable fallback: re-check the word with a growing pause."""

    __slots__ = ("_pause", "_words")

    def __init__(self, words32: memoryview) -> None:
        self._words = words32
        self._pause = 20e-6

    def set_fenced(self, fenced: bool) -> None:
        """Nothing to choose: polling never relies on a wake."""

    def sleep(self, index: int, expected: int, deadline: float | None) -> bool:
        """Pause briefly unless word ``index`` changed; False once past ``deadline``."""
        if self._words[index] != expected:
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

    def wake(self, index: int) -> None:
        """Change word ``index`` so that pollers see progress."""
        words = self._words
        words[index] = (words[index] + 1) & MASK32
