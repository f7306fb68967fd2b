"""Comparing the model's state with what the executor saw: pure functions.

Each function returns a list of short messages, empty when the two agree.
Objects are matched through :class:`Identities`: the model names objects
``o0``, ``o1``, ...; the platform names them ``major:minor:inode``.  A file
or shm object is bound to its identity when an open returns it; the hidden
object of a shared anonymous mapping when maps first shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from helpers.model.maps import PageInfo
from helpers.model.space import MapsView


class Identities:
    """A one-to-one binding of model object ids to platform identities."""

    def __init__(self) -> None:
        self.by_oid: dict[str, str] = {}
        self.by_ident: dict[str, str] = {}

    def bind(self, oid: str, ident: str) -> str | None:
        """Bind ``oid`` to ``ident``; return a message if that breaks the one-to-one binding."""
        known = self.by_oid.get(oid)
        if known is not None:
            return None if known == ident else \
                f"object {oid} is {known} on the platform, but this time it was {ident}"
        owner = self.by_ident.get(ident)
        if owner is not None:
            return f"the model says {oid} is a new object, but the platform gave {owner} again"
        self.by_oid[oid], self.by_ident[ident] = ident, oid
        return None


def _ranges(pages: list[int]) -> str:
    """Return ``"3-5, 9"`` for pages [3, 4, 5, 9]."""
    parts: list[str] = []
    start = prev = None
    for p in sorted(pages):
        if prev is not None and p == prev + 1:
            prev = p
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = p
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def maps(proc: int, expected: Mapping[int, MapsView], observed: Mapping[int, PageInfo],
         identities: Identities, label: Callable[[str], str], window: int) -> list[str]:
    """Compare the model's pages of ``proc`` with /proc/<pid>/maps, page by page."""
    differ: dict[tuple[str, str], list[int]] = {}
    for page in range(window):
        want, got = expected.get(page), observed.get(page)
        if want is None and got is None:
            continue
        if want is not None and got is not None and want[:2] == got[:2]:
            oid, ident = want[2], got[2]
            if oid is None and ident is None:
                continue
            if oid is not None and ident is not None and identities.bind(oid, ident) is None:
                continue
        key = (_show_model(want, label), _show_platform(got, identities, label))
        differ.setdefault(key, []).append(page)
    who = "the child" if proc else "the executor"
    return [f"maps of {who}, page {_ranges(pages)}: model {want}; platform {got}"
            for (want, got), pages in differ.items()]


def _show_model(view: MapsView | None, label: Callable[[str], str]) -> str:
    if view is None:
        return "unmapped"
    perms, offset, oid = view
    return f"{perms} {label(oid) + f' @{offset:#x}' if oid else 'anonymous'}"


def _show_platform(info: PageInfo | None, identities: Identities,
                   label: Callable[[str], str]) -> str:
    if info is None:
        return "unmapped"
    perms, offset, ident = info
    if ident is None:
        return f"{perms} anonymous"
    oid = identities.by_ident.get(ident)
    return f"{perms} {label(oid) if oid else 'inode ' + ident} @{offset:#x}"


def pages(proc: int, expected: Mapping[int, int], observed: Mapping[int, int]) -> list[int]:
    """Return the pages of ``proc`` whose bytes differ (or could not be read on the platform)."""
    return [p for p, crc in expected.items() if observed.get(p) != crc]


def files(expected: Mapping[str, tuple[int, int]], observed: Mapping[str, Any],
          identities: Identities) -> list[str]:
    """Return the ids of the objects whose size or bytes differ from the platform's."""
    differ = []
    for oid, (size, crc) in expected.items():
        ident = identities.by_oid.get(oid)
        got = observed.get(ident) if ident else None
        if got is None or list(got) != [size, crc]:
            differ.append(oid)
    return differ


def first_difference(want: bytes, got: bytes) -> str:
    """Return where two byte strings first differ, as a sentence."""
    for i, (a, b) in enumerate(zip(want, got, strict=False)):
        if a != b:
            return f"at byte {i} the model has {a:#04x} and the platform {b:#04x}"
    if len(want) != len(got):
        return f"the model has {len(want)} bytes and the platform {len(got)}"
    return "no byte differs (only the checksum did)"
