"""``python -m helpers.suitebench``: how long the claim checks take, with the count run.

Runs ``pytest conformance -n 2`` (the claim and fault checks; not the
stress, bench or deep model runs) several times and prints the median wall
time beside the number of checks, and, in the same run, the time of one
serial run (no xdist) as the baseline that parallelism is measured against.
The target is a median of at most 15 s with two workers on a two-core machine.
Beside each wall time it prints the CPU time of the run's whole process tree
and the load average, since a shared machine stretches the first, not the
second.

``--opts DIR`` puts mmapcheck beside its anchor instead: it builds and runs
the Open POSIX Test Suite's mmap, munmap, shm_open and shm_unlink
directories of the checkout at DIR, then the checks of every catalogue entry
that names a POSIX assertion, and prints both times and both coverages (the
assertions a run decided, out of all of them).  Without such a checkout the
suite's half is skipped with the reason and mmapcheck's half still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import opts

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 15.0


def _cpu_of_children() -> float:
    """Return the CPU seconds (user and system) of every waited-for descendant so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(workers: int, raw: Path) -> tuple[float, dict[str, int], float]:
    """Return wall seconds of one run, its outcome counts and its CPU seconds; exit if it failed.

    The CPU seconds are those of the whole process tree (workers, fork
    servers, probes): on a machine other work keeps busy they move much less
    than the wall time does.
    """
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
               f"--mmapcheck-raw={raw}"]
    command += ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    start, cpu = time.perf_counter(), _cpu_of_children()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    cpu = _cpu_of_children() - cpu
    if done.returncode != 0:
        sys.exit(f"suitebench: the run failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    counts: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "check":
            counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
    return wall, counts, cpu


DECIDED = ("conforms", "differs", "known-deviation")
SpecRun = Callable[[Path], tuple[float, dict[str, Any]]]


def _opts_nodeids(tmp: Path) -> list[str]:
    """Return the checks of every catalogue entry that names a POSIX assertion."""
    from helpers import catalogue

    out = tmp / "coverage.json"
    subprocess.run([sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q",
                    "-p", "no:cacheprovider", "--mmapcheck-no-raw",
                    f"--mmapcheck-coverage={out}"],
                   cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    named = {e.id for e in catalogue.default().entries.values() if e.opts}
    coverage = json.loads(out.read_text())
    return sorted({node for entry_id in named for node in coverage.get(entry_id, [])})


def _spec_run(tmp: Path) -> tuple[float, dict[str, Any]]:
    """Run the checks behind the POSIX crosswalk with -n 2; return wall time and the section."""
    from helpers import catalogue
    from reports import build, raw

    raw_path = tmp / "spec.jsonl"
    nodes = _opts_nodeids(tmp)
    command = [sys.executable, "-m", "pytest", *nodes, "-q", "-p", "no:cacheprovider",
               "-n", "2", f"--mmapcheck-raw={raw_path}"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"suitebench: the spec run failed (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}")
    report = build.build(raw.read(raw_path), catalogue.default())
    return wall, report["posix"]


def _coverage_line(name: str, decided: int, total: int, extra: str) -> str:
    share = f"{100 * decided / total:.0f} %" if total else "n/a"
    return f"{name:<28} {decided:>4} of {total:<4} assertions decided ({share}){extra}"


def compare_with_opts(directory: Path, spec_run: SpecRun = _spec_run) -> int:
    """Run the Open POSIX directories at ``directory`` and mmapcheck's spec checks; print both.

    ``spec_run`` runs mmapcheck's half (self-tests give a stand-in that runs nothing).
    """
    base = opts.interfaces_dir(directory)
    anchor = None
    if not (base / "mmap").is_dir():
        print(f"Open POSIX Test Suite: skipped: {directory} holds no "
              "conformance/interfaces/mmap (give a checkout of LTP's "
              "testcases/open_posix_testsuite)", flush=True)
    elif shutil.which("cc") is None:
        print("Open POSIX Test Suite: skipped: no C compiler (cc) to build its tests",
              flush=True)
    else:
        anchor = opts.run_checkout(directory)
    with tempfile.TemporaryDirectory() as tmp:
        wall, section = spec_run(Path(tmp))
    rows = [row for row in section["crosswalk"]
            if row["assertion"].split("/")[0] in opts.OPTS_INTERFACES]
    platform = next(iter(rows[0]["verdicts"])) if rows and rows[0]["verdicts"] else None
    verdicts = {r["assertion"]: r["verdicts"].get(platform, "skipped") for r in rows}
    print(f"\n{'suite':<28} {'wall s':>8}")
    if anchor is not None:
        print(f"{'Open POSIX (build)':<28} {anchor.build_s:8.2f}")
        print(f"{'Open POSIX (run)':<28} {anchor.run_s:8.2f}")
        print(f"{'Open POSIX (total)':<28} {anchor.build_s + anchor.run_s:8.2f}")
    print(f"{'mmapcheck spec, -n 2':<28} {wall:8.2f}")
    print()
    ids = list(verdicts)
    if anchor is not None:
        tally = Counter(r.result for r in anchor.results)
        ids = list(anchor.assertions)
        print(_coverage_line("Open POSIX", len(anchor.decided()), len(ids),
                             f"; {len(anchor.tested())} with a test; results "
                             + ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))))
    counts = Counter(verdicts.get(a, "not in the catalogue") for a in ids)
    decided = sum(counts[v] for v in DECIDED)
    print(_coverage_line("mmapcheck", decided, len(ids), "; "
                         + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))))
    extra = [r for r in section["crosswalk"] if r not in rows]
    print(f"mmapcheck also answers {len(extra)} msync and mprotect assertions "
          "that Open POSIX lacks")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; return 0 when the target is met."""
    parser = argparse.ArgumentParser(prog="python -m helpers.suitebench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="parallel runs (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the serial run")
    parser.add_argument("--opts", type=Path, metavar="DIR",
                        help="compare with the Open POSIX Test Suite checked out at DIR")
    args = parser.parse_args(argv)
    if args.opts is not None:
        return compare_with_opts(args.opts)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.jsonl"
        walls, cpus = [], []
        for index in range(args.repeat):
            wall, counts, cpu = _run(2, raw)
            walls.append(wall)
            cpus.append(cpu)
            print(f"run {index + 1}/{args.repeat}: {wall:6.2f} s with -n 2, {cpu:6.2f} s CPU "
                  f"({sum(counts.values())} checks: {counts}; load average "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
        serial = None if args.no_baseline else _run(0, raw)
    median = statistics.median(walls)
    print(f"\n{'configuration':<28} {'wall s':>8} {'CPU s':>8}")
    print(f"{'-n 2 (median of ' + str(args.repeat) + ')':<28} {median:8.2f} "
          f"{statistics.median(cpus):8.2f}")
    if serial is not None:
        print(f"{'serial, no xdist (baseline)':<28} {serial[0]:8.2f} {serial[2]:8.2f}")
        print(f"speed-up over serial: {serial[0] / median:.2f}x")
    met = median <= TARGET_S
    print(f"checks run: {sum(counts.values())}; target median <= {TARGET_S:.0f} s with -n 2: "
          f"{'met' if met else 'NOT met'} (cpus: {os.cpu_count()})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
