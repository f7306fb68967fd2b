"""What an isolated probe did, as plain data.

An :class:`Outcome` is what crosses every boundary of the suite (child to
server, server to test, test to report), so it is a frozen record of JSON
values: errno, signal and ``si_code`` by name, never by number.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any

#: The exception name of a refused setup step (:class:`helpers.isolate.SetupRefused`).
SETUP_REFUSED = "SetupRefused"


class OutcomeKind(enum.StrEnum):
    """How a probe ended; the values are the published names."""

    RETURNED = "returned"  #: the target returned a JSON-able value
    RAISED = "raised"  #: the target raised (``errno`` set for OSError)
    SIGNALLED = "signalled"  #: the child was killed by a signal (``signal``, ``si_code``)
    EXITED = "exited"  #: the child exited without a result (``exit_code``)
    TIMEOUT = "timeout"  #: the child outlived its timeout and was killed
    ERROR = "error"  #: the runner could not run the probe (``message`` says why)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = enum.Enum.__str__


@dataclass(frozen=True)
class Outcome:
    """The result of one isolated probe.

    ``fault_address`` is the faulting address of a SIGSEGV/SIGBUS/SIGILL/SIGFPE
    as the kernel reported it in ``siginfo``; ``fault_offset`` is that address
    minus the base the probe last declared with :func:`helpers.isolate.note`
    (``base=...``).  Both are None when the platform would not tell, never a
    guess.  ``notes`` holds whatever else the probe declared before it ended,
    so evidence survives a child that died.
    """

    kind: OutcomeKind
    target: str = ""
    value: Any = None
    errno: str | None = None
    exception: str | None = None
    message: str | None = None
    signal: str | None = None
    si_code: str | None = None
    fault_address: int | None = None
    fault_offset: int | None = None
    exit_code: int | None = None
    duration_s: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True when the target returned normally."""
        return self.kind is OutcomeKind.RETURNED

    @property
    def setup_refused(self) -> bool:
        """Return True when a step before the call under test was refused (``message`` says why).

        The child raised :class:`helpers.isolate.SetupRefused`, or could not
        set the limits it was given: the platform showed nothing of the
        call the probe is about.
        """
        return self.kind is OutcomeKind.RAISED and self.exception == SETUP_REFUSED

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-able data, omitting empty fields.

        A shallow copy: ``value`` and ``notes`` are the outcome's own JSON
        values, shared rather than copied (a deep copy of a timing probe's
        samples cost more than the rest of recording it), so the caller must
        not change them.
        """
        data: dict[str, Any] = {"kind": self.kind.value}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None and value != {}:
                data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """Return the outcome that :meth:`to_dict` produced."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["kind"] = OutcomeKind(values["kind"])
        return cls(**values)

    def summary(self) -> str:
        """Return a one-line human reading: ``returned 3``, ``SIGBUS (BUS_ADRERR) at +4096``."""
        if self.kind is OutcomeKind.RETURNED:
            return f"returned {self.value!r}"
        if self.kind is OutcomeKind.RAISED:
            return f"raised {self.errno or self.exception}: {self.message}"
        if self.kind is OutcomeKind.SIGNALLED:
            text = f"{self.signal}"
            if self.si_code:
                text += f" ({self.si_code})"
            if self.fault_offset is not None:
                text += f" at base{self.fault_offset:+#x}"
            return text
        if self.kind is OutcomeKind.EXITED:
            return f"exited with status {self.exit_code}"
        return f"{self.kind.value}: {self.message}"

    def __repr__(self) -> str:
        parts = [f"kind={self.kind!r}"]
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            if value not in (None, {}, "", 0.0) or f.name == "duration_s":
                parts.append(f"{f.name}={value!r}")
        return f"Outcome({', '.join(parts)})"


#: The fields :meth:`Outcome.to_dict` writes after ``kind``, in declaration order.
_FIELDS = tuple(f.name for f in fields(Outcome) if f.name != "kind")
