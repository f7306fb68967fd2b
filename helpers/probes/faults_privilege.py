"""Giving up one capability inside a probe child, to show the unprivileged side of a limit.

Some limits bind only processes without a capability (``RLIMIT_MEMLOCK``
does not bind a holder of ``CAP_IPC_LOCK``).  A run as root can show both
sides: the child removes the capability from its own effective, permitted
and inheritable sets with ``capset(2)`` (it cannot get it back, and nothing
outside the child changes), then runs the unprivileged case.
"""

from __future__ import annotations

import ctypes
import os

from helpers.libc import Unsupported, errno_name

#: capability(7) numbers; the same on every architecture.
CAPABILITIES = {"CAP_IPC_LOCK": 14, "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _capcall(name: str, header: _Header, data: ctypes.Array[_Data]) -> None:
    func = getattr(ctypes.CDLL(None, use_errno=True), name, None)
    if func is None:
        raise Unsupported(name, "the C library does not export it")
    if func(ctypes.byref(header), data) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {errno_name(err)}: {os.strerror(err)}")


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
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    _capcall("capget", header, data)
    word, mask = divmod(bit, 32)
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[word], field, getattr(data[word], field) & ~(1 << mask))
    _capcall("capset", header, data)
    if has_capability(name):
        raise RuntimeError(f"capset reported success but {name} is still effective")
