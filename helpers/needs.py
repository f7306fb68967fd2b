"""Declared needs of a check, each answered by looking, never by trying and failing.

A check says ``@pytest.mark.needs("sysv_shm", "root")``; before it runs the
plugin asks :func:`unmet` and, if something is missing, the check ends as
``unsupported`` (the platform lacks the feature: kernel, filesystem,
architecture) or ``skipped`` (this run lacks a privilege or resource), with the
reason.  The list of needs is closed (:data:`helpers.catalogue.NEEDS`) so a
typo is an error, not a silent skip.
"""

from __future__ import annotations

import enum
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import libc
from helpers.catalogue import NEEDS
from helpers.platform import privileged, user_namespaces_allowed


class Missing(enum.StrEnum):
    """Why a need is not met: the platform cannot, or this run may not."""

    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Unmet:
    """A need that is not met, and why."""

    need: str
    kind: Missing
    reason: str

    def __str__(self) -> str:
        return f"{self.kind.value}: needs {self.need}: {self.reason}"


def _root() -> Unmet | None:
    """Root's powers over the whole machine: CAP_SYS_ADMIN in the initial user namespace.

    That is what page frame numbers in /proc/pid/pagemap ask for; euid 0 in
    a user namespace (a rootless container) reads them as zero.
    """
    if privileged():
        return None
    if os.geteuid() == 0:
        return Unmet("root", Missing.SKIPPED, "euid is 0 only inside a user namespace: the run "
                     "holds no CAP_SYS_ADMIN in the initial user namespace")
    return Unmet("root", Missing.SKIPPED, "the run is not privileged: no CAP_SYS_ADMIN in the "
                 "initial user namespace (page frame numbers read as zero)")


def _posix_shm() -> Unmet | None:
    if not libc.available("shm_open"):
        return Unmet("posix_shm", Missing.UNSUPPORTED, "the C library has no shm_open")
    if sys.platform == "linux" and not os.path.isdir("/dev/shm"):
        return Unmet("posix_shm", Missing.UNSUPPORTED, "/dev/shm is not mounted")
    return None


def _sysv_shm() -> Unmet | None:
    if not libc.available("shmget"):
        return Unmet("sysv_shm", Missing.UNSUPPORTED, "the C library has no shmget")
    if sys.platform == "linux" and not os.path.exists("/proc/sys/kernel/shmmax"):
        return Unmet("sysv_shm", Missing.UNSUPPORTED, "the kernel has no System V IPC")
    return None


def _memfd() -> Unmet | None:
    if hasattr(os, "memfd_create"):
        return None
    return Unmet("memfd", Missing.UNSUPPORTED, "os.memfd_create is missing")


def _user_namespace() -> Unmet | None:
    if sys.platform != "linux":
        return Unmet("user_namespace", Missing.UNSUPPORTED, "namespaces are Linux-only")
    if not user_namespaces_allowed():
        return Unmet("user_namespace", Missing.SKIPPED, "user namespaces are disabled here")
    return None


def _hugetlb() -> Unmet | None:
    for line in Path("/proc/meminfo").read_text().splitlines() if sys.platform == "linux" else []:
        if line.startswith("HugePages_Free:") and int(line.split()[1]) > 0:
            return None
    if "hugetlbfs" not in (Path("/proc/filesystems").read_text()
                           if os.path.exists("/proc/filesystems") else ""):
        return Unmet("hugetlb", Missing.UNSUPPORTED, "the kernel has no hugetlbfs")
    return Unmet("hugetlb", Missing.SKIPPED, "no free huge pages are reserved "
                 "(root can reserve some: /proc/sys/vm/nr_hugepages)")


def _dax() -> Unmet | None:
    mounts = Path("/proc/self/mounts").read_text() if sys.platform == "linux" else ""
    if any("dax" in line.split()[3] for line in mounts.splitlines() if len(line.split()) > 3):
        return None
    return Unmet("dax", Missing.UNSUPPORTED, "no filesystem is mounted with DAX")


def _ptrace() -> Unmet | None:
    if libc.available("ptrace"):
        return None
    return Unmet("ptrace", Missing.UNSUPPORTED, "the C library has no ptrace")


def _proc_pagemap() -> Unmet | None:
    if not os.path.exists("/proc/self/pagemap"):
        return Unmet("proc_pagemap", Missing.UNSUPPORTED, "/proc/self/pagemap is missing")
    return None  # present bits need no privilege; frame numbers need "root" as well


def _dev_zero() -> Unmet | None:
    if os.path.exists("/dev/zero"):
        return None
    return Unmet("dev_zero", Missing.UNSUPPORTED, "/dev/zero does not exist")


def _compiler() -> Unmet | None:
    if shutil.which("cc") or shutil.which("gcc"):
        return None
    return Unmet("compiler", Missing.SKIPPED, "no C compiler (cc or gcc) on PATH")


_CHECKERS: dict[str, Callable[[], Unmet | None]] = {
    "root": _root, "posix_shm": _posix_shm, "sysv_shm": _sysv_shm, "memfd": _memfd,
    "user_namespace": _user_namespace, "hugetlb": _hugetlb, "dax": _dax, "ptrace": _ptrace,
    "proc_pagemap": _proc_pagemap, "dev_zero": _dev_zero, "compiler": _compiler,
}
assert set(_CHECKERS) == set(NEEDS), "every declared need has a checker"


def unmet(*needs: str) -> list[Unmet]:
    """Return the needs among ``needs`` this run does not meet; raise on an unknown need."""
    unknown = [n for n in needs if n not in _CHECKERS]
    if unknown:
        raise ValueError(f"unknown need(s) {unknown}; the closed list is {sorted(_CHECKERS)}")
    if sys.platform != "linux":
        return [Unmet(n, Missing.UNSUPPORTED, f"mmapcheck tests Linux; this is {sys.platform}")
                for n in needs] or []
    return [result for need in needs if (result := _CHECKERS[need]()) is not None]
