"""A full memory barrier on every peer's CPU, asked for by one side (``membarrier``).

Two places in the channel are Dekker-style handshakes: a sleeper stores "I
am going to sleep" and then loads the ring position, while the other side
stores the position and then loads the flag.  With plain stores and loads
(all pure Python can do) a CPU may let each load pass its own earlier store,
and both sides miss each other.  ``membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)``
makes every running thread of every registered process execute a full
barrier, so the rare side (the sleeper, the revoker of a biased owner) pays
for the ordering and the hot side pays nothing.  Each process registers
once; a process that cannot register records that in the segment and its
peers stop relying on the barrier (bias off, waits in short slices).
"""

from __future__ import annotations

import os

from helpers.ipc import native

CMD_QUERY = 0
CMD_GLOBAL = 1
CMD_GLOBAL_EXPEDITED = 1 << 1
CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2

_registered_pid = 0
_state: str | None = None  # None until tried, "" if usable, else the reason


def unavailable_reason() -> str | None:
    """Return why this process cannot use the expedited global barrier, or None.

    The first call in a process (and the first after a fork) registers it;
    later calls return the cached answer.
    """
    global _registered_pid, _state
    pid = os.getpid()
    if _registered_pid == pid and _state is not None:
        return _state or None
    _registered_pid = pid
    if os.environ.get("MMAPCHECK_IPC_NO_FENCE"):
        _state = "disabled by MMAPCHECK_IPC_NO_FENCE"
        return _state
    reason = native.syscall_available()
    if reason is not None:
        _state = reason
        return _state
    supported, err = native.raw_syscall(native.SYS_MEMBARRIER, CMD_QUERY, 0, 0)
    if supported < 0:
        _state = f"membarrier query failed: {os.strerror(err)}"
        return _state
    if not supported & CMD_GLOBAL_EXPEDITED:
        _state = "membarrier has no MEMBARRIER_CMD_GLOBAL_EXPEDITED"
        return _state
    result, err = native.raw_syscall(native.SYS_MEMBARRIER, CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0)
    if result < 0:
        _state = f"membarrier registration failed: {os.strerror(err)}"
        return _state
    _state = ""
    return None


def barrier() -> None:
    """Run a full barrier on this CPU and on every CPU running a registered process.

    Callers check ``unavailable_reason()`` first; calling this where it is
    unavailable is a programming error.
    """
    result, err = native.raw_syscall(native.SYS_MEMBARRIER, CMD_GLOBAL_EXPEDITED, 0, 0)
    if result < 0:
        raise OSError(err, f"membarrier: {os.strerror(err)}")
