"""Checks of the documents' speed claims: medians of alternating runs, never a failed test.

No specification promises speed.  Each claim gets its verdict from the
medians of at least nine runs timed in one probe, with a stated margin
(:data:`helpers.probes.timing.MARGIN`: the faster side must be at least 10 %
faster); the tests assert only what must hold whatever the timing (every
message arrived intact, every measurement was taken).  The loops run in
Python, so interpreter overhead is part of every figure, as the evidence
says.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.sysv_shm import key_for, remove_key
from helpers.probes.timing import compare, file_access, segment_versus_file, transports

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
RUNS = 9
TRANSPORTS = ["shared memory", "pipe", "FIFO", "POSIX message queue", "Unix socket"]
MESSAGES = {64: 600, 64 * 1024: 48}  # message size: messages per batch


@pytest.fixture
def timing_key() -> Iterator[int]:
    """Return this run's key for the timed System V segment; removed at teardown."""
    yield key_for("timing")
    remove_key(key_for("timing"))


@pytest.mark.claim("memmap-ipc.mmap-faster-file-access", "go-mmap.mmap-suits-frequent-access")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_versus_pread_on_a_warm_file(probe, prediction, sized_file, layer):
    outcome = probe(file_access, sized_file(1024 * PAGE_SIZE, fill=b"w"), layer, RUNS, 3000,
                    timeout=20.0)
    assert outcome.ok, outcome
    patterns = outcome.value["patterns"]
    assert all(len(t) == RUNS for p in patterns.values() for t in p["seconds"].values()), outcome
    figures = {k: v for k, v in outcome.value.items() if k != "patterns"}
    for pattern, timed in patterns.items():
        claim = ("go-mmap.mmap-suits-frequent-access" if "writes" in pattern
                 else "memmap-ipc.mmap-faster-file-access")
        prediction.record("faster", timed["mapping"], case=f"{pattern} (mapping)",
                          claim=claim, central=pattern != "sequential pass",
                          medians=timed["medians"], seconds=timed["seconds"], **figures)


@pytest.mark.claim("memmap-ipc.mapping-faster-than-pipe", "go-mmap.shm-fastest-ipc")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_memory_versus_other_transports(probe, prediction, layer):
    outcome = probe(transports, TRANSPORTS, MESSAGES, RUNS, layer, timeout=30.0)
    assert outcome.ok, outcome
    for size, timed in outcome.value["sizes"].items():
        for kind, intact in timed["intact"].items():
            assert intact == [timed["messages"]] * RUNS, (size, kind, timed)
        medians = timed["medians"]
        versus_pipe = {k: medians[k] for k in ("shared memory", "pipe")}
        evidence = {"medians": medians, "seconds": timed["seconds"],
                    "margin": outcome.value["margin"], "note": outcome.value["note"]}
        central = int(size) > 64  # the documents' reason (no copy) weighs with large messages
        prediction.record("faster", compare(versus_pipe, "shared memory"),
                          case=f"{size}-byte messages, versus a pipe", central=central,
                          claim="memmap-ipc.mapping-faster-than-pipe", **evidence)
        prediction.record("fastest", timed["shared memory"], central=central,
                          case=f"{size}-byte messages, versus {', '.join(TRANSPORTS[1:])}",
                          claim="go-mmap.shm-fastest-ipc", **evidence)


@pytest.mark.claim("mmap-notes.shm-faster-than-mmap-disk")
def test_segment_versus_file_mapping(probe, prediction, sized_file, timing_key):
    outcome = probe(segment_versus_file, sized_file(2048 * PAGE_SIZE, fill=b"d"), timing_key,
                    RUNS, timeout=20.0)
    assert outcome.ok, outcome
    seen = outcome.value
    assert all(len(v) == RUNS for v in seen["warm"]["seconds"].values()), seen
    figures = {"margin": seen["margin"], "note": seen["note"], "size": seen["size"]}
    prediction.record("faster", seen["cold"]["System V segment"],
                      case="first pass, file not in the page cache", central=True,
                      seconds=seen["cold"]["seconds"], cache_dropped=seen["cache_dropped"],
                      **figures)
    prediction.record("faster", seen["warm"]["System V segment"],
                      case="repeated passes, all pages resident", central=False,
                      medians=seen["warm"]["medians"], seconds=seen["warm"]["seconds"], **figures)
