"""Checks of the documents' speed claims: samples of alternating runs, never a failed test.

No specification promises speed.  Each speed case is observed with
:func:`helpers.observe.faster` from every duration the probe took: the
bootstrap 95 % interval of the ratio of medians against the catalogue's
margin (:data:`helpers.probes.timing.MARGIN`, "10 percent"), undecided when
the interval straddles it; an undecided comparison is measured again, up
to :data:`ROUNDS` rounds, and decided on the samples of every round.  The
checks run alone (``serial``: no other check
of the run beside them), and a check that could not is undecided rather
than timed in the noise.  The tests assert only what must hold whatever the
timing: every message arrived intact, every run was timed.  The loops run
in Python, so interpreter overhead is part of every figure, as the evidence says.
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
#: Runs per access pattern: a sequential pass takes a fraction of a millisecond, so it gets
#: more runs, which keep its interval narrow where the two sides are close.
FILE_RUNS = {"sequential pass": 31, "random 64-byte reads": 41,
             "random 8-byte reads and writes": 15}
ACCESSES = 1000
TRANSPORTS = ["shared memory", "pipe", "FIFO", "POSIX message queue", "Unix socket"]
#: Message size: (messages per batch, runs).  Moving 1 MiB messages is bound by memory
#: bandwidth, which the rest of a busy machine shares, so they take more runs.
MESSAGES = {64: (200, 21), 1 << 20: (4, 31)}
SIZE_CASES = {"64": "small-messages", str(1 << 20): "large-messages"}
#: Warm passes vary with the memory traffic of the rest of the machine, so they take many
#: (cheap) runs; a cold run drops and re-reads the file, so it takes fewer.
WARM_RUNS, COLD_RUNS = 101, 15


#: At most this many rounds of measurement: a comparison still undecided after one round is
#: decided on the samples of all rounds so far (pooled), so a shift of the machine's load
#: during one round does not leave it in the noise; decided ones stop the measuring.
ROUNDS = 3

#: A compared pair: where its durations are in the probe's value, the faster side, the other.
Pair = tuple[tuple[str, ...], str, str]


def _pooled(outcomes: Sequence[Outcome], path: tuple[str, ...], name: str) -> list[float]:
    samples: list[float] = []
    for outcome in outcomes:
        value = outcome.value
        for key in path:
            value = value.get(key, {}) if isinstance(value, dict) else {}
        samples += value.get(name, []) if isinstance(value, dict) else []
    return samples


def _compare(outcomes: Sequence[Outcome], pair: Pair, beside: str | None) -> observe.Observation:
    """Return whether one side beat the other by the margin, on the samples of all rounds."""
    path, fast, slow = pair
    if beside:
        return observe.undecided(f"timed beside other checks: {beside}", outcomes[0])
    if broken := next((o for o in outcomes if not o.ok), None):
        return observe.result(broken)
    return observe.faster(_pooled(outcomes, path, fast), _pooled(outcomes, path, slow),
                          margin=MARGIN)


def _measure(run: Callable[[], Outcome], pairs: Callable[[Sequence[Outcome]], dict[str, Pair]],
             beside: str | None) -> tuple[list[Outcome], dict[str, observe.Observation]]:
    """Measure in rounds until every comparison is decided (or :data:`ROUNDS` are spent)."""
    outcomes = [run()]
    while True:
        seen = {key: _compare(outcomes, pair, beside) for key, pair in pairs(outcomes).items()}
        undecided = any(o.status is observe.Status.UNDECIDED for o in seen.values())
        if not undecided or beside or len(outcomes) == ROUNDS or not outcomes[-1].ok:
            return outcomes, seen
        outcomes.append(run())


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
    outcomes, seen = _measure(
        lambda: probe(file_access, path, layer, FILE_RUNS, ACCESSES, timeout=30.0),
        lambda _: {case: (("patterns", pattern, "seconds"), "mapping", other)
                   for case, (_, pattern, other) in FILE_CASES.items()},
        ran_beside_others)
    for case, (claim, _, _) in FILE_CASES.items():
        prediction.observe(case, seen[case], claim=claim)
    for outcome in outcomes:
        assert outcome.ok, outcome
        assert all(len(t) == FILE_RUNS[p] for p, timed in outcome.value["patterns"].items()
                   for t in timed["seconds"].values()), outcome


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
    outcomes, seen = _measure(
        lambda: probe(transports, TRANSPORTS, MESSAGES, layer, timeout=40.0),
        _transport_pairs, ran_beside_others)
    for case in SIZE_CASES.values():
        prediction.observe(case, seen[f"{case} pipe"], claim="memmap-ipc.mapping-faster-than-pipe")
        # Fastest of all: faster than the quickest of the others.
        prediction.observe(case, seen[f"{case} best"], claim="go-mmap.shm-fastest-ipc")
    for outcome in outcomes:
        assert outcome.ok, outcome
        for size, timed in outcome.value["sizes"].items():
            for kind, intact in timed["intact"].items():
                assert intact == [timed["messages"]] * timed["batches"], (size, kind, timed)


@pytest.mark.claim("mmap-notes.shm-faster-than-mmap-disk")
def test_segment_versus_file_mapping(probe, prediction, sized_file, timing_key,
                                     ran_beside_others):
    path = sized_file(1024 * PAGE_SIZE, fill=b"d")
    outcomes, seen = _measure(
        lambda: probe(segment_versus_file, path, timing_key, WARM_RUNS, COLD_RUNS, timeout=30.0),
        lambda _: {phase: ((phase, "seconds"), "System V segment", "file mapping")
                   for phase in ("cold", "warm")},
        ran_beside_others)
    if all(o.ok for o in outcomes) and not all(o.value["cache_dropped"] for o in outcomes):
        seen["cold"] = observe.unobservable(
            "the file's cached pages could not be dropped (a filesystem without a separate "
            "page cache, such as tmpfs), so a cold first pass cannot be timed", outcomes[0])
    prediction.observe("cold-first-pass", seen["cold"])
    prediction.observe("warm-passes", seen["warm"])
    for outcome in outcomes:
        assert outcome.ok, outcome
        seen_value = outcome.value
        assert all(len(v) == COLD_RUNS for v in seen_value["cold"]["seconds"].values()), outcome
        assert all(len(v) == WARM_RUNS for v in seen_value["warm"]["seconds"].values()), outcome
