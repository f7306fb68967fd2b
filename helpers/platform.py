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


def filesystem_type(path: str) -> str | None:
    """Return the type of the filesystem ``path`` lives on (``"tmpfs"``), from /proc/mounts."""
    mounts = _read("/proc/self/mounts")
    if mounts is None:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type


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


def user_namespaces_allowed() -> bool:
    """Return whether unprivileged user namespaces look enabled (without creating one)."""
    limit = _read("/proc/sys/user/max_user_namespaces")
    if limit is not None and limit.strip() == "0":
        return False
    restrict = _read("/proc/sys/kernel/unprivileged_userns_clone")
    return not (restrict is not None and restrict.strip() == "0" and os.geteuid() != 0)


def fingerprint(paths: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the fingerprint of this host and interpreter as JSON-able data.

    ``paths`` names the directories the run used (``{"tmp": "/tmp/..."}``);
    the fingerprint records the filesystem type of each.
    """
    uname = os.uname()
    libc_name, libc_version = _stdlib_platform.libc_ver()
    used = {"tmp": os.environ.get("TMPDIR", "/tmp"), "shm": "/dev/shm", **(paths or {})}
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
        "filesystems": {path: filesystem_type(path) for path in used.values()
                        if os.path.exists(path)},
        "euid": os.geteuid(),
        "capabilities": _capabilities(),
        "container": container(),
        "cpu_count": os.cpu_count(),
        "hugepages": _hugepages(),
        "user_namespaces": user_namespaces_allowed(),
    }
