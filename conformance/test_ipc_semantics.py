"""Checks of what sharing memory does and does not give processes, next to other IPC.

pipe(7): read(2) on an empty pipe blocks while a writer exists (EAGAIN with
O_NONBLOCK); loads on shared memory never wait for anyone.  mq_overview(7),
msgget(2): message queues are found by name or key, so unrelated processes
use them.  Nothing orders concurrent read-modify-write sequences on shared
memory; sem_overview(7) semaphores do.  Shared memory comes from shmat
(System V) or mmap (of a file, a POSIX shm object, a memfd, or anonymous
memory); mmap creates no file (a file mapping needs a descriptor, EBADF).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.ipc import (
    MessageQueue,
    message_to_unrelated,
    no_file_from_mmap,
    pipe_versus_mapping,
    racing_increments,
    remove_message_queue,
    shared_memory_kinds,
)
from helpers.probes.sysv_shm import key_for, remove_key

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"message"
CUTOFF_S = 0.05


@pytest.fixture
def kinds_key() -> Iterator[int]:
    """Return this run's key for the System V segment of the kinds check; removed at teardown."""
    yield key_for("kinds")
    remove_key(key_for("kinds"))


@pytest.fixture
def queue_key() -> Iterator[int]:
    """Return this run's key for a System V message queue; the queue is removed at teardown."""
    yield key_for("message-queue")
    remove_message_queue(key_for("message-queue"))


@pytest.mark.claim("memmap-ipc.pipe-blocks-mapping-does-not",
                   "webserver-mmap.mapping-ipc-non-blocking")
@pytest.mark.parametrize("layer", LAYERS)
def test_empty_pipe_blocks_while_mapping_read_returns(probe, prediction, sized_file, layer):
    outcome = probe(pipe_versus_mapping, sized_file(PAGE_SIZE), layer, TOKEN, CUTOFF_S)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["pipe_blocking_read"]["blocked"], seen
    assert seen["pipe_nonblocking_read"] == "EAGAIN", seen
    assert seen["mapping_read_before_peer"] == bytes(len(TOKEN)).hex(), seen
    assert seen["pipe_after_peer"] == seen["mapping_after_peer"] == TOKEN.hex(), seen
    quick = seen["mapping_read_seconds"] < CUTOFF_S
    mapping = "returns at once (zeros)" if quick else "waited"
    pipe = "waits" if seen["pipe_blocking_read"]["blocked"] else "returns"
    claim = "memmap-ipc.pipe-blocks-mapping-does-not"
    prediction.record("waits", pipe, case="read(2) on an empty pipe", claim=claim, **seen)
    prediction.record("returns at once (zeros)", mapping, case="mapping read before the peer "
                      "wrote", claim=claim)
    prediction.record("returns at once (zeros)", mapping, case="mapping read before the peer "
                      "wrote", claim="webserver-mmap.mapping-ipc-non-blocking", **seen)


@pytest.mark.claim("mmap-notes.msgqueue-related-only")
def test_unrelated_process_receives_from_message_queues(probe, prediction, shm_name, queue_key):
    name = shm_name("mq")
    try:
        outcome = probe(message_to_unrelated, name, queue_key, TOKEN, timeout=20.0)
    finally:
        with contextlib.suppress(OSError):
            MessageQueue.unlink(name)
    assert outcome.ok, outcome
    assert outcome.value == {"posix": TOKEN.hex(), "sysv": TOKEN.hex()}, outcome
    for facility, received in outcome.value.items():
        observed = "received" if received == TOKEN.hex() else "not received"
        prediction.record("not received", observed, case=f"{facility} queue, process started "
                          "by subprocess", received=received)


@pytest.mark.claim("mmap-notes.shm-not-synchronised")
@pytest.mark.parametrize(("locked", "times"), [(False, 100_000), (True, 10_000)],
                         ids=["unlocked", "semaphore"])
def test_concurrent_increments_need_a_semaphore(probe, prediction, locked, times):
    outcome = probe(racing_increments, times, locked=locked, timeout=30.0)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["increments"] == 2 * times and 0 < seen["final"] <= 2 * times, seen
    if locked:
        assert seen["lost"] == 0, seen
        prediction.record("none lost", "none lost", case="sem_wait/sem_post around each", **seen)
    else:  # a run that happens to lose nothing does not refute "can lose"
        observed = f"lost {seen['lost']}" if seen["lost"] else "none lost in this run"
        prediction.record("can lose updates", observed, case="two processes, no lock",
                          matched=True if seen["lost"] else None, **seen)


@pytest.mark.claim("mmap-notes.kinds-of-shm", "go-mmap.two-kinds-of-shm")
def test_ways_to_share_memory(probe, prediction, sized_file, shm_name, kinds_key):
    outcome = probe(shared_memory_kinds, sized_file(PAGE_SIZE), shm_name(), kinds_key, TOKEN)
    assert outcome.ok, outcome
    kinds = outcome.value
    working = sorted(kind for kind, result in kinds.items() if result["works"])
    for required in ("System V shmget/shmat", "file mmap MAP_SHARED", "POSIX shm_open + mmap",
                     "MAP_SHARED|MAP_ANONYMOUS"):
        assert required in working, kinds
    assert kinds["System V shmget/shmat"]["maps_name"] == f"/SYSV{kinds_key:08x} (deleted)", kinds
    calls = sorted({kinds[kind]["attached_by"] for kind in working})
    listed = ["System V shmget/shmat", "file mmap MAP_SHARED", "POSIX shm_open + mmap"]
    prediction.record("all work", "all work" if set(listed) <= set(working) else "some fail",
                      case="System V shm, mmap and POSIX shm", claim="mmap-notes.kinds-of-shm",
                      **kinds)
    prediction.record(["mmap", "shmat"], calls, case="calls that attach shared memory",
                      claim="go-mmap.two-kinds-of-shm", **kinds)
    prediction.record(2, len(working), central=False, case="ways to obtain shared memory",
                      claim="go-mmap.two-kinds-of-shm", working=working)


@pytest.mark.claim("mmap-notes.mmap-creates-file-on-disk")
@pytest.mark.parametrize("layer", LAYERS)
def test_mmap_creates_no_file(probe, prediction, sized_file, layer):
    outcome = probe(no_file_from_mmap, sized_file(PAGE_SIZE), layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["entries_after"] == seen["entries_before"], seen
    assert seen["mmap_without_fd"] == "EBADF", seen
    prediction.record("a new file", "no new file" if seen["entries_after"] == seen[
        "entries_before"] else "a new file", case="file, private and shared anonymous mappings",
        **seen)
