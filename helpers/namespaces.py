"""A private mount namespace and a small tmpfs inside it, for one probe child.

Fault checks need filesystems that fill up after a few pages and mounts with
options such as ``noexec``; making them on the host would change the machine
the suite runs on.  Instead a probe child detaches itself from the host's
mounts (``unshare(CLONE_NEWNS)`` as root; ``unshare(CLONE_NEWUSER |
CLONE_NEWNS)`` with a one-id map otherwise), makes every mount it inherited
private so nothing it mounts propagates back, and mounts its tmpfs over an
empty directory it was given.  When the child exits, the namespace and the
mount vanish with it, even if the child died by ``SIGBUS``; the directory on
the host stays empty, and its owner removes it.

The calls go through :mod:`helpers.libc` because ``os.unshare`` arrived
only in Python 3.12 and Python has no ``mount`` at all.  Everything here
refuses to run outside an isolated child: entering a namespace in the test
process itself would move pytest off the host's mounts for the rest of the
run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from helpers import libc
from helpers.isolate import in_child
from helpers.libc import errno_name

# Linux UAPI values (sched.h, mount.h); the same on every architecture.
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

class NamespaceRefused(Exception):
    """The platform refused a step of making the private mount; the check is skipped.

    ``step`` names the call (``"unshare(CLONE_NEWNS)"``), ``errno`` its error
    by name.  This is a missing privilege or a disabled feature of this run,
    not a fault of the platform under test.
    """

    def __init__(self, step: str, errno: str | None) -> None:
        self.step = step
        self.errno = errno
        super().__init__(f"{step} failed with {errno}")


def _refusal(step: str, exc: OSError) -> NamespaceRefused:
    return NamespaceRefused(step, errno_name(exc))


def _require_child() -> None:
    if not in_child():
        raise RuntimeError("helpers.namespaces must run inside an isolated probe child "
                           "(helpers.isolate.run): it would move this process off the "
                           "host's mounts")


def map_ids(uid: int, gid: int) -> None:
    """Map root in the new user namespace to the caller's ids, as unprivileged code may.

    Only those ids are mapped and ``setgroups`` is denied, as in
    ``unshare --map-root-user`` or a rootless container with one id.
    """
    with open("/proc/self/setgroups", "w") as handle:  # required before gid_map
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"0 {gid} 1")


def enter_private_mount_namespace() -> str:
    """Return how this child left the host's mounts: ``"mount"`` or ``"user+mount"``.

    Root (with ``CAP_SYS_ADMIN``) needs only a new mount namespace; anyone
    else, or root in a container that withholds ``CAP_SYS_ADMIN``, needs a
    user namespace first.  Every inherited mount is then made private
    (``MS_REC | MS_PRIVATE`` on ``/``): without that, a mount under a shared
    parent would propagate to the host.  Raises :class:`NamespaceRefused`
    when neither way is allowed.
    """
    _require_child()
    uid, gid = os.getuid(), os.getgid()
    how = "mount"
    try:
        libc.unshare(CLONE_NEWNS)
    except OSError as first:
        if errno_name(first) not in ("EPERM", "EINVAL"):
            raise _refusal("unshare(CLONE_NEWNS)", first) from first
        try:
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
        except OSError as exc:
            raise _refusal("unshare(CLONE_NEWUSER|CLONE_NEWNS)", exc) from exc
        try:
            map_ids(uid, gid)
        except OSError as exc:
            raise _refusal("writing /proc/self/uid_map", exc) from exc
        how = "user+mount"
    try:
        libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    except OSError as exc:
        raise _refusal("mount(/, MS_REC|MS_PRIVATE)", exc) from exc
    return how


def mount_tmpfs(target: str, *, size: int, noexec: bool = False) -> None:
    """Mount a tmpfs of ``size`` bytes (rounded up to pages by the kernel) on ``target``.

    Call only after :func:`enter_private_mount_namespace`.  ``noexec`` adds
    ``MS_NOEXEC``; ``nosuid`` and ``nodev`` are always set because nothing
    here needs them.  Raises :class:`NamespaceRefused` when mounting is not
    allowed, OSError for any other failure.
    """
    _require_child()
    flags = MS_NOSUID | MS_NODEV | (MS_NOEXEC if noexec else 0)
    options = f"size={size},mode=0700".encode()
    try:
        libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", flags, options)
    except OSError as exc:
        if errno_name(exc) == "EPERM":
            raise _refusal(f"mount(tmpfs, size={size})", exc) from exc
        raise


def unmount(target: str) -> None:
    """Detach the mount on ``target`` (lazily, so open files do not block it)."""
    libc.umount2(os.fsencode(target), MNT_DETACH)


@contextlib.contextmanager
def small_tmpfs(mount_point: str, *, size: int, noexec: bool = False) -> Iterator[str]:
    """Yield ``mount_point`` with a private tmpfs of ``size`` bytes mounted on it.

    ``mount_point`` must be an existing empty directory; its owner (the
    check) removes it afterwards.  The mount is undone on exit; if the child
    dies first, the namespace takes the mount with it.
    """
    enter_private_mount_namespace()
    mount_tmpfs(mount_point, size=size, noexec=noexec)
    try:
        yield mount_point
    finally:
        unmount(mount_point)


def mounted_at(path: str, mounts: str = "/proc/self/mounts") -> list[str]:
    """Return the lines of ``mounts`` whose mount point is ``path``."""
    with open(mounts) as handle:
        return [line.rstrip("\n") for line in handle
                if len(line.split()) > 1 and line.split()[1] == path]
