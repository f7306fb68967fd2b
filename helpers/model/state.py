"""The state the model keeps: objects, open handles, mapped pages, processes.

Plain records with no behaviour beyond copying: the rules that change them
live in :mod:`helpers.model.space`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


class ModelMisuse(ValueError):
    """A step the model cannot take (outside the window, a second child, ...).

    The strategies never produce such steps; a hand-written replay can.  The
    message says what to change.
    """


@dataclass
class Obj:
    """A file, a POSIX shm object or the object behind a shared anonymous mapping.

    ``cache`` is what mappings see: the file's ``size`` bytes followed by the
    rest of its last page.  ``tail_unknown`` says the bytes past end of file
    in that page were stored to on a file system that writes pages back,
    which zeroes them at a moment nobody chooses: they are then unspecified.
    """

    oid: str
    kind: str  # "file" | "shm" | "anon"
    label: str
    size: int = 0
    cache: bytearray = field(default_factory=bytearray)
    tail_unknown: bool = False
    writeback: bool = False


@dataclass
class Handle:
    """An open file descriptor: the object and the access mode it was opened with."""

    obj: Obj
    readable: bool
    writable: bool


@dataclass
class Page:
    """One mapped page of one process.

    ``copy`` holds the page's own bytes when it is private and has been
    written (anonymous or copied on write from a file); until then a private
    anonymous page is zero and a private file page shows the object's bytes.
    ``unknown_from`` marks the bytes of a copy that came from an unspecified
    tail.  ``may_write``/``may_exec`` are what the descriptor allowed at mmap
    time, which bounds later mprotect calls.
    """

    prot: frozenset[str]
    shared: bool
    obj: Obj | None
    pgoff: int = 0
    copy: bytearray | None = None
    unknown_from: int | None = None
    may_write: bool = True
    may_exec: bool = True

    def clone(self) -> Page:
        """Return a copy of this page with its own private bytes (what fork does)."""
        return replace(self, copy=bytearray(self.copy) if self.copy is not None else None)


@dataclass
class Proc:
    """One process: its mapped pages in the window and its open handles."""

    pages: dict[int, Page] = field(default_factory=dict)
    fds: dict[int, Handle] = field(default_factory=dict)
