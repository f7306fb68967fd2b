"""The steps of a sequence: one call each, as data that prints as Python.

A step names memory by its offset in the executor's arena (``addr=0x1004``
is the arena's base plus 0x1004), files by the handle the model gave their
descriptor (handles count up from 0 in the order opens succeed), and POSIX
shm objects and regular files by a short name (``"a"``, ``"x"``) that the
session turns into a unique real name.  ``proc`` is 0 for the executor and
1 for the child it forked.  The ``repr`` of a step is the Python that builds
it, so a list of steps is a replayable program (see :mod:`helpers.model.replay`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from helpers.model.flags import c_spelling

#: Fields printed in hexadecimal: addresses are easier to read that way.
_HEX_FIELDS = frozenset({"addr"})


@dataclass(frozen=True, kw_only=True, repr=False)
class Step:
    """One call made by one process; subclasses add the call's arguments."""

    proc: int = 0
    op: ClassVar[str] = ""

    def wire(self) -> dict[str, Any]:
        """Return the step as a JSON-able dict for the executor."""
        return {"op": self.op, **asdict(self)}

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "proc" and value == 0:
                continue
            if f.name in _HEX_FIELDS and isinstance(value, int):
                parts.append(f"{f.name}={value:#x}")
            elif isinstance(value, int):
                parts.append(f"{f.name}={_number(value)}")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def describe(self) -> str:
        """Return the call as a C programmer would write it (for messages)."""
        text = self._call()
        return f"[child] {text}" if self.proc else text

    def _call(self) -> str:
        return repr(self)


def _number(value: int) -> str:
    """Return ``value`` as Python source, a huge power of two as ``1 << 62``."""
    if value >= 1 << 32 and value & (value - 1) == 0:
        return f"1 << {value.bit_length() - 1}"
    return repr(value)


def _where(addr: int | None) -> str:
    return "NULL" if addr is None else f"arena+{addr:#x}"


def _fd(handle: int | None) -> str:
    return "-1" if handle is None else f"fd(h{handle})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Mmap(Step):
    """``mmap(addr, length, prot, flags, fd, offset)``; ``addr=None`` is NULL."""

    op: ClassVar[str] = "mmap"
    addr: int | None
    length: int
    prot: str
    flags: str
    handle: int | None = None
    offset: int = 0

    def _call(self) -> str:
        return (f"mmap({_where(self.addr)}, {_number(self.length)}, "
                f"{c_spelling(self.prot, 'prot')}, "
                f"{c_spelling(self.flags, 'map')}, {_fd(self.handle)}, {self.offset})")


@dataclass(frozen=True, kw_only=True, repr=False)
class Munmap(Step):
    """``munmap(addr, length)``."""

    op: ClassVar[str] = "munmap"
    addr: int
    length: int

    def _call(self) -> str:
        return f"munmap({_where(self.addr)}, {_number(self.length)})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Mprotect(Step):
    """``mprotect(addr, length, prot)``."""

    op: ClassVar[str] = "mprotect"
    addr: int
    length: int
    prot: str

    def _call(self) -> str:
        return (f"mprotect({_where(self.addr)}, {_number(self.length)}, "
                f"{c_spelling(self.prot, 'prot')})")


@dataclass(frozen=True, kw_only=True, repr=False)
class Msync(Step):
    """``msync(addr, length, flags)``."""

    op: ClassVar[str] = "msync"
    addr: int
    length: int
    flags: str

    def _call(self) -> str:
        return f"msync({_where(self.addr)}, {_number(self.length)}, {c_spelling(self.flags, 'ms')})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Ftruncate(Step):
    """``ftruncate(fd, length)``."""

    op: ClassVar[str] = "ftruncate"
    handle: int
    length: int

    def _call(self) -> str:
        return f"ftruncate({_fd(self.handle)}, {self.length})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Pwrite(Step):
    """``pwrite(fd, <length bytes of value>, length, offset)``."""

    op: ClassVar[str] = "pwrite"
    handle: int
    offset: int
    length: int
    value: int

    def _call(self) -> str:
        return (f"pwrite({_fd(self.handle)}, \"\\x{self.value:02x}\" * {self.length}, "
                f"{self.length}, {self.offset})")


@dataclass(frozen=True, kw_only=True, repr=False)
class Load(Step):
    """Read one byte at an arena offset."""

    op: ClassVar[str] = "load"
    addr: int

    def _call(self) -> str:
        return f"*(char *)({_where(self.addr)})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Store(Step):
    """Write one byte at an arena offset."""

    op: ClassVar[str] = "store"
    addr: int
    value: int

    def _call(self) -> str:
        return f"*(char *)({_where(self.addr)}) = {self.value:#04x}"


@dataclass(frozen=True, kw_only=True, repr=False)
class Fork(Step):
    """``fork()`` by the executor: the child becomes ``proc=1``."""

    op: ClassVar[str] = "fork"

    def _call(self) -> str:
        return "fork()"


@dataclass(frozen=True, kw_only=True, repr=False)
class Exit(Step):
    """``_exit(0)`` in the child."""

    op: ClassVar[str] = "exit"
    proc: int = 1

    def _call(self) -> str:
        return "_exit(0)"


@dataclass(frozen=True, kw_only=True, repr=False)
class ShmOpen(Step):
    """``shm_open(name, flags, 0600)``; a success is the next handle."""

    op: ClassVar[str] = "shm_open"
    name: str
    flags: str

    def _call(self) -> str:
        return f"shm_open(\"/{self.name}\", {c_spelling(self.flags, 'open')}, 0600)"


@dataclass(frozen=True, kw_only=True, repr=False)
class ShmUnlink(Step):
    """``shm_unlink(name)``."""

    op: ClassVar[str] = "shm_unlink"
    name: str

    def _call(self) -> str:
        return f"shm_unlink(\"/{self.name}\")"


@dataclass(frozen=True, kw_only=True, repr=False)
class Open(Step):
    """``open(<run dir>/name, flags, 0600)`` of a regular file; a success is the next handle."""

    op: ClassVar[str] = "open"
    name: str
    flags: str

    def _call(self) -> str:
        return f"open(\"{self.name}\", {c_spelling(self.flags, 'open')}, 0600)"


@dataclass(frozen=True, kw_only=True, repr=False)
class Close(Step):
    """``close(fd)``."""

    op: ClassVar[str] = "close"
    handle: int

    def _call(self) -> str:
        return f"close({_fd(self.handle)})"


#: Every step type by its ``op``.
STEP_TYPES: dict[str, type[Step]] = {
    cls.op: cls
    for cls in (Mmap, Munmap, Mprotect, Msync, Ftruncate, Pwrite, Load, Store, Fork, Exit,
                ShmOpen, ShmUnlink, Open, Close)
}
