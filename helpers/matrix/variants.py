"""The platform variants a matrix run can make, what each needs and how each is made.

A variant is made for one run of the checks and undone after it: loop
mounts and the huge page reservation through the :class:`Workspace` (so
they are undone even after a crash), namespaces by the ``unshare(1)`` that
wraps the run (they vanish with its last process).  A variant this machine
or this user cannot make is *left out* with the reason, never faked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.matrix.workspace import Workspace
from helpers.platform import privileged, user_namespaces_allowed

#: Sizes of the loop images: the smallest each mkfs accepts comfortably (sparse files).
IMAGE_MB = {"ext4": 128, "xfs": 300, "btrfs": 256}
HUGE_PAGES = 8
SHM_SIZE = "64m"  # what a container engine gives /dev/shm by default (64 MiB)
#: Directories mkfs lives in when an ordinary user's PATH lacks them.
_SBIN = ("/usr/sbin", "/sbin")


class LeftOut(Exception):
    """This machine or this user cannot make the variant; the message says why."""


@dataclass(frozen=True)
class Made:
    """A variant made: the command prefix that enters it and its scratch directory."""

    wrapper: list[str] = field(default_factory=list)
    scratch: str | None = None


@dataclass(frozen=True)
class Variant:
    """One platform variant.  ``depends_on`` None: every check runs there."""

    name: str
    description: str
    depends_on: tuple[str, ...] | None
    make: Callable[[Workspace], Made]


def _filesystems() -> set[str]:
    try:
        return {line.split()[-1] for line in Path("/proc/filesystems").read_text().splitlines()}
    except OSError:
        return set()


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))
    if found is None:
        raise LeftOut(f"{name} is not installed")
    return found


def _need_root(what: str) -> None:
    if not privileged():
        raise LeftOut(f"{what} needs CAP_SYS_ADMIN in the initial user namespace (root)")


def _loop(fs: str) -> Callable[[Workspace], Made]:
    def make(workspace: Workspace) -> Made:
        _need_root(f"loop-mounting {fs}")
        if fs not in _filesystems():
            raise LeftOut(f"the kernel has no {fs} (not in /proc/filesystems)")
        if not os.path.exists("/dev/loop-control"):
            raise LeftOut("no loop devices (/dev/loop-control is missing)")
        mkfs = _tool(f"mkfs.{fs}")
        image = workspace.path / f"{fs}.img"
        with open(image, "wb") as handle:
            handle.truncate(IMAGE_MB[fs] << 20)
        quiet = {"ext4": ["-q", "-F"], "xfs": ["-q", "-f"], "btrfs": ["-q", "-f"]}[fs]
        subprocess.run([mkfs, *quiet, str(image)], capture_output=True, check=True, timeout=120)
        point = workspace.directory(fs)
        workspace.mount(["-t", fs, "-o", "loop", str(image)], point)
        return Made(scratch=str(point))
    return make


def _unshare(*flags: str, shm: bool = False, scratch: Path | None = None) -> list[str]:
    """Return an ``unshare(1)`` prefix; inside it, mount /dev/shm and/or a scratch tmpfs."""
    unshare = _tool("unshare")
    steps = []
    if shm:
        steps.append(f"mount -t tmpfs -o size={SHM_SIZE},mode=1777,nosuid,nodev shm /dev/shm")
    if scratch is not None:
        steps.append(f"mount -t tmpfs -o size=512m,mode=1777 scratch '{scratch}'")
    script = " && ".join([*steps, 'exec "$@"'])
    return [unshare, *flags, "--mount", "--propagation", "private", "--",
            "sh", "-c", script, "sh"]


def _as_user() -> list[str]:
    """Return the flags that give an ordinary user the namespaces below, or leave out."""
    if privileged():
        return []
    if not user_namespaces_allowed():
        raise LeftOut("unprivileged user namespaces are disabled on this machine")
    return ["--user", "--map-root-user"]


def _tmpfs(workspace: Workspace) -> Made:
    point = workspace.directory("tmpfs")
    if privileged():
        workspace.mount(["-t", "tmpfs", "-o", "size=512m,mode=1777", "scratch"], point)
        return Made(scratch=str(point))
    return Made(wrapper=_unshare(*_as_user(), scratch=point), scratch=str(point))


def _container(workspace: Workspace) -> Made:
    # Scratch of its own: in a user namespace the user is "root", and directories the real
    # root owns under /tmp (pytest's among them) are not the user's.
    scratch = workspace.directory("scratch")
    return Made(wrapper=_unshare(*_as_user(), "--ipc", "--pid", "--fork", "--mount-proc",
                                 shm=True), scratch=str(scratch))


def _hugetlb(workspace: Workspace) -> Made:
    _need_root("reserving huge pages")
    if "hugetlbfs" not in _filesystems():
        raise LeftOut("the kernel has no hugetlbfs")
    free = workspace.reserve_hugepages(HUGE_PAGES)
    if free == 0:
        raise LeftOut(f"the kernel could not reserve {HUGE_PAGES} huge pages (memory too "
                      "fragmented or too small)")
    return Made()


def _host(workspace: Workspace) -> Made:
    return Made()


#: Every variant, in the order they run; the first is the full run the others refine.
VARIANTS = (
    Variant("ext4", "every check, scratch on a loop-mounted ext4", None, _loop("ext4")),
    Variant("xfs", "scratch on a loop-mounted xfs", ("scratch",), _loop("xfs")),
    Variant("btrfs", "scratch on a loop-mounted btrfs", ("scratch",), _loop("btrfs")),
    Variant("tmpfs", "scratch on a tmpfs", ("scratch",), _tmpfs),
    Variant("container", "private IPC, PID and mount namespaces with a 64 MiB /dev/shm",
            ("shm", "process"), _container),
    Variant("hugetlb", f"{HUGE_PAGES} huge pages reserved for the run", ("hugetlb",), _hugetlb),
)
#: Where an ordinary user's matrix starts: the full run on the user's own scratch.
HOST = Variant("host", "every check, scratch in the temporary directory", None, _host)


def chosen(names: list[str] | None) -> list[Variant]:
    """Return the variants named (all of them when None), in run order."""
    if not names:
        return list(VARIANTS)
    known = {v.name: v for v in (*VARIANTS, HOST)}
    if unknown := [n for n in names if n not in known]:
        raise ValueError(f"unknown variant(s) {unknown}; the variants are {sorted(known)}")
    return [known[n] for n in names]
