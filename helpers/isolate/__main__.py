"""``python -m helpers.isolate --bench``: what one isolated probe costs.

Prints, from one run, the median and p90 round trip of a no-op probe, of a
probe that dies by SIGBUS, and of starting a fresh interpreter
(``subprocess.run([sys.executable, "-c", "pass"])``), the baseline the fork
server exists to beat, and the ratio between them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from helpers import isolate, names
from helpers.probes import selftest


def _timed(action: Callable[[], object], repeat: int, expect: str | None = None) -> list[float]:
    """Return the durations of ``repeat`` calls; each outcome must be of kind ``expect``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        outcome = action()
        samples.append(time.perf_counter() - start)
        if expect is not None and getattr(outcome, "kind", None) != expect:
            raise SystemExit(f"benchmark aborted: expected a {expect!r} outcome, got {outcome!r}")
    return samples


def _row(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"{label:<34} {statistics.median(samples) * 1e3:9.3f} {p90 * 1e3:9.3f} {len(samples):7d}"


def bench(repeat: int) -> int:
    """Run the benchmark, print the table, return 0 when the target is met."""
    isolate.run(selftest.noop)  # start the server outside the measurement
    with tempfile.TemporaryDirectory(prefix=names.run_prefix()) as tmp:
        empty = os.path.join(tmp, "empty")
        open(empty, "wb").close()
        noop = _timed(lambda: isolate.run(selftest.noop), repeat, "returned")
        sigbus = _timed(lambda: isolate.run(selftest.touch_empty_file_mapping, empty), repeat,
                        "signalled")
    fresh = _timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
                   max(repeat // 10, 10))
    print(f"{'round trip':<34} {'median ms':>9} {'p90 ms':>9} {'samples':>7}")
    print(_row("isolated no-op probe", noop))
    print(_row("isolated probe dying by SIGBUS", sigbus))
    print(_row("fresh interpreter (baseline)", fresh))
    ratio = statistics.median(fresh) / statistics.median(noop)
    met = statistics.median(noop) <= 0.003 and ratio >= 5
    print(f"fresh interpreter / no-op probe: {ratio:.1f}x "
          f"(target: no-op median <= 3 ms and >= 5x): {'met' if met else 'NOT met'}")
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run what it asks for."""
    parser = argparse.ArgumentParser(prog="python -m helpers.isolate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bench", action="store_true", help="measure probe round trips")
    parser.add_argument("--repeat", type=int, default=300, help="probes per measurement")
    args = parser.parse_args(argv)
    if not args.bench:
        parser.print_help()
        return 2
    if args.repeat < 10:
        parser.error("--repeat must be at least 10")
    return bench(args.repeat)


if __name__ == "__main__":
    sys.exit(main())
