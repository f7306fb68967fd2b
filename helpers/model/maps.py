"""Reading ``/proc/<pid>/maps``: pure parsing, page by page.

proc(5) gives one line per VMA: ``start-end perms offset major:minor inode
path``.  The kernel splits and merges VMAs as it likes, so the comparison
with the model is made page by page: each page of the checked window gets
its permissions, the file offset it maps, and the identity of the object
behind it (``"major:minor:inode"``, None for private anonymous memory).
"""

from __future__ import annotations

import os
from typing import NamedTuple


class MapsLine(NamedTuple):
    """One parsed line of /proc/<pid>/maps (a named tuple: thousands are parsed a second)."""

    start: int
    end: int
    perms: str
    offset: int
    ident: str | None
    path: str


def parse_line(line: str) -> MapsLine:
    """Return the fields of one maps line; raise ValueError naming a malformed one."""
    parts = line.split(None, 5)
    if len(parts) < 5 or "-" not in parts[0] or ":" not in parts[3]:
        raise ValueError(f"not a /proc/<pid>/maps line: {line!r}")
    start, _, end = parts[0].partition("-")
    major, _, minor = parts[3].partition(":")
    inode = int(parts[4])
    dev = (int(major, 16), int(minor, 16))
    ident = None if inode == 0 and dev == (0, 0) else f"{dev[0]}:{dev[1]}:{inode}"
    return MapsLine(int(start, 16), int(end, 16), parts[1], int(parts[2], 16), ident,
                    parts[5].strip() if len(parts) > 5 else "")


def lines_in(text: str, low: int, high: int) -> list[str]:
    """Return the lines of a maps file whose range meets ``[low, high)``.

    Lines are sorted by address, so the scan stops at the first line past
    ``high``.  Only the start and end are parsed on the way.
    """
    found = []
    for line in text.splitlines():
        dash = line.index("-")
        space = line.index(" ", dash)
        start = int(line[:dash], 16)
        if start >= high:
            break
        if int(line[dash + 1:space], 16) > low:
            found.append(line)
    return found


#: One page as maps shows it: perms, the file offset of the page, the object identity.
PageInfo = tuple[str, int, "str | None"]


def pages(lines: list[str], base: int, page_size: int, count: int) -> dict[int, PageInfo]:
    """Return, for each page ``i`` of ``[base, base + count pages)`` that is mapped, its view.

    The offset is that of the page itself (the line's offset plus the
    page's distance from the line's start); for anonymous memory it is
    whatever the kernel prints (0 for private anonymous memory).
    """
    table: dict[int, PageInfo] = {}
    for text in lines:
        line = parse_line(text)
        first = max((line.start - base) // page_size, 0)
        last = min((line.end - base) // page_size, count)
        step = page_size if line.ident is not None else 0
        offset = line.offset + (base + first * page_size - line.start) * (step > 0)
        for page in range(first, last):
            table[page] = (line.perms, offset, line.ident)
            offset += step
    return table


def read_window(path: str, low: int, high: int, chunk: int = 4096) -> list[str]:
    """Return the lines of the maps file at ``path`` that meet ``[low, high)``.

    The kernel writes the file as it is read, in address order; reading
    stops at the first line past ``high``, which for a window below every
    other mapping is within the first few kilobytes.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        text = ""
        while data := os.read(fd, chunk):
            text += data.decode("ascii", "replace")
            end = text.rfind("\n")
            if end > 0:
                last = text.rfind("\n", 0, end) + 1
                if int(text[last:text.index("-", last)], 16) >= high:
                    break
    finally:
        os.close(fd)
    return lines_in(text, low, high)
