"""The POSIX assertions mmapcheck answers to, and the Open POSIX Test Suite's own files.

``helpers/opts.toml`` lists, per interface, how many assertions there are:
the ids of the Open POSIX Test Suite's ``assertions.xml`` for mmap, munmap,
shm_open and shm_unlink (numbered 1..N there), and the numbered "shall"
sentences of the msync and mprotect pages, which that suite lacks.  The
catalogue names them in ``opts`` (``"mmap/11"``); :func:`crosswalk` maps each
to the entries that state it.  :func:`read_assertion_ids` reads the ids of a
checkout's ``assertions.xml`` as written: one of them (mmap, at the time of
writing) closes its last assertion with a second opening tag, so the file is
scanned for ``id`` attributes rather than parsed as XML.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from helpers.catalogue import Catalogue

INDEX = Path(__file__).with_name("opts.toml")
#: The interfaces whose directories the Open POSIX Test Suite has.
OPTS_INTERFACES = ("mmap", "munmap", "shm_open", "shm_unlink")
_ID = re.compile(r"<assertion\b[^>]*\bid\s*=\s*\"(\d+)\"")


@dataclass(frozen=True)
class Interface:
    """One interface's assertions: where they come from and how many there are."""

    name: str
    source: str
    count: int

    @property
    def assertions(self) -> list[str]:
        """Return the assertion ids, ``["mmap/1", ...]``."""
        return [f"{self.name}/{n}" for n in range(1, self.count + 1)]


@cache
def interfaces() -> tuple[Interface, ...]:
    """Return the interfaces of the index, in its order."""
    data = tomllib.loads(INDEX.read_text(encoding="utf-8"))
    return tuple(Interface(name, table["source"], table["ids"]) for name, table in data.items())


def all_assertions() -> list[str]:
    """Return every assertion id of every interface."""
    return [a for interface in interfaces() for a in interface.assertions]


def crosswalk(catalogue: Catalogue) -> dict[str, list[str]]:
    """Return each assertion id mapped to the ids of the entries that name it in ``opts``."""
    table: dict[str, list[str]] = {a: [] for a in all_assertions()}
    for entry in catalogue.entries.values():
        for assertion in entry.opts:
            table.setdefault(assertion, []).append(entry.id)
    return table


def read_assertion_ids(path: Path) -> list[int]:
    """Return the assertion ids of one ``assertions.xml``, in file order, without repeats."""
    found = _ID.findall(path.read_text(encoding="utf-8", errors="replace"))
    return list(dict.fromkeys(int(n) for n in found))


def checkout_assertions(directory: Path, names: Iterable[str] = OPTS_INTERFACES) -> list[str]:
    """Return ``interface/id`` for every assertion of the checkout's interface directories."""
    base = interfaces_dir(directory)
    return [f"{name}/{n}" for name in names
            for n in read_assertion_ids(base / name / "assertions.xml")
            if (base / name / "assertions.xml").is_file()]


def interfaces_dir(directory: Path) -> Path:
    """Return the ``conformance/interfaces`` directory of an Open POSIX checkout.

    ``directory`` may be that directory itself, the suite's top directory, or
    an LTP checkout holding it under ``testcases/open_posix_testsuite``.
    """
    for candidate in (directory, directory / "conformance" / "interfaces",
                      directory / "testcases" / "open_posix_testsuite" / "conformance" /
                      "interfaces"):
        if (candidate / "mmap").is_dir():
            return candidate
    return directory / "conformance" / "interfaces"
