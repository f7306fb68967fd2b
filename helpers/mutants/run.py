"""Run the claim checks, unmutated or under one preloaded mutant, and judge them.

LD_PRELOAD is exported to the whole pytest run, so the test workers, their
fork servers and every probe child (both layers: ctypes and Python's mmap
module call the same C library) see the mutated platform.  The verdicts come
from the report builder alone, exactly as ``python -m reports build`` would
give them: this module decides nothing about claims.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helpers import catalogue
from reports import build as build_
from reports import raw as raw_
from reports.errors import ReportError

ROOT = Path(__file__).resolve().parent.parent.parent
#: How long one whole run of the claim checks may take before it is abandoned.
RUN_TIMEOUT_S = 1800
#: Prints the marker of the preloaded mutant (see sources/mutant.h).
_MARKER = ("import ctypes; lib = ctypes.CDLL(None); print(ctypes.string_at(ctypes.addressof("
           "ctypes.c_char.in_dll(lib, 'mmapcheck_mutant'))).decode())")


@dataclass(frozen=True)
class Run:
    """One run of the checks: its exit status, the verdict of every entry, and what broke."""

    label: str
    status: int | None
    raw: Path
    verdicts: dict[str, str] = field(default_factory=dict)
    failed: frozenset[str] = frozenset()
    problem: str = ""
    #: entry id -> the node ids of the checks that judged it
    checks: dict[str, frozenset[str]] = field(default_factory=dict)
    commit: str | None = None


def environment(preload: Path | None) -> dict[str, str]:
    """Return the environment of a run: this one, with ``preload`` first in LD_PRELOAD."""
    env = dict(os.environ)
    if preload is not None:
        env["LD_PRELOAD"] = " ".join(p for p in (str(preload), env.get("LD_PRELOAD", "")) if p)
    return env


def loaded(library: Path) -> str:
    """Return the id a preloaded ``library`` announces; RuntimeError when it does not load."""
    done = subprocess.run([sys.executable, "-c", _MARKER], env=environment(library),
                          capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"{library.name} did not load into the interpreter: "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip()


def checks(label: str, raw: Path, *, preload: Path | None = None,
           selection: Sequence[str] = ("conformance",), workers: int = 2) -> Run:
    """Run ``selection`` (pytest node ids) under ``preload`` and return the judged run.

    ``workers`` 0 runs in one process.  The pytest output goes to ``raw``
    with the suffix ``.log``.
    """
    command = [sys.executable, "-m", "pytest", *selection, "-q", "-p", "no:cacheprovider",
               f"--mmapcheck-raw={raw}"]
    command += ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    raw.parent.mkdir(parents=True, exist_ok=True)
    with raw.with_suffix(".log").open("w", encoding="utf-8") as log:
        # A group of its own, so that stop() reaches the test workers as Ctrl-C would.
        pytest = subprocess.Popen(command, cwd=ROOT, env=environment(preload), stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = pytest.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop(pytest)
            return Run(label, -1, raw, problem=f"did not end within {RUN_TIMEOUT_S} s")
        except BaseException:
            stop(pytest)
            raise
    return judge(label, raw, status)


def stop(pytest: subprocess.Popen[bytes]) -> None:
    """End a pytest run the way Ctrl-C does, so that it reaps its workers and cleans up.

    SIGINT goes to the run's whole process group, as a terminal sends it: a
    test worker interrupted by its controller alone dies without unwinding
    its fixtures, leaving their files and shm objects behind.  Only when the
    group ignores that for half a minute is it terminated, then killed.
    """
    for sig, grace in ((signal.SIGINT, 30.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pytest.pid, sig)
        try:
            pytest.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers still unwinding outlive their controller for a moment; none outlives the run.
    deadline = time.monotonic() + 10.0
    while _group_alive(pytest.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pytest.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def judge(label: str, raw: Path, status: int | None = None) -> Run:
    """Return the run whose raw results are at ``raw``, judged by the report builder now.

    ``status`` is pytest's exit status, None when it is not known (a run
    judged again later).
    """
    try:
        results = raw_.read(raw)
    except ReportError as exc:
        return Run(label, status, raw, problem=f"no usable raw results: {exc}")
    report = build_.build(results, catalogue.default())
    verdicts = {e["id"]: e["results"][0]["verdict"] if e["results"] else "missing"
                for e in report["entries"]}
    failed = frozenset(c["nodeid"] for c in report["checks"] if c["outcome"] == "failed")
    checks = {e["id"]: frozenset(n for r in e["results"] for n in r["checks"])
              for e in report["entries"]}
    problem = "" if status in (None, 0, 1) else f"pytest ended with status {status}"
    return Run(label, status, raw, verdicts, failed, problem, commit=results.run.get("commit"),
               checks=checks)
