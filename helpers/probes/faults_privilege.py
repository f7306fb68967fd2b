"""Giving up one capability inside a probe child, to show the unprivileged side of a limit.

Some limits bind only processes without a capability (``RLIMIT_MEMLOCK``
does not bind a holder of ``CAP_IPC_LOCK``).  A run as root can show both
sides: the child removes the capability from its own effective, permitted
and inheritable sets with ``capset(2)`` (it cannot get it back, and nothing
outside the child changes), then runs the unprivileged case.
"""

from __future__ import annotations

from helpers import libc

#: capability(7) numbers; the same on every architecture.
CAPABILITIES = {"CAP_DAC_OVERRIDE": 1, "CAP_IPC_LOCK": 14, "CAP_SYS_ADMIN": 21,
                "CAP_SYS_RESOURCE": 24}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def has_capability(name: str) -> bool:
    """Return whether this process holds capability ``name`` in its effective set."""
    bit = CAPABILITIES[name]
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def drop_capability(name: str) -> None:
    """Remove capability ``name`` from this process for good (effective, permitted, inheritable)."""
    bit = CAPABILITIES[name]
    header = libc.CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (libc.CapData * 2)()
    libc.capget(header, data)
    word, mask = divmod(bit, 32)
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[word], field, getattr(data[word], field) & ~(1 << mask))
    libc.capset(header, data)
    if has_capability(name):
        raise RuntimeError(f"capset reported success but {name} is still effective")
