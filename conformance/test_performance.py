"""Checks of the documents' speed claims: samples of alternating runs, never a failed test.

No specification promises speed.  Each speed case is observed with
:func:`helpers.observe.faster` from every duration the probe took, on the
ratio of each run (both sides timed next to each other, so that a slow
phase of the shared machine slows both): the median of the run ratios with
its bootstrap 95 % interval against the catalogue's margin
(:data:`helpers.probes.timing.MARGIN`, "10 percent"), undecided when the
interval straddles it.  The samples come in rounds (sequential sampling):
each round takes about a third of the runs one full measurement would; a
comparison the rule leaves undecided is measured again, alone, up to
:data:`ROUNDS` rounds, and decided on the runs of all its rounds.  The
file-access comparisons, whose ratio sits near the margin and moves with
the state of the machine, take :data:`FILE_ROUNDS` rounds by design and
are judged with the round as the unit (the median of the rounds' ratios,
its interval over rounds): a phase that changes the ratio itself shows as
rounds that disagree, and rounds on both sides of the margin leave the
comparison undecided instead of letting the many runs of each narrow the
interval.  Looking again after each round gives
a comparison near the margin more than one chance to be decided, so the
95 % holds for each look rather than for the whole series; most comparisons
are far from the margin and end after their first round (the file-access
ones after two, :data:`FILE_ROUNDS`).  The checks run alone (``serial``: no
other check of the run beside them), and a check that could not is
undecided rather than timed in the noise.  The tests assert only what must
hold whatever the timing: every message arrived intact, every read
delivered the file's bytes, every run was timed.  The loops run in Python,
so interpreter overhead is part of every figure, as the evidence says; in
the file-access checks both sides make the same kind and number of calls per
access (:func:`helpers.probes.timing.file_access`), so that it divides out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Sequence

import pytest

from helpers import observe
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.probes.sysv_shm import key_for, remove_key
from helpers.probes.timing import MARGIN, file_access, segment_versus_file, transports

pytestmark = pytest.mark.serial

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
#: Runs per access pattern and round.  The two sides of a run are timed next to each other, so
#: the ratios of one round agree closely; what moves a ratio shows between rounds, and every
#: comparison takes at least :data:`FILE_ROUNDS` of them.
FILE_RUNS = {"sequential pass": 7, "random 64-byte reads": 7,
             "random 8-byte reads and writes": 7}
#: Rounds every file-access comparison takes before it may be decided: the sequential pass
#: through a mapping and through pread copy the same 4 MiB, and their ratio moves between about
#: 1.0 and 1.2 with the state of the machine, across the 10 percent margin.
FILE_ROUNDS = 2
ACCESSES = 1000
TRANSPORTS = ["shared memory", "pipe", "FIFO", "POSIX message queue", "Unix socket"]
#: Message size: (messages per batch, runs per round).  Moving 1 MiB messages is bound by
#: memory bandwidth, which the rest of a busy machine shares, so they take more runs.
MESSAGES = {64: (200, 7), 1 << 20: (4, 11)}
SIZE_CASES = {"64": "small-messages", str(1 << 20): "large-messages"}
#: Runs per round of the warm and the cold phase.  Warm passes vary with the memory traffic
#: of the rest of the machine, so they take many (cheap) runs; a cold run drops and re-reads
#: the file, so it takes fewer.
WARM_RUNS, COLD_RUNS = 34, 7


#: At most this many rounds of measurement: a comparison still undecided after a round is
#: measured again, alone, and decided on the samples of all its rounds (pooled), so a shift
#: of the machine's load during one round does not leave it in the noise; a decided one is
#: not measured again.  Nine rounds of a third hold as many samples as three full ones.
ROUNDS = 9

#: A compared pair: where its durations are in the probe's value, the faster side, the other.
Pair = tuple[tuple[str, ...], str, str]


def _rounds(outcomes: Sequence[Outcome], path: tuple[str, ...], name: str) -> list[list[float]]:
    """Return the samples of ``name`` per round, leaving out the rounds that did not time it."""
    rounds: list[list[float]] = []
    for outcome in outcomes:
        value = outcome.value
        for key in path:
            value = value.get(key, {}) if isinstance(value, dict) else {}
        if samples := value.get(name, []) if isinstance(value, dict) else []:
            rounds.append(list(samples))
    return rounds


def _pooled(outcomes: Sequence[Outcome], path: tuple[str, ...], name: str) -> list[float]:
    """Return the samples of ``name`` of all rounds, for a median that picks a contender."""
    return [sample for samples in _rounds(outcomes, path, name) for sample in samples]


def _compare(outcomes: Sequence[Outcome], pair: Pair, beside: str | None, *,
             by_round: bool) -> observe.Observation:
    """Return whether one side beat the other by the margin, on the run ratios of all rounds.

    Both sides are timed in every run of a round, so run ``i`` of the one
    pairs with run ``i`` of the other.  ``by_round``: the method takes
    several rounds by design, to see a ratio that moves with the state of
    the machine, and the rounds are passed on, so that rounds on both sides
    of the margin leave the comparison undecided.  Otherwise the rounds are
    the sequential re-measurement of a comparison its first round left
    undecided, and every run counts alike (pooled): a first round that a
    burst of the machine's load made too noisy to decide is outweighed by
    the runs taken after it instead of vetoing them.
    """
    path, fast, slow = pair
    if beside:
        return observe.undecided(f"timed beside other checks: {beside}", outcomes[0])
    if broken := next((o for o in outcomes if not o.ok), None):
        return observe.result(broken)
    fast_rounds, slow_rounds = _rounds(outcomes, path, fast), _rounds(outcomes, path, slow)
    return observe.faster([s for r in fast_rounds for s in r], [s for r in slow_rounds for s in r],
                          rounds=[len(r) for r in fast_rounds] if by_round else None,
                          margin=MARGIN)


def _measure(run: Callable[[set[str]], Outcome],
             pairs: Callable[[Sequence[Outcome]], dict[str, Pair]],
             beside: str | None, *,
             at_least: int = 1) -> tuple[list[Outcome], dict[str, observe.Observation]]:
    """Measure in rounds until every comparison is decided (or :data:`ROUNDS` are spent).

    ``run(keys)`` takes one round of the comparisons named by ``keys`` (the
    first ``at_least`` rounds all of them); each comparison is judged on the
    run ratios of every round that measured it.  A ratio that moves with the
    state of the machine (a phase of a shared host lasts longer than a
    round) can only show as rounds that disagree when more than one round
    was taken; ``at_least`` asks for that where a comparison sits near the
    margin, and then the comparison is judged round by round (see
    :func:`_compare`).
    """
    outcomes = [run(set(pairs([])))]
    while len(outcomes) < at_least and outcomes[-1].ok and not beside:
        outcomes.append(run(set(pairs(outcomes))))
    while True:
        seen = {key: _compare(outcomes, pair, beside, by_round=at_least > 1)
                for key, pair in pairs(outcomes).items()}
        undecided = {key for key, o in seen.items() if o.status is observe.Status.UNDECIDED}
        if not undecided or beside or len(outcomes) == ROUNDS or not outcomes[-1].ok:
            return outcomes, seen
        outcomes.append(run(undecided))


@pytest.fixture
def timing_key() -> Iterator[int]:
    """Return this run's key for the timed System V segment; removed at teardown."""
    yield key_for("timing")
    remove_key(key_for("timing"))


FILE_CASES = {
    "random-reads": ("memmap-ipc.mmap-faster-file-access", "random 64-byte reads", "pread"),
    "sequential-pass": ("memmap-ipc.mmap-faster-file-access", "sequential pass", "pread"),
    "small-reads-and-writes": ("go-mmap.mmap-suits-frequent-access",
                               "random 8-byte reads and writes", "pread/pwrite"),
}


@pytest.mark.claim("memmap-ipc.mmap-faster-file-access", "go-mmap.mmap-suits-frequent-access")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_versus_pread_on_a_warm_file(probe, prediction, sized_file, layer,
                                             ran_beside_others):
    path = sized_file(1024 * PAGE_SIZE, fill=b"w")

    def one_round(cases: set[str]) -> Outcome:
        runs = {pattern: FILE_RUNS[pattern] for case, (_, pattern, _) in FILE_CASES.items()
                if case in cases}
        return probe(file_access, path, layer, runs, ACCESSES, timeout=30.0)

    outcomes, seen = _measure(
        one_round,
        lambda _: {case: (("patterns", pattern, "seconds"), "mapping", other)
                   for case, (_, pattern, other) in FILE_CASES.items()},
        ran_beside_others, at_least=FILE_ROUNDS)
    for case, (claim, _, _) in FILE_CASES.items():
        prediction.observe(case, seen[case], claim=claim)
    for outcome in outcomes:
        assert outcome.ok, outcome
        assert outcome.value["reads_agree"] is not False, outcome
        assert all(len(t) == FILE_RUNS[p] for p, timed in outcome.value["patterns"].items()
                   for t in timed["seconds"].values()), outcome
    assert set(outcomes[0].value["patterns"]) == set(FILE_RUNS), outcomes[0]


def _transport_pairs(outcomes: Sequence[Outcome]) -> dict[str, Pair]:
    """Return the comparisons per size: against a pipe, and against the quickest of the others."""
    pairs: dict[str, Pair] = {}
    for size, case in SIZE_CASES.items():
        path = ("sizes", size, "seconds")
        medians = {kind: statistics.median(samples) for kind in TRANSPORTS[1:]
                   if (samples := _pooled(outcomes, path, kind))}
        best = min(medians, key=medians.__getitem__, default="pipe")
        pairs[f"{case} pipe"] = (path, "shared memory", "pipe")
        pairs[f"{case} best"] = (path, "shared memory", best)
    return pairs


@pytest.mark.claim("memmap-ipc.mapping-faster-than-pipe", "go-mmap.shm-fastest-ipc")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_memory_versus_other_transports(probe, prediction, layer, ran_beside_others):

    def one_round(cases: set[str]) -> Outcome:
        sizes = {size: runs for size, runs in MESSAGES.items()
                 if any(key.startswith(SIZE_CASES[str(size)] + " ") for key in cases)}
        return probe(transports, TRANSPORTS, sizes, layer, timeout=40.0)

    outcomes, seen = _measure(one_round, _transport_pairs, ran_beside_others)
    for case in SIZE_CASES.values():
        prediction.observe(case, seen[f"{case} pipe"], claim="memmap-ipc.mapping-faster-than-pipe")
        # Fastest of all: faster than the quickest of the others.
        prediction.observe(case, seen[f"{case} best"], claim="go-mmap.shm-fastest-ipc")
    for outcome in outcomes:
        assert outcome.ok, outcome
        for size, timed in outcome.value["sizes"].items():
            assert timed["runs"] == MESSAGES[int(size)][1], (size, timed)
            for kind, intact in timed["intact"].items():
                assert intact == [timed["messages"]] * timed["batches"], (size, kind, timed)
    assert set(outcomes[0].value["sizes"]) == set(SIZE_CASES), outcomes[0]


def _segment_pairs(outcomes: Sequence[Outcome]) -> dict[str, Pair]:
    """Return the warm comparison, and the cold one unless a drop of the cache failed."""
    phases = ["warm"]
    if all(o.value.get("cache_dropped", True) for o in outcomes if o.ok):
        phases.insert(0, "cold")
    return {phase: ((phase, "seconds"), "System V segment", "file mapping") for phase in phases}


@pytest.mark.claim("mmap-notes.shm-faster-than-mmap-disk")
def test_segment_versus_file_mapping(probe, prediction, sized_file, timing_key,
                                     ran_beside_others):
    path = sized_file(1024 * PAGE_SIZE, fill=b"d")

    def one_round(phases: set[str]) -> Outcome:
        return probe(segment_versus_file, path, timing_key,
                     WARM_RUNS if "warm" in phases else 0,
                     COLD_RUNS if "cold" in phases else 0, timeout=30.0)

    outcomes, seen = _measure(one_round, _segment_pairs, ran_beside_others)
    if "cold" not in seen:
        seen["cold"] = observe.unobservable(
            "the file's cached pages could not be dropped (a filesystem without a separate "
            "page cache, such as tmpfs), so a cold first pass cannot be timed", outcomes[0])
    prediction.observe("cold-first-pass", seen["cold"])
    prediction.observe("warm-passes", seen["warm"])
    for outcome in outcomes:
        assert outcome.ok, outcome
        for phase, runs in (("cold", COLD_RUNS), ("warm", WARM_RUNS)):
            timed = outcome.value.get(phase, {"seconds": {}})["seconds"]
            assert all(len(v) == runs for v in timed.values()), outcome
    assert {"cold", "warm"} <= set(outcomes[0].value), outcomes[0]
