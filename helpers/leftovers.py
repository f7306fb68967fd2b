"""Find and remove what runs of the suite left behind.

Everything the suite creates is named ``mmapcheck-<pid>-<token>-...``
(:mod:`helpers.names`) or, for System V segments, uses a key in the suite's
range, and every process it starts inherits ``MMAPCHECK_OWNER``.  A run's
leftovers are the objects and processes carrying its owner string; a dead
run's leftovers are those whose owner pid no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import names

SHM_DIR = Path("/dev/shm")
_SYSV_KEY_MASK, _SYSV_KEY_TAG = 0xFFFF0000, 0x4D4D0000


@dataclass(frozen=True)
class Leftover:
    """One thing a run left: a file, shm object, System V segment or process."""

    kind: str  # "file", "shm", "sysv", "process"
    ident: str  # path, shm name, shmid, pid
    owner: str | None  # "<pid>-<token>" of the run, when known

    def __str__(self) -> str:
        return f"{self.kind} {self.ident} (run {self.owner or '?'})"


def _owner_of(name: str) -> str | None:
    match = names.NAME_PATTERN.match(name)
    return f"{match['pid']}-{match['token']}" if match else None


def _named(directory: Path, kind: str, owner: str | None = None) -> list[Leftover]:
    """Return the suite's entries in ``directory`` (of run ``owner`` only, when given).

    A run's directory is listed for the files inside it.  Other runs'
    entries are not opened when ``owner`` is given: on a shared machine they
    may belong to another user (mode 0700), and an entry that cannot be
    listed is reported as itself instead of ending the search.
    """
    found = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return found
    for entry in entries:
        entry_owner = _owner_of(entry.name)
        if entry_owner is None or (owner is not None and entry_owner != owner):
            continue
        inner: list[Leftover] = []
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                inner = [Leftover(kind, str(p), entry_owner) for p in entry.iterdir()]
        found.extend(inner or [Leftover(kind, str(entry), entry_owner)])
    return found


def _sysv_segments(keys: range | None = None) -> list[Leftover]:
    """Return System V segments with a key in ``keys`` (the suite's whole range when None)."""
    found = []
    with contextlib.suppress(OSError):
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            key, shmid, cpid = int(fields[0]), fields[1], int(fields[4])
            ours = key & _SYSV_KEY_MASK == _SYSV_KEY_TAG if keys is None else key in keys
            if ours:
                found.append(Leftover("sysv", shmid, f"{cpid}-?"))
    return found


def _processes(owner: str | None) -> list[Leftover]:
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir() if os.path.isdir("/proc") else []:
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for var in environ.split(b"\0"):
            if var.startswith(names.OWNER_ENV.encode() + b"="):
                value = var.split(b"=", 1)[1].decode(errors="replace")
                if owner is None or value == owner:
                    try:
                        command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    except OSError:
                        command = b"?"
                    ident = f"{entry.name} ({command.decode(errors='replace').strip()[:80]})"
                    found.append(Leftover("process", ident, value))
    return found


def settle(owner: str, timeout: float = 5.0) -> list[Leftover]:
    """Return the run's leftovers once its exiting processes had ``timeout`` s to go.

    Workers and their fork servers are still exiting when a run's last
    hook runs; a process counts as left behind only if it outlives the wait.
    The wait polls /proc, bounded, and ends as soon as nothing is left.
    """
    deadline = time.monotonic() + timeout
    found = find(owner)
    while any(f.kind == "process" for f in found) and time.monotonic() < deadline:
        time.sleep(0.05)
        found = find(owner)
    return found


def find(owner: str | None = None) -> list[Leftover]:
    """Return the leftovers of run ``owner`` (of every run when None).

    Processes are reported only for a given owner: without one, every live
    run's workers would count.  System V segments carry no run in their key;
    with an owner they are reported when their key is in the run's range.
    """
    found = _named(Path(tempfile.gettempdir()), "file", owner) + _named(SHM_DIR, "shm", owner)
    if owner is not None:
        base = names.sysv_key_base()
        found += _sysv_segments(range(base, base + 0x100))
        found += _processes(owner)
    else:
        found += _sysv_segments()
    return found


def owner_alive(owner: str | None) -> bool:
    """Return whether the process that owns a run still exists."""
    if not owner:
        return False
    pid = int(owner.split("-")[0])
    if pid <= 0:  # kill(0 or less) would address a process group, never an owner
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove(found: list[Leftover]) -> list[str]:
    """Remove each leftover; return the ones that could not be removed, with why."""
    from helpers import libc

    failures = []
    for item in found:
        try:
            if item.kind == "file":
                path = Path(item.ident)
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                parent = path.parent
                if _owner_of(parent.name) is not None:
                    with contextlib.suppress(OSError):
                        parent.rmdir()
            elif item.kind == "shm":
                Path(item.ident).unlink(missing_ok=True)
            elif item.kind == "sysv":
                libc.shmctl_rmid(int(item.ident))
            elif item.kind == "process":
                os.kill(int(item.ident.split()[0]), signal.SIGKILL)
        except (OSError, libc.Unsupported) as exc:
            failures.append(f"{item}: {exc}")
    return failures
