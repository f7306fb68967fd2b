"""Named fault points inside ``send`` and ``recv`` that a test can arm.

The channel calls ``hit(point)`` at each named step of its slow path while
any point is armed; with nothing armed the check is one attribute read, and
the fast path is switched off so that every operation passes the points.
A point is armed with an action (``"kill"``: ``SIGKILL`` this process on the
spot, ``"raise"``: raise ``FaultInjected``, or any callable) and a count of
hits to let pass first, so a test can kill a producer in the middle of its
hundredth message.  Arming is per process: children arm their own points.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

#: Every point, in the order an operation passes them.
POINTS: tuple[str, ...] = (
    "send.entered",      # in the critical section (the side's lock held)
    "send.payload",      # half the payload written into the ring, nothing published
    "send.written",      # payload and frame header written, HEAD not yet advanced
    "send.committed",    # HEAD advanced: the message is delivered; section not left
    "send.sleeping",     # asleep-flag set for lack of space, futex wait not yet entered
    "recv.entered",      # in the critical section
    "recv.header",       # frame header read and checked, payload not copied
    "recv.copied",       # payload copied out, TAIL not yet advanced
    "recv.released",     # TAIL advanced: the message is consumed; section not left
    "recv.sleeping",     # asleep-flag set on an empty ring, futex wait not yet entered
)


class FaultInjected(Exception):
    """Raised by a point armed with ``"raise"``."""


@dataclass
class _Arming:
    action: Callable[[str], None]
    skip: int
    remaining: int | None


@dataclass
class _Registry:
    points: dict[str, _Arming] = field(default_factory=dict)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)


_registry = _Registry()


class _State:
    """Holds the one flag the channel reads on every slow-path operation."""

    armed = False


state = _State()


def _kill(point: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _raise(point: str) -> None:
    raise FaultInjected(point)


_ACTIONS: dict[str, Callable[[str], None]] = {"kill": _kill, "raise": _raise}


def arm(point: str, action: str | Callable[[str], None] = "kill", *, after: int = 0,
        times: int | None = 1) -> None:
    """Arm ``point``: let ``after`` hits pass, then run ``action`` on the next ``times`` hits.

    ``times=None`` fires on every later hit.  Unknown points and actions
    raise ``ValueError`` naming the valid ones, so a typo never arms nothing.
    """
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}; valid points: {', '.join(POINTS)}")
    if isinstance(action, str):
        if action not in _ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of {sorted(_ACTIONS)} "
                             "or a callable")
        action = _ACTIONS[action]
    if after < 0 or (times is not None and times < 1):
        raise ValueError(f"after must be >= 0 and times >= 1 or None, got {after}, {times}")
    _registry.points[point] = _Arming(action, after, times)
    _changed()


def disarm(point: str | None = None) -> None:
    """Disarm ``point``, or every point when None."""
    if point is None:
        _registry.points.clear()
    else:
        _registry.points.pop(point, None)
    _changed()


def hits(point: str) -> int:
    """Return how often ``point`` was passed while armed, in this process."""
    return _registry.hits.get(point, 0)


def add_listener(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the set of armed points changes."""
    _registry.listeners.append(callback)


def _changed() -> None:
    state.armed = bool(_registry.points)
    for callback in _registry.listeners:
        callback()


def hit(point: str) -> None:
    """Pass ``point``: count it and run its action if it is armed and due."""
    _registry.hits[point] = _registry.hits.get(point, 0) + 1
    arming = _registry.points.get(point)
    if arming is None:
        return
    if arming.skip:
        arming.skip -= 1
        return
    if arming.remaining is not None:
        arming.remaining -= 1
        if arming.remaining <= 0:
            del _registry.points[point]
            _changed()
    arming.action(point)
