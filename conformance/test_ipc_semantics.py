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

from helpers import observe
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
#: Trials of the unsynchronised race: two processes that start together and race 100000
#: increments each lose updates in nearly every trial, so "lost in at least one of five" is
#: stable; none lost in any is undecided.
RACE_TRIALS = 5
RACE_INCREMENTS = 100_000


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
    # The writer is held back until both reads were tried: by a go signal, never by a clock.
    outcome = probe(pipe_versus_mapping, sized_file(PAGE_SIZE), layer, TOKEN, timeout=30.0)
    pipe_claim, mapping_claim = ("memmap-ipc.pipe-blocks-mapping-does-not",
                                 "webserver-mmap.mapping-ipc-non-blocking")
    pipe_early = observe.field(outcome, "pipe_read_returned_before_write")
    mapping_early = observe.field(outcome, "mapping_read_returned_before_write")
    zeros = observe.field(outcome, "mapping_read_before_peer_is_zero")
    prediction.observe("pipe-read-returns-before-write", pipe_early, claim=pipe_claim)
    prediction.observe("mapping-read-returns-before-write", mapping_early, claim=pipe_claim)
    prediction.observe("mapping-read-sees-zeros", zeros, claim=pipe_claim)
    prediction.observe("read-returns-before-write", mapping_early, claim=mapping_claim)
    prediction.observe("read-sees-zeros", zeros, claim=mapping_claim)
    # pipe(7): read blocks while a writer exists, EAGAIN with O_NONBLOCK; loads never wait.
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["pipe_read_returned_before_write"] is False, seen
    assert seen["mapping_read_returned_before_write"] is True, seen
    assert seen["pipe_nonblocking_read"] == "EAGAIN", seen
    assert seen["mapping_read_before_peer_is_zero"], seen
    assert seen["pipe_after_peer"] == seen["mapping_after_peer"] == TOKEN.hex(), seen


@pytest.mark.claim("mmap-notes.msgqueue-related-only")
def test_unrelated_process_receives_from_message_queues(probe, prediction, shm_name, queue_key):
    name = shm_name("mq")
    try:
        outcome = probe(message_to_unrelated, name, queue_key, TOKEN, timeout=20.0)
    finally:
        with contextlib.suppress(OSError):
            MessageQueue.unlink(name)
    for facility in ("posix", "sysv"):
        prediction.observe(f"{facility}-queue", observe.field(outcome, "received", facility))
    # mq_overview(7), msgget(2): a queue is found by its name or key, by any process.
    assert outcome.ok, outcome
    assert outcome.value["messages"] == {"posix": TOKEN.hex(), "sysv": TOKEN.hex()}, outcome


@pytest.mark.claim("mmap-notes.shm-not-synchronised")
def test_unsynchronised_increments_can_lose_updates(probe, prediction):
    trials = [probe(racing_increments, RACE_INCREMENTS, locked=False, timeout=30.0)
              for _ in range(RACE_TRIALS)]
    lost = observe.happened(trials, "lost")
    if lost.observed and not lost.value:  # a race that did not show refutes nothing
        lost = observe.undecided(f"no update was lost in {lost.evidence['trials']} trials "
                                 "(the two processes may not have overlapped)")
    prediction.observe("unlocked-loses-updates", lost)
    for outcome in trials:  # every increment ran, and the count is never above the total
        assert outcome.ok, outcome
        seen = outcome.value
        assert seen["increments"] == 2 * RACE_INCREMENTS, seen
        assert 0 < seen["final"] <= 2 * RACE_INCREMENTS, seen


@pytest.mark.claim("mmap-notes.shm-not-synchronised")
def test_a_semaphore_around_each_increment_loses_none(probe, prediction):
    # As many increments as the unlocked race: a semaphore that failed to exclude would
    # lose updates as reliably as no lock at all.
    outcome = probe(racing_increments, RACE_INCREMENTS, locked=True, timeout=60.0)
    prediction.observe("semaphore-loses-none", observe.field(outcome, "lost"))
    # sem_overview(7): sem_wait/sem_post exclude each other, so every increment counts.
    assert outcome.ok, outcome
    assert outcome.value["lost"] == 0 and outcome.value["final"] == 2 * RACE_INCREMENTS, outcome


@pytest.mark.claim("mmap-notes.kinds-of-shm", "go-mmap.two-kinds-of-shm")
def test_ways_to_share_memory(probe, prediction, sized_file, shm_name, kinds_key):
    outcome = probe(shared_memory_kinds, sized_file(PAGE_SIZE), shm_name(), kinds_key, TOKEN)
    for case, kind in (("sysv-shm", "System V shmget/shmat"), ("file-mmap", "file mmap MAP_SHARED"),
                       ("posix-shm", "POSIX shm_open + mmap")):
        prediction.observe(case, observe.field(outcome, "kinds", kind, "works"),
                           claim="mmap-notes.kinds-of-shm")
    prediction.observe("attach-calls", observe.field(outcome, "attach_calls"),
                       claim="go-mmap.two-kinds-of-shm")
    prediction.observe("ways-to-obtain", observe.field(outcome, "working"),
                       claim="go-mmap.two-kinds-of-shm")
    # shmat(2), mmap(2), shm_open(3): each of these shares memory between processes.
    assert outcome.ok, outcome
    kinds = outcome.value["kinds"]
    for required in ("System V shmget/shmat", "file mmap MAP_SHARED", "POSIX shm_open + mmap",
                     "MAP_SHARED|MAP_ANONYMOUS"):
        assert kinds[required]["works"], kinds
    assert kinds["System V shmget/shmat"]["maps_name"] == f"/SYSV{kinds_key:08x} (deleted)", kinds


@pytest.mark.claim("mmap-notes.mmap-creates-file-on-disk")
@pytest.mark.parametrize("layer", LAYERS)
def test_mmap_creates_no_file(probe, prediction, sized_file, layer):
    outcome = probe(no_file_from_mmap, sized_file(PAGE_SIZE), layer)
    prediction.observe("new-directory-entries", observe.field(outcome, "new_entries"))
    # mmap(2): a mapping needs an open descriptor (EBADF without one) and creates nothing.
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["entries_after"] == seen["entries_before"], seen
    assert seen["mmap_without_fd"] == "EBADF", seen
