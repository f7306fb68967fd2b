"""What a step did or is predicted to do: a value, an errno, or a signal.

The same record serves for the model's prediction and for what the platform
did, so comparing them is equality, except where the model says a value is
:data:`UNSPECIFIED` (the man page leaves it open, e.g. where the kernel puts a
mapping that has no ``MAP_FIXED``): then only the kind of outcome is compared
and the model learns the value from the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers.isolate.outcome import OutcomeKind


class _Unspecified:
    """The value the man pages leave open; it matches any value."""

    _instance: _Unspecified | None = None

    def __new__(cls) -> _Unspecified:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSPECIFIED"

    def __reduce__(self) -> str:
        return "UNSPECIFIED"


UNSPECIFIED: Any = _Unspecified()


@dataclass(frozen=True)
class Result:
    """One step's outcome.

    ``kind`` is ``returned`` (``value`` holds what the call returned: an arena
    offset for mmap, a byte for a load, a count for pwrite, a handle for an
    open, else None), ``raised`` (``errno`` by name) or ``signalled``
    (``signal`` and ``si_code`` by name, ``addr`` the fault's arena offset).
    ``si_code`` and ``addr`` are None on the platform side when ptrace is
    refused; they are then not compared.
    """

    kind: OutcomeKind
    value: Any = None
    errno: str | None = None
    signal: str | None = None
    si_code: str | None = None
    addr: int | None = None

    @classmethod
    def returned(cls, value: Any = None) -> Result:
        """Return a ``returned`` outcome."""
        return cls(OutcomeKind.RETURNED, value=value)

    @classmethod
    def raised(cls, errno: str) -> Result:
        """Return a ``raised`` outcome with the errno's name."""
        return cls(OutcomeKind.RAISED, errno=errno)

    @classmethod
    def signalled(cls, signal: str, si_code: str | None, addr: int | None) -> Result:
        """Return a ``signalled`` outcome."""
        return cls(OutcomeKind.SIGNALLED, signal=signal, si_code=si_code, addr=addr)

    @property
    def fatal(self) -> bool:
        """Return True when the step killed the process that made it."""
        return self.kind is OutcomeKind.SIGNALLED

    def agrees(self, observed: Result) -> bool:
        """Return whether ``observed`` is what this prediction allows."""
        if self.kind is not observed.kind:
            return False
        if self.kind is OutcomeKind.RETURNED:
            return self.value is UNSPECIFIED or self.value == observed.value
        if self.kind is OutcomeKind.RAISED:
            return self.errno == observed.errno
        return (self.signal == observed.signal
                and observed.si_code in (None, self.si_code)
                and observed.addr in (None, self.addr))

    def describe(self) -> str:
        """Return a short reading: ``returned 7``, ``failed with EINVAL``, ``killed by SIGBUS``."""
        if self.kind is OutcomeKind.RETURNED:
            if self.value is UNSPECIFIED:
                return "returns (value unspecified)"
            return f"returned {_show(self.value)}"
        if self.kind is OutcomeKind.RAISED:
            return f"failed with {self.errno}"
        text = f"killed by {self.signal}"
        if self.si_code:
            text += f" ({self.si_code})"
        if self.addr is not None:
            text += f" at arena+{self.addr:#x}"
        return text


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 255:
        return hex(value)
    return repr(value)


def from_wire(data: list[Any]) -> Result:
    """Return the Result for the executor's ``["ok", v]``/``["err", name]``/``["sig", ...]``."""
    tag = data[0]
    if tag == "ok":
        return Result.returned(data[1])
    if tag == "err":
        return Result.raised(data[1])
    if tag == "sig":
        return Result.signalled(data[1], data[2], data[3])
    raise ValueError(f"the executor sent an outcome this side cannot read: {data!r}")
