"""What ``/proc/[pid]/maps`` says about an address: the evidence of where a mapping is.

Probes use it to show what lies after a mapping (nothing, a guard page, a
neighbour), that a child has or lacks a mapping, which file backs a range
(none, ``/dev/zero (deleted)``, a path) and where the ``[heap]`` is.  Parsing
is pure so it can be tested on its own; reading is one ``open`` per call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Region:
    """One line of ``/proc/[pid]/maps``."""

    start: int
    end: int
    perms: str  #: ``rw-s``: read, write, execute, shared or private
    offset: int  #: file offset of ``start`` (0 for anonymous memory)
    inode: int
    path: str  #: the pathname column: a file, ``[heap]``, ``/dev/zero (deleted)`` or ""

    def as_data(self) -> dict[str, Any]:
        """Return the region as JSON-able data, addresses in hex."""
        data = asdict(self)
        data["start"], data["end"] = hex(self.start), hex(self.end)
        return data


def parse(text: str) -> list[Region]:
    """Return the regions of a ``/proc/[pid]/maps`` text, in address order."""
    regions = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            continue
        low, high = (int(part, 16) for part in fields[0].split("-"))
        regions.append(Region(low, high, fields[1], int(fields[2], 16), int(fields[4]),
                              fields[5].strip() if len(fields) > 5 else ""))
    return regions


def regions(pid: int | str = "self") -> list[Region]:
    """Return the regions of process ``pid`` (this process by default)."""
    with open(f"/proc/{pid}/maps") as handle:
        return parse(handle.read())


def region_at(addr: int, pid: int | str = "self") -> Region | None:
    """Return the region of ``pid`` that contains ``addr``, None when nothing is mapped there."""
    return next((r for r in regions(pid) if r.start <= addr < r.end), None)


def describe_at(addr: int, pid: int | str = "self") -> dict[str, Any] | None:
    """Return :func:`region_at` as JSON-able evidence."""
    region = region_at(addr, pid)
    return region.as_data() if region is not None else None


def dirty_kb(addr: int) -> int:
    """Return the dirty size in kB (shared plus private) of this process's region at ``addr``.

    A store through a MAP_SHARED file mapping dirties its page until
    writeback or ``msync(MS_SYNC)`` cleans it: the evidence of when the
    file's storage, not only its page cache, holds the change.
    """
    total, inside = 0, False
    with open("/proc/self/smaps") as handle:
        for line in handle:
            head = line.split(maxsplit=1)[0]
            if not head.endswith(":"):
                low, high = (int(part, 16) for part in head.split("-"))
                if inside:
                    break
                inside = low <= addr < high
            elif inside and head in ("Shared_Dirty:", "Private_Dirty:"):
                total += int(line.split()[1])
    return total


def vm_flags(addr: int) -> list[str]:
    """Return the ``VmFlags`` of this process's region at ``addr`` (empty when none is there).

    proc(5): two-letter codes; ``sf`` marks a synchronous-fault (MAP_SYNC)
    mapping, ``sh`` a shared one.
    """
    inside = False
    with open("/proc/self/smaps") as handle:
        for line in handle:
            head = line.split(maxsplit=1)[0]
            if not head.endswith(":"):
                low, high = (int(part, 16) for part in head.split("-"))
                inside = low <= addr < high
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    return []
