"""The speed checks measure in rounds: only what is still undecided is measured again.

The rounds logic lives in the check module itself; it is loaded here from its
file and fed made-up samples, so what it asks for and decides can be seen
without timing anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from helpers import observe
from helpers.isolate.outcome import Outcome, OutcomeKind

TIMING = Path(__file__).resolve().parents[2] / "conformance" / "test_performance.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("timing_checks_under_test", TIMING)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PERF = _module()
#: "far": one side twice as fast (decided at once); "near": a ratio on the margin itself,
#: so that no number of samples decides it.
PAIRS = {case: (("cases", case), "fast", "slow") for case in ("far", "near")}
SAMPLES = {"far": ([1.0, 1.01] * 4, [2.0, 2.02] * 4),
           "near": ([1.0, 1.2] * 4, [1.1, 1.32] * 4)}


def _round(cases: set[str]) -> Outcome:
    value = {"cases": {case: dict(zip(("fast", "slow"), SAMPLES[case], strict=True))
                       for case in sorted(cases)}}
    return Outcome(OutcomeKind.RETURNED, value=value)


def test_a_decided_comparison_is_not_measured_again() -> None:
    asked: list[set[str]] = []

    def run(cases: set[str]) -> Outcome:
        asked.append(set(cases))
        return _round(cases)

    outcomes, seen = PERF._measure(run, lambda _: PAIRS, None)
    assert asked == [{"far", "near"}] + [{"near"}] * (PERF.ROUNDS - 1)
    assert len(outcomes) == PERF.ROUNDS
    assert seen["far"].status is observe.Status.OBSERVED and seen["far"].value is True
    assert seen["near"].status is observe.Status.UNDECIDED
    # The decision is made on the samples of every round that measured the pair.
    assert seen["far"].evidence["samples"] == [8, 8]
    assert seen["near"].evidence["samples"] == [8 * PERF.ROUNDS] * 2


def test_nothing_is_measured_again_beside_other_checks() -> None:
    asked: list[set[str]] = []
    outcomes, seen = PERF._measure(lambda cases: asked.append(cases) or _round(cases),
                                   lambda _: PAIRS, "another check ran beside it")
    assert len(asked) == 1 and len(outcomes) == 1
    assert all(o.status is observe.Status.UNDECIDED for o in seen.values())
