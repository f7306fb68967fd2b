"""Whether the process that wrote a peer slot is still the same, living process.

A pid alone is not enough: pids are reused, and a process killed by
``SIGKILL`` stays a zombie (``kill(pid, 0)`` still succeeds) until its parent
reaps it.  A slot therefore records the pid and the process's start time in
clock ticks (field 22 of ``/proc/<pid>/stat``); the peer is alive while a
process with that pid and that start time exists and is not a zombie.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

_PROC = "/proc"


@dataclass(frozen=True)
class Identity:
    """A process as the peer table records it: pid and start time (ticks)."""

    pid: int
    start: int


def _stat(pid: int) -> tuple[str, int] | None:
    """Return (state letter, start ticks) of ``pid`` from /proc, or None if absent."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ")".
    rest = raw[raw.rfind(b")") + 2:].split()
    try:
        return rest[0].decode(), int(rest[19])
    except (IndexError, ValueError):
        return None


_cache: tuple[int, Identity] | None = None


def current() -> Identity:
    """Return the identity of the calling process (recomputed after a fork)."""
    global _cache
    pid = os.getpid()
    if _cache is None or _cache[0] != pid:
        stat = _stat(pid)
        _cache = (pid, Identity(pid, stat[1] if stat else 0))
    return _cache[1]


def is_alive(pid: int, start: int) -> bool:
    """Return whether ``pid`` runs and is the process that started at ``start`` ticks.

    Where /proc is missing, falls back to ``kill(pid, 0)`` (a zombie then
    counts as alive until reaped, and a reused pid is not detected).
    """
    if pid <= 0:
        return False
    stat = _stat(pid)
    if stat is not None:
        state, started = stat
        return state not in ("Z", "X") and started == start
    if os.path.isdir(_PROC):
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def thread_exists(tid: int) -> bool:
    """Return whether a thread with id ``tid`` exists (any process), zombies excluded.

    Where /proc is missing the answer is True: nothing can be proven dead.
    """
    if not os.path.isdir(_PROC):
        return True
    stat = _stat(tid)
    return stat is not None and stat[0] not in ("Z", "X")


def process_of(tid: int) -> int | None:
    """Return the process id (thread group) of thread ``tid``, None if it is gone."""
    try:
        with open(f"{_PROC}/{tid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def maps_object(pid: int, device: int, inode: int) -> bool:
    """Return whether process ``pid`` has the file (``device``, ``inode``) mapped.

    Where /proc is missing the answer is True: nothing can be proven.
    """
    if not os.path.isdir(_PROC):
        return True
    wanted = f"{os.major(device):02x}:{os.minor(device):02x} {inode} ".encode()
    try:
        with open(f"{_PROC}/{pid}/maps", "rb") as handle:
            return any(wanted in line for line in handle)
    except OSError:
        return False

