"""Checks of the documents' speed claims: samples of alternating runs, never a failed test.

No specification promises speed.  Each speed case is observed with
:func:`helpers.observe.faster` from every duration the probe took: the
bootstrap 95 % interval of the ratio of medians against the catalogue's
margin (:data:`helpers.probes.timing.MARGIN`, "10 percent"), undecided when
the interval straddles it.  The checks run alone (``serial``: no other check
of the run beside them), and a check that could not is undecided rather
than timed in the noise.  The tests assert only what must hold whatever the
timing: every message arrived intact, every run was timed.  The loops run
in Python, so interpreter overhead is part of every figure, as the evidence says.
"""

from __future__ import annotations

from collections.abc import Iterator

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


def _faster(outcome: Outcome, beside: str | None, seconds: dict[str, list[float]] | None,
            fast: str, slow: str) -> observe.Observation:
    """Return whether ``fast`` beat ``slow`` by the margin, from the probe's durations."""
    if beside:
        return observe.undecided(f"timed beside other checks: {beside}", outcome)
    if not outcome.ok or seconds is None:
        return observe.result(outcome)
    return observe.faster(seconds[fast], seconds[slow], margin=MARGIN)


def _seconds(outcome: Outcome, *path: str) -> dict[str, list[float]] | None:
    value = outcome.value if outcome.ok else None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


@pytest.fixture
def timing_key() -> Iterator[int]:
    """Return this run's key for the timed System V segment; removed at teardown."""
    yield key_for("timing")
    remove_key(key_for("timing"))


@pytest.mark.claim("memmap-ipc.mmap-faster-file-access", "go-mmap.mmap-suits-frequent-access")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_versus_pread_on_a_warm_file(probe, prediction, sized_file, layer,
                                             ran_beside_others):
    outcome = probe(file_access, sized_file(1024 * PAGE_SIZE, fill=b"w"), layer, FILE_RUNS,
                    ACCESSES, timeout=30.0)
    for case, claim, pattern, other in (
        ("random-reads", "memmap-ipc.mmap-faster-file-access", "random 64-byte reads", "pread"),
        ("sequential-pass", "memmap-ipc.mmap-faster-file-access", "sequential pass", "pread"),
        ("small-reads-and-writes", "go-mmap.mmap-suits-frequent-access",
         "random 8-byte reads and writes", "pread/pwrite"),
    ):
        seconds = _seconds(outcome, "patterns", pattern, "seconds")
        prediction.observe(case, _faster(outcome, ran_beside_others, seconds, "mapping", other),
                           claim=claim)
    assert outcome.ok, outcome
    patterns = outcome.value["patterns"]
    assert all(len(t) == FILE_RUNS[p] for p, timed in patterns.items()
               for t in timed["seconds"].values()), outcome


@pytest.mark.claim("memmap-ipc.mapping-faster-than-pipe", "go-mmap.shm-fastest-ipc")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_memory_versus_other_transports(probe, prediction, layer, ran_beside_others):
    outcome = probe(transports, TRANSPORTS, MESSAGES, layer, timeout=40.0)
    for size, case in SIZE_CASES.items():
        timed = _seconds(outcome, "sizes", size) or {}
        seconds = timed.get("seconds")
        prediction.observe(case, _faster(outcome, ran_beside_others, seconds, "shared memory",
                                         "pipe"), claim="memmap-ipc.mapping-faster-than-pipe")
        # Fastest of all: faster than the quickest of the others.
        medians = timed.get("medians") or {}
        best = min((k for k in medians if k != "shared memory"), key=medians.get, default="pipe")
        prediction.observe(case, _faster(outcome, ran_beside_others, seconds, "shared memory",
                                         best), claim="go-mmap.shm-fastest-ipc")
    assert outcome.ok, outcome
    for size, timed in outcome.value["sizes"].items():
        for kind, intact in timed["intact"].items():
            assert intact == [timed["messages"]] * timed["batches"], (size, kind, timed)


@pytest.mark.claim("mmap-notes.shm-faster-than-mmap-disk")
def test_segment_versus_file_mapping(probe, prediction, sized_file, timing_key,
                                     ran_beside_others):
    outcome = probe(segment_versus_file, sized_file(1024 * PAGE_SIZE, fill=b"d"), timing_key,
                    WARM_RUNS, COLD_RUNS, timeout=30.0)
    cold = observe.unobservable(
        "the file's cached pages could not be dropped (a filesystem without a separate "
        "page cache, such as tmpfs), so a cold first pass cannot be timed", outcome) \
        if outcome.ok and not outcome.value["cache_dropped"] else \
        _faster(outcome, ran_beside_others, _seconds(outcome, "cold", "seconds"),
                "System V segment", "file mapping")
    prediction.observe("cold-first-pass", cold)
    prediction.observe("warm-passes", _faster(outcome, ran_beside_others,
                                              _seconds(outcome, "warm", "seconds"),
                                              "System V segment", "file mapping"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert all(len(v) == COLD_RUNS for v in seen["cold"]["seconds"].values()), seen
    assert all(len(v) == WARM_RUNS for v in seen["warm"]["seconds"].values()), seen
