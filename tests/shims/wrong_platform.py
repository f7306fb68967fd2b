"""A deliberately wrong platform, to prove that the checks notice when it is wrong.

Loaded as a pytest plugin (``-p tests.shims.wrong_platform``) in the test
process and preloaded into the fork server (``MMAPCHECK_PRELOAD``), it
replaces calls of :mod:`helpers.libc` according to ``MMAPCHECK_SHIM``:

``unaligned-offsets-accepted``  mmap rounds a bad offset down instead of EINVAL
``page-size-64k``               the page size is 64 KiB, and offsets must follow it
``wrong-errno``                 munmap of an unaligned address fails with EFAULT
"""

from __future__ import annotations

import errno
import os
from typing import Any

from helpers import libc

SHIM_ENV = "MMAPCHECK_SHIM"
KINDS = ("unaligned-offsets-accepted", "page-size-64k", "wrong-errno")
_real_mmap, _real_munmap = libc.mmap, libc.munmap


def _mmap_rounding(addr: int, length: int, prot: int, flags: int, fd: int = -1,
                   offset: int = 0) -> int:
    return _real_mmap(addr, length, prot, flags, fd, offset - offset % libc.PAGE_SIZE)


def _mmap_64k(addr: int, length: int, prot: int, flags: int, fd: int = -1,
              offset: int = 0) -> int:
    if offset % 65536:
        raise OSError(errno.EINVAL, "mmap: EINVAL (shim: 64 KiB pages)")
    return _real_mmap(addr, length, prot, flags, fd, offset)


def _munmap_efault(addr: int, length: int) -> None:
    if addr % libc.PAGE_SIZE:
        raise OSError(errno.EFAULT, "munmap: EFAULT (shim: wrong errno)")
    _real_munmap(addr, length)


def install(kind: str) -> None:
    """Replace the libc calls ``kind`` names; raise ValueError for an unknown kind."""
    patches: dict[str, Any] = {
        "unaligned-offsets-accepted": {"mmap": _mmap_rounding},
        "page-size-64k": {"mmap": _mmap_64k, "PAGE_SIZE": 65536},
        "wrong-errno": {"munmap": _munmap_efault},
    }
    if kind not in patches:
        raise ValueError(f"{SHIM_ENV}={kind!r} is not one of {KINDS}")
    for name, value in patches[kind].items():
        setattr(libc, name, value)


if os.environ.get(SHIM_ENV):
    install(os.environ[SHIM_ENV])
