"""The table rows of the POSIX spec checks: one probe, one observation, one man-page value.

A spec check is a table: each :class:`Row` names a catalogue ``spec`` entry
and one of its cases, the probe verb that shows it, how the outcome becomes
the case's observation (:mod:`helpers.observe`), and what the Linux man page
documents for it.  The check records the observation first (the report
compares it with what POSIX predicts, from the catalogue) and then asserts
the man page, so CI stays green where Linux documents a difference from
POSIX and fails where Linux breaks its own page.  A row whose platform is
known to break its man page carries ``deviation``: a strict expected failure
while it lasts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from helpers import observe, scratch
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.platform import writes_back

#: How an outcome becomes an observation: the name of a helpers.observe function.
VIEWS = ("result", "signal", "field", "note")


@dataclass(frozen=True)
class File:
    """A placeholder argument: a fresh scratch file of ``pages`` pages filled with ``fill``."""

    pages: float = 1
    fill: bytes = b"\0"


@dataclass(frozen=True)
class Shm:
    """A placeholder argument: a fresh POSIX shm name (not created), unlinked at teardown."""


@dataclass(frozen=True)
class Row:
    """One case of a spec entry, as one probe: ``linux`` is what the man page documents."""

    entry: str
    case: str
    verb: Callable[..., Any]
    args: tuple[Any, ...] = ()
    linux: Any = "ok"
    view: str = "result"
    key: str = ""
    layer: str = "libc"
    instance: str | None = None
    #: (path whose filesystem decides, or ``"scratch"`` for the scratch directory; reason)
    deviation: tuple[str, str] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Return the test id of the row: entry slug, case, instance and layer."""
        parts = [self.entry.removeprefix("spec."), self.case, self.instance, self.layer]
        return "/".join(p for p in parts if p and p != "libc")

    def marks(self) -> list[pytest.MarkDecorator]:
        """Return the row's markers: its entry, its layer, and a known deviation if any."""
        marks = [pytest.mark.claim(self.entry)]
        if self.layer != "libc":
            marks.append(pytest.mark.layer(self.layer))
        if self.deviation is not None:
            where, reason = self.deviation
            where = scratch.directory() if where == "scratch" else where
            marks.append(pytest.mark.xfail(not writes_back(where), strict=True, reason=reason))
        return marks

    def observation(self, outcome: Outcome) -> observe.Observation:
        """Return the case's observation of ``outcome`` through the row's view."""
        if self.view == "field":
            return observe.field(outcome, self.key)
        if self.view == "note":
            return observe.note(outcome, self.key)
        return getattr(observe, self.view)(outcome)


def params(rows: Sequence[Row]) -> list[Any]:
    """Return ``rows`` as pytest parameters with their ids and markers."""
    return [pytest.param(row, id=row.name, marks=row.marks()) for row in rows]


def resolve(args: Sequence[Any], sized_file: Callable[..., str],
            shm_name: Callable[..., str]) -> list[Any]:
    """Return ``args`` with each placeholder replaced by the resource it stands for."""
    resolved = []
    for arg in args:
        if isinstance(arg, File):
            arg = sized_file(int(arg.pages * PAGE_SIZE), arg.fill)
        elif isinstance(arg, Shm):
            arg = shm_name()
        resolved.append(arg)
    return resolved


def check(row: Row, probe: Callable[..., Outcome], prediction: Any,
          sized_file: Callable[..., str], shm_name: Callable[..., str]) -> None:
    """Run ``row``: probe, record the observation, then assert the Linux man page."""
    if row.view not in VIEWS:
        raise ValueError(f"row {row.name}: view {row.view!r} is not one of {VIEWS}")
    outcome = probe(row.verb, *resolve(row.args, sized_file, shm_name), **row.kwargs)
    seen = prediction.observe(row.case, row.observation(outcome), claim=row.entry,
                              instance=row.instance, layer=row.layer)
    assert seen.value == row.linux, (
        f"{row.name}: the man page documents {row.linux!r}, observed {seen.value!r}", outcome)
