"""``python -m helpers.suitebench``: how long the claim checks take, with the count run.

Runs ``pytest conformance -n 2`` (the claim and fault checks; not the
stress, bench or deep model runs) several times and prints the median wall
time beside the number of checks, and, in the same run, the time of one
serial run (no xdist) as the baseline that parallelism is measured against.
The target is a median of at most 15 s with two workers on a two-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 15.0


def _run(workers: int, raw: Path) -> tuple[float, dict[str, int]]:
    """Return wall seconds of one run and its outcome counts; exit if the run failed."""
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
               f"--mmapcheck-raw={raw}"]
    command += ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"suitebench: the run failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    counts: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "check":
            counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
    return wall, counts


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; return 0 when the target is met."""
    parser = argparse.ArgumentParser(prog="python -m helpers.suitebench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="parallel runs (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the serial run")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.jsonl"
        walls = []
        for index in range(args.repeat):
            wall, counts = _run(2, raw)
            walls.append(wall)
            print(f"run {index + 1}/{args.repeat}: {wall:6.2f} s with -n 2 "
                  f"({sum(counts.values())} checks: {counts})", flush=True)
        serial = None if args.no_baseline else _run(0, raw)[0]
    median = statistics.median(walls)
    print(f"\n{'configuration':<28} {'wall s':>8}")
    print(f"{'-n 2 (median of ' + str(args.repeat) + ')':<28} {median:8.2f}")
    if serial is not None:
        print(f"{'serial, no xdist (baseline)':<28} {serial:8.2f}")
        print(f"speed-up over serial: {serial / median:.2f}x")
    met = median <= TARGET_S
    print(f"checks run: {sum(counts.values())}; target median <= {TARGET_S:.0f} s with -n 2: "
          f"{'met' if met else 'NOT met'} (cpus: {os.cpu_count()})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
