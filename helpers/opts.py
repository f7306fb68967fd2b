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
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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
    files = [(name, interfaces_dir(directory) / name / "assertions.xml") for name in names]
    return [f"{name}/{n}" for name, path in files if path.is_file()
            for n in read_assertion_ids(path)]


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


#: The Open POSIX Test Suite's exit codes (its include/posixtest.h).
RESULTS = {0: "PASS", 1: "FAIL", 2: "UNRESOLVED", 4: "UNSUPPORTED", 5: "UNTESTED"}
_TEST = re.compile(r"^(?P<assertion>\d+)-\d+\.(?:c|sh)$")


@dataclass(frozen=True)
class TestResult:
    """One test program of the suite: its assertion, how it ended, how long it ran."""

    interface: str
    name: str
    assertion: int
    result: str
    seconds: float


@dataclass(frozen=True)
class AnchorRun:
    """A run of the suite's interface directories: results, times and assertion coverage."""

    results: tuple[TestResult, ...]
    build_s: float
    run_s: float
    assertions: tuple[str, ...]  #: every id of the checkout's assertions.xml files

    def tested(self) -> set[str]:
        """Return the assertions that have at least one test program."""
        return {f"{r.interface}/{r.assertion}" for r in self.results}

    def decided(self) -> set[str]:
        """Return the assertions with a test that ended PASS or FAIL."""
        return {f"{r.interface}/{r.assertion}" for r in self.results
                if r.result in ("PASS", "FAIL")}


def _build(source: Path, include: Path, output: Path) -> str | None:
    """Compile one test program; return None, or why it did not build."""
    done = subprocess.run(["cc", "-std=gnu99", "-w", f"-I{include}", "-o", str(output),
                           str(source), "-lpthread", "-lrt"],
                          capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def _run(command: list[str], cwd: Path, timeout: float) -> str:
    """Run one test program in ``cwd``; return its result name."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    if done.returncode < 0:
        return signal.Signals(-done.returncode).name
    return RESULTS.get(done.returncode, f"exit {done.returncode}")


def run_checkout(directory: Path, *, timeout: float = 60.0,
                 names: Iterable[str] = OPTS_INTERFACES) -> AnchorRun:
    """Build and run the test programs of ``names`` in an Open POSIX checkout.

    Each C test is compiled against the suite's ``include`` directory (in
    parallel, as ``make -j`` would) and each program, C or shell, runs on its
    own in a scratch directory that is removed afterwards, killed after
    ``timeout`` seconds.  A test that does not build counts as ``BUILD-FAILED``.
    """
    base = interfaces_dir(directory)
    include = base.parent.parent / "include"
    tests = sorted((name, path) for name in names if (base / name).is_dir()
                   for path in (base / name).iterdir() if _TEST.match(path.name))
    results: list[TestResult] = []
    with tempfile.TemporaryDirectory(prefix="mmapcheck-opts-") as scratch:
        work = Path(scratch)
        start = time.perf_counter()
        sources = [(name, path) for name, path in tests if path.suffix == ".c"]
        with ThreadPoolExecutor() as pool:
            built = dict(zip(sources, pool.map(
                lambda item: _build(item[1], include, work / f"{item[0]}-{item[1].stem}"),
                sources), strict=True))
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        for name, path in tests:
            cwd = work / "cwd"
            cwd.mkdir()
            began = time.perf_counter()
            if path.suffix == ".sh":
                result = _run(["sh", str(path)], cwd, timeout)
            elif built[(name, path)] is not None:
                result = "BUILD-FAILED"
            else:
                result = _run([str(work / f"{name}-{path.stem}")], cwd, timeout)
            shutil.rmtree(cwd, ignore_errors=True)
            assertion = int(_TEST.match(path.name)["assertion"])
            results.append(TestResult(name, path.stem, assertion, result,
                                      time.perf_counter() - began))
        run_s = time.perf_counter() - start
    return AnchorRun(tuple(results), build_s, run_s,
                     tuple(checkout_assertions(directory, names)))
