"""The facts about the platform that the man pages leave to the architecture.

mmap(2) says that whether ``PROT_WRITE`` implies ``PROT_READ`` depends on the
hardware (it does on x86), and pkeys(7) that an x86 kernel with protection
keys turns ``PROT_EXEC``-only mappings into execute-only memory.  These facts
are read from the documented sources (``uname``, ``/proc/cpuinfo``, the mount
flags), never by probing the behaviour the model is there to check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from helpers.platform import data_filesystem_type, filesystem_type, has_writeback

#: Architectures whose MMU cannot make a page writable but not readable.
_WRITE_IMPLIES_READ = ("x86_64", "i386", "i486", "i586", "i686", "aarch64", "arm",
                       "riscv64", "s390x", "ppc64le", "ppc64", "loongarch64")
#: Highest user address (bytes) for the common layouts; larger lengths cannot fit.
_USER_SPACE = {"x86_64": 1 << 47, "aarch64": 1 << 48, "riscv64": 1 << 47}


@dataclass(frozen=True)
class Platform:
    """What the model needs to know about the machine to predict one outcome per step."""

    page_size: int = 4096
    write_implies_read: bool = True
    exec_implies_read: bool = True
    #: ``si_code`` of a read of an execute-only page when exec does not imply read.
    exec_only_si_code: str = "SEGV_ACCERR"
    user_space_bytes: int = 1 << 47
    #: Kinds of object (``"file"``, ``"shm"``) whose file system is mounted noexec.
    noexec: frozenset[str] = field(default_factory=frozenset)
    #: Kinds of object whose file system writes dirty pages back (and then zeroes
    #: the bytes past end of file in the last page, at a moment nobody controls).
    writeback: frozenset[str] = frozenset({"file"})
    #: File system types holding each kind's data (an overlay's upper layer), for the report.
    filesystems: tuple[tuple[str, str], ...] = ()


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _noexec(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_NOEXEC)
    except OSError:
        return False


def detect(file_dir: str, shm_dir: str = "/dev/shm") -> Platform:
    """Return the facts for this machine, with regular files kept in ``file_dir``."""
    machine = os.uname().machine
    exec_only = machine in ("x86_64", "i686") and "ospke" in _cpu_flags()
    # Pages of an overlay file are its upper layer's: that filesystem decides writeback.
    file_fs = data_filesystem_type(file_dir) or filesystem_type(file_dir) or "unknown"
    shm_fs = data_filesystem_type(shm_dir) or filesystem_type(shm_dir) or "unknown"
    return Platform(
        page_size=os.sysconf("SC_PAGE_SIZE"),
        write_implies_read=machine in _WRITE_IMPLIES_READ,
        exec_implies_read=not exec_only,
        exec_only_si_code="SEGV_PKUERR" if exec_only else "SEGV_ACCERR",
        user_space_bytes=_USER_SPACE.get(machine, 1 << 47),
        noexec=frozenset(k for k, d in (("file", file_dir), ("shm", shm_dir)) if _noexec(d)),
        writeback=frozenset(k for k, fs in (("file", file_fs), ("shm", shm_fs))
                            if has_writeback(fs)),
        filesystems=(("file", file_fs), ("shm", shm_fs)),
    )
