"""Giving up privilege inside a probe child, to show the unprivileged side of a rule.

Some limits bind only processes without a capability (``RLIMIT_MEMLOCK``
does not bind a holder of ``CAP_IPC_LOCK``).  A run as root can show both
sides: the child removes the capability from its own effective, permitted
and inheritable sets with ``capset(2)`` (it cannot get it back, and nothing
outside the child changes), then runs the unprivileged case.  Other rules
bind another user (``nobody``): the child gives up root for good.

Where the child cannot do that (a user namespace that maps no uid but its
own, or denies ``setgroups``), :func:`become_user` raises
:class:`~helpers.isolate.SetupRefused` naming the step and the errno, and the
case is ``unsupported``: a refused ``setuid`` says nothing of mmap.
"""

from __future__ import annotations

import os
import resource

from helpers import libc
from helpers.isolate import SetupRefused
from helpers.isolate.child import set_rlimit
from helpers.platform import capable

#: capability(7) numbers; the same on every architecture.
CAPABILITIES = {"CAP_DAC_OVERRIDE": 1, "CAP_IPC_LOCK": 14, "CAP_SYS_ADMIN": 21,
                "CAP_SYS_RESOURCE": 24}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: The user an unprivileged probe child becomes (``nobody`` on Linux).
NOBODY = 65534


def has_capability(name: str) -> bool:
    """Return whether this process holds capability ``name`` in its effective set."""
    bit = CAPABILITIES[name]
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def holds_over_machine(name: str) -> bool:
    """Return whether capability ``name`` lifts the kernel's checks here, not just the bit.

    Only in the initial user namespace does an effective capability lift a
    limit such as ``RLIMIT_MEMLOCK`` (:func:`helpers.platform.capable`);
    root of a rootless container has the bit and is limited all the same.
    """
    return capable(CAPABILITIES[name])


def allow_locking(nbytes: int) -> None:
    """Let this process lock ``nbytes`` more bytes, raising its soft ``RLIMIT_MEMLOCK`` if need be.

    For probes whose subject is what locked memory does (resident, kept
    across ``msync``, released by ``munmap``), not the limit: a run whose
    limit is too low (a user's default, ``ulimit -l 0``) would otherwise
    record ``mlock``'s ``EPERM``/``ENOMEM`` as the behaviour under test.
    Nothing changes for a holder of ``CAP_IPC_LOCK`` (no limit binds it);
    a hard limit below the need raises :class:`~helpers.isolate.SetupRefused`
    naming the errno (``EPERM``: raising it needs ``CAP_SYS_RESOURCE``).
    """
    if holds_over_machine("CAP_IPC_LOCK"):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    with open("/proc/self/status") as status:
        locked = next((int(line.split()[1]) * 1024 for line in status
                       if line.startswith("VmLck:")), 0)
    need = locked + nbytes
    if soft != resource.RLIM_INFINITY and soft < need:
        set_rlimit("RLIMIT_MEMLOCK", need, hard if hard == resource.RLIM_INFINITY
                   else max(hard, need))


def effective_capabilities() -> int:
    """Return this process's effective capability mask (``CapEff`` of /proc/self/status)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1], 16) for line in status if line.startswith("CapEff:"))


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


def become_user(uid: int = NOBODY) -> int:
    """Become ``uid`` for good when root (no groups, every gid and uid); return ``CapEff``.

    Does nothing to a process that is not root: it is the unprivileged one
    already.  Only a probe child may call this: the change cannot be undone.
    Raises :class:`~helpers.isolate.SetupRefused` with the step and its errno
    name (``cannot become uid 65534: setresgid failed with EINVAL (...)``)
    when the system refuses, so the check ends ``unsupported`` rather than
    observing the refusal as the result of the call it is about.
    """
    if os.geteuid() == 0:
        steps = (("setgroups", lambda: os.setgroups([])),
                 ("setresgid", lambda: os.setresgid(uid, uid, uid)),
                 ("setresuid", lambda: os.setresuid(uid, uid, uid)))
        for step, call in steps:
            try:
                call()
            except OSError as exc:
                err = libc.errno_name(exc) or type(exc).__name__
                raise SetupRefused(f"cannot become uid {uid}: {step} failed with {err}"
                                   f"{_why_refused(step, err, uid)}") from exc
    return effective_capabilities()


def _why_refused(step: str, err: str, uid: int) -> str:
    """Return why ``step`` fails with ``err`` (credentials(7), user_namespaces(7)), or ``""``."""
    if step == "setgroups" and err == "EPERM":
        try:
            with open("/proc/self/setgroups") as policy:
                denied = policy.read().strip() == "deny"
        except OSError:
            denied = False
        if denied:
            return " (this user namespace denies it: /proc/self/setgroups is 'deny')"
    if err == "EINVAL":
        kind = "gid" if step == "setresgid" else "uid"
        return f" ({kind} {uid} is not mapped in this user namespace)"
    return ""
