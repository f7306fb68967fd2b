"""Probes that exercise the isolated runner itself (used by its self-tests and benchmark)."""

from __future__ import annotations

import os
import time

from helpers import libc
from helpers.isolate import child, note


def noop() -> None:
    """Return None at once: the runner's fixed cost."""


def echo(*args: object, **kwargs: object) -> dict[str, object]:
    """Return the arguments received, to prove they arrive intact."""
    return {"args": list(args), "kwargs": kwargs}


def touch_empty_file_mapping(path: str) -> None:
    """Map an empty file for one page and load its first byte: SIGBUS (BUS_ADRERR)."""
    fd = os.open(path, os.O_RDONLY)
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    note(base=addr)
    libc.load(addr + 8)


def segv_after_munmap() -> None:
    """Touch a page just unmapped: SIGSEGV (SEGV_MAPERR)."""
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.munmap(addr, libc.PAGE_SIZE)
    note(base=addr)
    libc.load(addr)


def hang() -> None:
    """Never return: the runner must kill it at its timeout."""
    while True:
        time.sleep(3600)


def hang_with_grandchild() -> None:
    """Fork a grandchild that hangs too, then hang: both must be killed."""
    pid = os.fork()
    if pid:
        note(grandchild=pid)
    while True:
        time.sleep(3600)


def raise_oserror() -> None:
    """Raise ENOENT from a real call."""
    os.open("/nonexistent-mmapcheck/x", os.O_RDONLY)


def exit_with(code: int) -> None:
    """End the child with ``os._exit(code)`` and no result."""
    os._exit(code)


def send_garbage() -> None:
    """Write a line that is not JSON on the result pipe, then return."""
    assert child._result_fd is not None
    os.write(child._result_fd, b"\x00not json\n")


def not_json() -> object:
    """Return a value JSON cannot carry."""
    return {1, 2}


def kill_server() -> None:
    """Kill the fork server (our parent): the caller must get an error, not a hang."""
    os.kill(os.getppid(), 9)
    time.sleep(5)


def rlimit_as() -> list[int]:
    """Return the RLIMIT_AS the child runs under."""
    import resource

    return list(resource.getrlimit(resource.RLIMIT_AS))


def process_group() -> dict[str, int]:
    """Return the child's pid and process group id."""
    return {"pid": os.getpid(), "pgid": os.getpgid(0)}


def refuse_setup(why: str) -> None:
    """Raise ``SetupRefused(why)``, as a probe whose own setup step was refused does."""
    raise child.SetupRefused(why)


def refused_step(why: str) -> dict[str, str]:
    """Return one step that ran and one whose setup was refused (``SetupRefused.as_value``)."""
    return {"ran": "EACCES", "refused": child.SetupRefused(why).as_value()}


def raise_hard_limit_unprivileged() -> None:
    """Without CAP_SYS_RESOURCE, lower RLIMIT_MEMLOCK's hard limit, then try to raise it back.

    The second step is what ``ulimit -Hl`` below a probe's limit makes the
    runner do: refused with EPERM, as ``SetupRefused``.
    """
    from helpers.probes.faults_privilege import drop_capability, has_capability

    if has_capability("CAP_SYS_RESOURCE"):
        drop_capability("CAP_SYS_RESOURCE")
    child.set_rlimit("RLIMIT_MEMLOCK", 0, 0)
    child.set_rlimit("RLIMIT_MEMLOCK", 1 << 16, 1 << 16)


def become_nobody_as_namespace_root() -> int:
    """Enter a user namespace that maps only root (to this child's ids), then become nobody.

    That is ``unshare --map-root-user``: ``setgroups`` is denied and uid
    65534 is not mapped, so :func:`~helpers.probes.faults_privilege.become_user`
    must raise ``SetupRefused``.  Raises OSError where user namespaces are refused.
    """
    from helpers import namespaces
    from helpers.probes.faults_privilege import become_user

    uid, gid = os.getuid(), os.getgid()
    libc.unshare(namespaces.CLONE_NEWUSER)
    namespaces.map_ids(uid, gid)
    return become_user()


def capability_as_namespace_root(name: str) -> dict[str, bool]:
    """Enter a user namespace that maps root to this child; return whether ``name`` counts.

    ``effective``: the bit in ``CapEff`` (full for root of a new namespace);
    ``over_machine``: whether it lifts the kernel's checks, which it does
    only in the initial user namespace.  Raises OSError where user
    namespaces are refused.
    """
    from helpers import namespaces
    from helpers.probes.faults_privilege import has_capability, holds_over_machine

    uid, gid = os.getuid(), os.getgid()
    libc.unshare(namespaces.CLONE_NEWUSER)
    namespaces.map_ids(uid, gid)
    return {"effective": has_capability(name), "over_machine": holds_over_machine(name)}


def lock_a_page_without_privilege() -> dict[str, object]:
    """Give up CAP_IPC_LOCK and CAP_SYS_RESOURCE, make room to lock a page, and lock one.

    The runner's ``rlimits`` set the limit first; returns the soft limit
    after :func:`~helpers.probes.faults_privilege.allow_locking` and the
    ``mlock`` result, or raises ``SetupRefused`` where the hard limit is too low.
    """
    import resource

    from helpers.probes.faults_privilege import allow_locking, drop_capability, has_capability

    for name in ("CAP_IPC_LOCK", "CAP_SYS_RESOURCE"):
        if has_capability(name):
            drop_capability(name)
    allow_locking(libc.PAGE_SIZE)
    addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ | libc.PROT_WRITE,
                     libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    libc.mlock(addr, libc.PAGE_SIZE)
    return {"soft": resource.getrlimit(resource.RLIMIT_MEMLOCK)[0], "mlock": "ok"}
