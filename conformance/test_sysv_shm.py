"""Checks of System V shared memory: shared frames, size limits, persistence without a file.

shmget(2), shmat(2), shmctl(2): every attachment of a segment, at whatever
address, refers to the same frames of the segment's shmem object; a
segment's size is limited by SHMMAX (EINVAL) and SHMALL (ENOSPC), not by
physical memory at creation; a segment outlives the processes that made
it until ``IPC_RMID`` (kernel persistence) and has no file on any disk, so
a restart loses it.  Keys come from the suite's range, one slot per check;
a finaliser removes the segment even if a probe died before ``IPC_RMID``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from helpers import observe
from helpers.probes.sysv_shm import (
    attached_frames,
    key_for,
    large_segment,
    outlives_creator,
    remove_key,
)

TOKEN = b"segment"


@pytest.fixture
def sysv_key() -> Iterator[Callable[[str], int]]:
    """Return ``key(slot)``: this run's key for a slot; the segment is removed at teardown."""
    used: list[int] = []

    def key(slot: str) -> int:
        used.append(key_for(slot))
        return used[-1]

    yield key
    for value in used:
        remove_key(value)


@pytest.mark.claim("mmap-notes.shm-same-physical-memory", "mmap-notes.shm-fewer-copies")
def test_attachments_share_physical_frames(probe, prediction, sysv_key):
    outcome = probe(attached_frames, sysv_key("frames"), 4, TOKEN)
    same = observe.field(outcome, "same_frames")
    if same.value is None:  # the frame numbers were hidden: nothing to compare
        same = observe.unobservable("/proc/pid/pagemap hides page frame numbers here "
                                    "(CAP_SYS_ADMIN is needed)", outcome)
    prediction.observe("two-attachments-same-frames", same,
                       claim="mmap-notes.shm-same-physical-memory")
    prediction.observe("child-reads-from-the-same-frames", same,
                       claim="mmap-notes.shm-fewer-copies")
    assert outcome.ok, outcome
    seen = outcome.value
    other = seen["other"]
    assert None not in seen["frames"] and 0 not in seen["frames"], seen
    assert other["frames"] == seen["frames"], seen
    assert other["reads"].startswith(TOKEN.hex()), seen


@pytest.mark.claim("mmap-notes.shm-capacity-small")
def test_large_segment_can_be_created(probe, prediction, sysv_key):
    size = 1 << 30
    outcome = probe(large_segment, sysv_key("capacity"), size)
    prediction.observe("one-gib-segment", observe.field(outcome, "result"))
    assert outcome.ok, outcome
    seen = outcome.value
    limits = seen["limits"]
    if size <= limits["shmmax"] and size // 4096 <= limits["shmall"]:
        assert seen["result"] == "created" and seen["listed_size"] == size, seen
    else:
        assert seen["result"] in ("EINVAL", "ENOSPC", "ENOMEM"), seen


@pytest.mark.claim("mmap-notes.shmget-lost-on-reboot")
def test_segment_outlives_creator_but_has_no_file(probe, prediction, sysv_key):
    key = sysv_key("persistence")
    outcome = probe(outlives_creator, key, TOKEN, timeout=20.0)
    # No restart can happen in a run (the entry is untestable): the evidence is that the
    # segment is backed by no file of any mounted filesystem.
    prediction.observe("backed-by-a-file-on-disk",
                       observe.field(outcome, "device_is_mounted_filesystem"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["listed_after_creator_exit"] is not None, seen
    assert seen["unrelated_reads"] == TOKEN.hex(), seen
    assert seen["maps_name"] == f"/SYSV{key:08x} (deleted)", seen
    assert not seen["device_is_mounted_filesystem"], seen
