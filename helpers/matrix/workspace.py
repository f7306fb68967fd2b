"""What a matrix run makes, written down before it is made, and undone whatever happens.

A workspace is a directory ``mmapcheck-matrix-<pid>-<token>`` under the
temporary directory holding the loop images and mount points, and a
``state.json`` that lists every mount and the huge page reservation to
restore *before* the change is made.  :meth:`Workspace.close` undoes it all
(in reverse order); a run killed with SIGKILL leaves the state file behind,
and :func:`clean_stale` (called at the start of every run) undoes it for
workspaces whose process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PREFIX = "mmapcheck-matrix-"
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
_NAME = re.compile(rf"^{PREFIX}(?P<pid>\d+)-[0-9a-f]+$")


def _mounts_under(directory: Path) -> list[str]:
    """Return the mount points at or below ``directory``, deepest first."""
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == str(directory) or point.startswith(f"{directory}/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount(point: str) -> None:
    """Unmount ``point``; a loop device mounted with ``-o loop`` is freed with it."""
    subprocess.run(["umount", point], capture_output=True, check=False, timeout=60)
    if point in _mounts_under(Path(point)):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False, timeout=60)


class Workspace:
    """The directory and the record of what one matrix run changed on the machine."""

    def __init__(self, parent: str | None = None) -> None:
        base = Path(parent or tempfile.gettempdir())
        self.path = base / f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.path.mkdir(mode=0o755)
        self.state: dict[str, Any] = {"pid": os.getpid(), "mounts": [], "hugepages": None}
        self._save()

    def _save(self) -> None:
        (self.path / "state.json").write_text(json.dumps(self.state))

    def directory(self, name: str) -> Path:
        """Return a new empty directory ``name`` inside the workspace."""
        path = self.path / name
        path.mkdir(mode=0o1777)
        path.chmod(0o1777)  # any user's checks may make files there
        return path

    def mount(self, args: list[str], point: Path) -> None:
        """Run ``mount ARGS POINT``, recorded first so that it is undone even if this dies."""
        self.state["mounts"].append(str(point))
        self._save()
        subprocess.run(["mount", *args, str(point)], capture_output=True, text=True,
                       check=True, timeout=120)
        point.chmod(0o1777)

    def running(self, pid: int | None) -> None:
        """Record the process group of the checks running in the workspace, None once it ended.

        Only a run killed outright leaves it recorded: :func:`clean_stale` then ends it.
        """
        self.state["child"] = pid
        self._save()

    def reserve_hugepages(self, count: int) -> int:
        """Add ``count`` huge pages to the reservation; return how many are free now.

        The reservation in force is written down before it changes, and
        :meth:`close` puts it back.
        """
        previous = int(NR_HUGEPAGES.read_text())
        if self.state["hugepages"] is None:
            self.state["hugepages"] = previous
            self._save()
        NR_HUGEPAGES.write_text(str(previous + count))
        return hugepages_free()

    def close(self) -> list[str]:
        """Undo everything recorded; return what could not be undone (empty when all was)."""
        return undo(self.path, self.state)


def hugepages_free() -> int:
    """Return HugePages_Free from /proc/meminfo (0 where there is none)."""
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def undo(path: Path, state: dict[str, Any]) -> list[str]:
    """End its checks, unmount, restore the huge page reservation, remove the workspace ``path``."""
    problems = []
    if state.get("child"):  # the checks of a run killed outright still use the mounts
        with contextlib.suppress(OSError):
            os.killpg(state["child"], signal.SIGKILL)
    for point in [*reversed(state.get("mounts", [])), *_mounts_under(path)]:
        if point in _mounts_under(Path(point)):
            unmount(point)
        if point in _mounts_under(Path(point)):
            problems.append(f"{point} is still mounted")
    if state.get("hugepages") is not None:
        try:
            NR_HUGEPAGES.write_text(str(state["hugepages"]))
        except OSError as exc:
            problems.append(f"could not restore nr_hugepages={state['hugepages']}: {exc}")
    if not problems:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            problems.append(f"{path} could not be removed")
    return problems


def clean_stale(parent: str | None = None) -> list[str]:
    """Undo the workspaces of matrix runs whose process is gone; return what was undone."""
    done = []
    base = Path(parent or tempfile.gettempdir())
    for path in base.glob(f"{PREFIX}*"):
        match = _NAME.match(path.name)
        if match is None or Path(f"/proc/{match['pid']}").exists():
            continue
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        problems = undo(path, state)
        done.append(f"{path}: " + ("; ".join(problems) if problems else "undone"))
    return done
