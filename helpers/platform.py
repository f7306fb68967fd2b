"""The platform fingerprint: what a report's verdicts were measured on.

A verdict about mmap is only meaningful with the kernel, architecture, page
size, libc, Python, the filesystems the files lived on, the privileges the run
had and whether it ran in a container.  Everything here is read, never
changed, and every probe that cannot be answered gives None rather than a
guess.
"""

from __future__ import annotations

import os
import platform as _stdlib_platform
import re
import socket
import sys
from pathlib import Path
from typing import Any

#: Effective capabilities that change what the checks can do.
_CAPS = {0: "CAP_CHOWN", 7: "CAP_SETUID", 11: "CAP_NET_BIND_SERVICE", 14: "CAP_IPC_LOCK",
         15: "CAP_IPC_OWNER", 19: "CAP_SYS_PTRACE", 21: "CAP_SYS_ADMIN",
         24: "CAP_SYS_RESOURCE"}


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


#: Filesystems that keep file pages only in memory: nothing is ever written back, so
#: "dirty until msync" and "on disk after msync" cannot be observed on them.
NO_WRITEBACK = frozenset({"tmpfs", "ramfs", "hugetlbfs", "devtmpfs"})
#: Inode numbers the kernel gives its initial namespaces (include/linux/proc_ns.h).
_INITIAL_NAMESPACE = {"user": 0xEFFFFFFD, "pid": 0xEFFFFFFC, "ipc": 0xEFFFFFFF}
_CAP_SYS_ADMIN = 21


def _unescape(field: str) -> str:
    """Undo the octal escapes of /proc/self/mountinfo (``\\040`` for a space)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_of(path: str) -> dict[str, Any] | None:
    """Return the mount ``path`` lives on: mount point, type, source and all its options.

    Read from /proc/self/mountinfo (the deepest mount point containing the
    path); the options are the mount's own and its superblock's, as
    ``mount`` would print them.  None where there is no mountinfo.
    """
    mountinfo = _read("/proc/self/mountinfo")
    if mountinfo is None:
        return None
    target = os.path.realpath(path)
    best: dict[str, Any] | None = None
    for line in mountinfo.splitlines():
        head, _, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if len(fields) < 6 or len(rest) < 2:
            continue
        point = _unescape(fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best["mount_point"])):
            options = fields[5].split(",")
            options += [o for o in (rest[2].split(",") if len(rest) > 2 else [])
                        if o not in options]
            best = {"mount_point": point, "type": rest[0], "source": _unescape(rest[1]),
                    "device": fields[2], "options": options}
    return best


def filesystem_type(path: str) -> str | None:
    """Return the type of the filesystem ``path`` lives on (``"tmpfs"``)."""
    mount = mount_of(path)
    return mount["type"] if mount else None


def _option(options: list[str], name: str) -> str | None:
    """Return the value of mount option ``name=value`` in ``options`` (None: absent)."""
    prefix = name + "="
    return next((_unescape(o[len(prefix):]) for o in options if o.startswith(prefix)), None)


#: Overlays stacked on overlays deeper than this are not followed (a loop is a broken table).
_MAX_LAYERS = 8


def data_mount_of(path: str) -> dict[str, Any] | None:
    """Return the mount whose filesystem holds the data written to files under ``path``.

    For most mounts that is the mount itself.  An overlay keeps no data of its
    own: a file created or written through it lives in its upper layer, and
    its pages are that filesystem's pages (an overlay over tmpfs never writes
    back, like tmpfs).  Neither ``stat`` nor ``statfs`` of the overlay file
    tells the upper layer's type (``statfs`` answers with the overlay's magic,
    ``st_dev`` is a pseudo device), so the layer is found from the overlay's
    ``upperdir=`` superblock option.  None when that cannot be resolved: a
    read-only overlay (no upper layer), or an upper directory that this mount
    namespace cannot see (a container's overlay, made on the host).
    """
    mount = mount_of(path)
    for _ in range(_MAX_LAYERS):
        if mount is None or mount["type"] != "overlay":
            return mount
        upper = _option(mount["options"], "upperdir")
        if upper is None or not os.path.isdir(upper):
            return None
        below = mount_of(upper)
        if below is None or below["device"] == mount["device"]:
            return None  # the path resolves back into the overlay: not the real layer
        mount = below
    return None


def data_filesystem_type(path: str) -> str | None:
    """Return the type of the filesystem holding the data of files under ``path``.

    The type of the mount itself, or for an overlay its upper layer's
    (:func:`data_mount_of`); None when that cannot be told.
    """
    mount = data_mount_of(path)
    return mount["type"] if mount else None


def describe_filesystem(path: str) -> str:
    """Return ``tmpfs``, or ``overlay (upper layer on tmpfs)``, for messages and instances."""
    fs = filesystem_type(path) or "an unknown filesystem"
    if fs != "overlay":
        return fs
    data = data_filesystem_type(path)
    return f"overlay (upper layer on {data or 'an unknown filesystem'})"


#: tmpfs huge page policies under which a file's pages become huge pages without madvise:
#: the mount's ``huge=always`` and ``huge=within_size`` (for the part inside the file's
#: size), and the system-wide ``force`` of shmem_enabled.
HUGE_WITHOUT_ADVICE = frozenset({"always", "within_size", "force"})
_THP = "/sys/kernel/mm/transparent_hugepage"


def _shmem_enabled() -> str | None:
    """Return the selected word of ``shmem_enabled`` (``[never]`` -> ``never``)."""
    text = _read(f"{_THP}/shmem_enabled") or ""
    found = re.search(r"\[(\w+)\]", text)
    return found.group(1) if found else None


def huge_pages(path: str) -> str | None:
    """Return the huge page policy of the tmpfs holding ``path``'s data (``never``, ``always``).

    The mount's ``huge=`` option (``never`` when absent), unless the
    system-wide ``shmem_enabled`` is ``force`` or ``deny``, which override
    every mount (transhuge.rst).  None where the data is not on tmpfs.
    """
    mount = data_mount_of(path)
    if mount is None or mount["type"] != "tmpfs":
        return None
    system = _shmem_enabled()
    if system in ("force", "deny"):
        return system
    return _option(mount["options"], "huge") or "never"


def huge_page_bytes(path: str) -> int | None:
    """Return the size of the huge pages files under ``path`` may be mapped with, or None.

    Where tmpfs allocates huge pages (:data:`HUGE_WITHOUT_ADVICE`) the page
    that holds end of file is a huge page, so what mmap(2) says of "the page"
    (bytes past EOF up to its end are accessible, SIGBUS only beyond it)
    holds for that huge page, and touching one byte brings in the whole of
    it.  Allocation may still fall back to small pages, so a check accepts
    either unit.
    """
    if huge_pages(path) not in HUGE_WITHOUT_ADVICE:
        return None
    size = _read(f"{_THP}/hpage_pmd_size")
    return int(size) if size and size.strip().isdigit() else None


def has_writeback(fs_type: str | None) -> bool:
    """Return whether files on ``fs_type`` have a backing store that dirty pages go to."""
    return fs_type not in NO_WRITEBACK


def writes_back(path: str) -> bool:
    """Return whether the filesystem holding ``path``'s data writes dirty pages to a backing store.

    Where it does not (tmpfs, ramfs, or an overlay whose upper layer is one of
    them) nothing is written back, and the tail of a file's last page is never
    zeroed either: the known tail-bytes deviation.  An overlay whose upper
    layer cannot be resolved is taken to write back, as most upper layers do.
    """
    return has_writeback(data_filesystem_type(path) or filesystem_type(path))


def _capabilities() -> list[str] | None:
    status = _read("/proc/self/status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            mask = int(line.split()[1], 16)
            return [name for bit, name in sorted(_CAPS.items()) if mask >> bit & 1]
    return None


def container() -> dict[str, Any]:
    """Return the container kind this process seems to run in, with the hints seen."""
    hints: list[str] = []
    kind = None
    if os.path.exists("/.dockerenv"):
        kind, hints = "docker", [*hints, "/.dockerenv exists"]
    if os.path.exists("/run/.containerenv"):
        kind, hints = "podman", [*hints, "/run/.containerenv exists"]
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        kind, hints = "kubernetes", [*hints, "KUBERNETES_SERVICE_HOST is set"]
    if (env := _read("/proc/1/environ")) and "container=" in env:
        value = env.split("container=", 1)[1].split("\0", 1)[0]
        kind = kind or value
        hints.append(f"pid 1 has container={value}")
    release = os.uname().release.lower()
    if "microsoft" in release or "wsl" in release:
        kind, hints = kind or "wsl", [*hints, "kernel release names WSL"]
    cgroup = _read("/proc/self/cgroup") or ""
    for word in ("docker", "kubepods", "lxc", "libpod"):
        if word in cgroup:
            hints.append(f"cgroup path mentions {word}")
    if kind not in (None, "wsl") and in_container() is False:
        # Files left by an image build prove nothing: the PID namespace is the host's.
        hints.append(f"not a {kind} container: the PID namespace is the initial one")
        kind = None
    return {"kind": kind, "hints": hints}


def _hugepages() -> dict[str, int | None]:
    info = {"total": None, "free": None, "size_kb": None}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key == "HugePages_Total":
            info["total"] = int(value.split()[0])
        elif key == "HugePages_Free":
            info["free"] = int(value.split()[0])
        elif key == "Hugepagesize":
            info["size_kb"] = int(value.split()[0])
    return info


def _os_release() -> str | None:
    for line in (_read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def _namespace_inode(kind: str) -> int | None:
    try:
        return os.stat(f"/proc/self/ns/{kind}").st_ino
    except OSError:
        return None


def in_initial_namespace(kind: str) -> bool | None:
    """Return whether this process is in the initial ``kind`` namespace (None: unknown)."""
    inode = _namespace_inode(kind)
    return None if inode is None else inode == _INITIAL_NAMESPACE[kind]


def capable(capability: int) -> bool:
    """Return whether this process holds capability number ``capability`` over the whole machine.

    That is the kernel's ``capable()``: the capability is effective and the
    process is in the initial user namespace.  euid 0 inside a user
    namespace (a rootless container, ``unshare --map-root-user``) has a full
    effective set that counts only over that namespace: its CAP_IPC_LOCK
    does not lift ``RLIMIT_MEMLOCK``, its CAP_SYS_ADMIN reads no page frame
    numbers.
    """
    status = _read("/proc/self/status") or ""
    mask = next((int(line.split()[1], 16) for line in status.splitlines()
                 if line.startswith("CapEff:")), 0)
    return bool(mask >> capability & 1) and in_initial_namespace("user") is True


def privileged() -> bool:
    """Return whether the run holds CAP_SYS_ADMIN in the initial user namespace.

    That is what the kernel asks of a reader of page frame numbers, of
    ``drop_caches`` and of most mounts (see :func:`capable`).
    """
    return capable(_CAP_SYS_ADMIN)


def in_container() -> bool | None:
    """Return whether the run is in a PID namespace other than the initial one."""
    initial = in_initial_namespace("pid")
    return None if initial is None else not initial


def _sysv_shm() -> dict[str, Any]:
    """Return where System V segments live: the IPC namespace's internal shm mount and limits.

    Segments are backed by the kernel's own tmpfs (shmem) mount, which no
    mount table lists; its limits and namespace are what differ between runs.
    """
    limits = {}
    for name in ("shmmax", "shmall", "shmmni"):
        value = _read(f"/proc/sys/kernel/{name}")
        limits[name] = int(value) if value and value.strip().isdigit() else None
    return {"type": "tmpfs" if os.path.exists("/proc/sysvipc/shm") else None,
            "mount_point": None, "source": "kernel-internal shmem mount",
            "options": [], "limits": limits,
            "initial_ipc_namespace": in_initial_namespace("ipc")}


def noexec(path: str) -> bool | None:
    """Return whether ``path`` is on a mount that forbids exec (None: cannot be told).

    Read from statvfs's ``ST_NOEXEC``, the flag the kernel itself checks when
    mmap asks for ``PROT_EXEC`` (EPERM) and when a program is run (EACCES).
    """
    try:
        return bool(os.statvfs(path).f_flag & os.ST_NOEXEC)
    except OSError:
        return None


def _location(path: str) -> dict[str, Any]:
    """Return ``path``, its mount, whether it is ``noexec``, and where its files' data lives.

    ``upper`` is the mount of an overlay's upper layer (None where it cannot
    be resolved); ``data_type`` is the type of the filesystem that holds the
    data, the mount's own type for anything but an overlay.
    """
    mount = mount_of(path) or {}
    data = data_mount_of(path)
    place: dict[str, Any] = {"path": path, **mount, "noexec": noexec(path),
                             "huge": huge_pages(path),
                             "data_type": data["type"] if data else None}
    if mount.get("type") == "overlay":
        place["upper"] = data
    return place


def locations(scratch: str | None = None) -> dict[str, dict[str, Any] | None]:
    """Return, for every place the checks put memory or files, its path and mount."""
    from helpers import scratch as scratch_module

    where = scratch or scratch_module.directory()
    return {"scratch": _location(where),
            "posix_shm": _location("/dev/shm") if os.path.isdir("/dev/shm") else None,
            "sysv_shm": _sysv_shm() if sys.platform == "linux" else None}


def user_namespaces_allowed() -> bool:
    """Return whether unprivileged user namespaces look enabled (without creating one)."""
    limit = _read("/proc/sys/user/max_user_namespaces")
    if limit is not None and limit.strip() == "0":
        return False
    restrict = _read("/proc/sys/kernel/unprivileged_userns_clone")
    return not (restrict is not None and restrict.strip() == "0" and os.geteuid() != 0)


def fingerprint(scratch: str | None = None) -> dict[str, Any]:
    """Return the fingerprint of this host and interpreter as JSON-able data.

    ``scratch`` is the directory the checks' files live in (default: the
    run's scratch directory).  ``locations`` records the mount of it, of
    /dev/shm and of System V shm; ``scratch_fs``, ``shm_fs``, their
    ``*_data_fs`` (the filesystem holding the files' data: an overlay's upper
    layer), ``scratch_noexec``, ``shm_noexec``, ``scratch_huge``,
    ``shm_huge`` (tmpfs's huge page policy), ``privileged`` and
    ``in_container`` are the facts the catalogue's conditions name
    beside those read from the other keys (``reports.facts``).
    """
    uname = os.uname()
    libc_name, libc_version = _stdlib_platform.libc_ver()
    places = locations(scratch)
    return {
        "hostname": socket.gethostname(),
        "system": uname.sysname,
        "kernel_release": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "libc": {"name": libc_name or None, "version": libc_version or None},
        "python": {"implementation": sys.implementation.name,
                   "version": _stdlib_platform.python_version(),
                   "executable": sys.executable},
        "os_release": _os_release(),
        "filesystems": {name: place.get("type") for name, place in places.items() if place},
        "locations": places,
        "scratch_fs": (places["scratch"] or {}).get("type"),
        "shm_fs": (places["posix_shm"] or {}).get("type"),
        "scratch_data_fs": (places["scratch"] or {}).get("data_type"),
        "shm_data_fs": (places["posix_shm"] or {}).get("data_type"),
        "scratch_noexec": (places["scratch"] or {}).get("noexec"),
        "shm_noexec": (places["posix_shm"] or {}).get("noexec"),
        "scratch_huge": (places["scratch"] or {}).get("huge"),
        "shm_huge": (places["posix_shm"] or {}).get("huge"),
        "privileged": privileged(),
        "in_container": in_container(),
        "euid": os.geteuid(),
        "capabilities": _capabilities(),
        "container": container(),
        "cpu_count": os.cpu_count(),
        "hugepages": _hugepages(),
        "user_namespaces": user_namespaces_allowed(),
    }
