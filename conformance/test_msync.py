"""Checks of msync and of when stores through a shared mapping reach the file and the disk.

mmap(2), msync(2): a MAP_SHARED store is in the page cache at once, so
read(2) and every other mapping of the file see it; the disk is written
later by writeback, or before ``msync(MS_SYNC)`` returns.  ``MS_ASYNC`` is a
no-op since Linux 2.6.19; ``MS_INVALIDATE`` has nothing to refresh on a
unified page cache and fails with EBUSY on a locked range.  ``msync``
wants a page-aligned address (EINVAL) and a fully mapped range (ENOMEM).
Dirty state is read from ``/proc/self/smaps``; files are written back
before each probe so that only the probe's stores are dirty.

The files live in the scratch directory, on whatever filesystem the run
validates.  Where that filesystem keeps pages only in memory (tmpfs, ramfs)
nothing is ever written back: the cases about the disk are observed as
unobservable there, and only the contract that applies (the page cache is
shared, msync succeeds) is asserted.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.platform import describe_filesystem, writes_back
from helpers.probes.msync import (
    async_versus_sync,
    invalidate_between_processes,
    private_store_and_follow,
    store_and_follow,
    survives_writer,
    sync_cleans,
    sync_subrange,
)

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"stored!"


def on_storage(outcome: Outcome, path: str, *keys: str) -> observe.Observation:
    """Observe a field about writeback, or that the file's filesystem has none to show."""
    if writes_back(path):
        return observe.field(outcome, *keys)
    return observe.unobservable(
        f"the file is on {describe_filesystem(path)}, which keeps pages only in memory: they are "
        "never written back, so whether a store reached storage cannot be seen", outcome)


@pytest.mark.claim("memmap-ipc.shared-change-synced-to-disk", "unp-shm.msync-needed-before-munmap",
                   "mmap-notes.mapping-is-disk-directly")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_store_is_in_page_cache_at_once_and_on_disk_after_msync(
        probe, prediction, sized_file, layer):
    path = sized_file(4 * PAGE_SIZE, fill=b".")
    outcome = probe(store_and_follow, path, layer, TOKEN)
    sees = observe.compare(observe.field(outcome, "new_descriptor_reads"),
                           observe.field(outcome, "stored"))
    prediction.observe("read-sees-store", sees, claim="memmap-ipc.shared-change-synced-to-disk")
    prediction.observe("read-before-msync-sees-store", sees,
                       claim="unp-shm.msync-needed-before-munmap")
    after_store = on_storage(outcome, path, "dirty_kb_after_store")
    prediction.observe("on-disk-without-msync", after_store,
                       claim="memmap-ipc.shared-change-synced-to-disk")
    prediction.observe("munmap-writes-back", on_storage(outcome, path, "munmap_wrote_back"),
                       claim="unp-shm.msync-needed-before-munmap")
    prediction.observe("on-disk-after-store", after_store,
                       claim="mmap-notes.mapping-is-disk-directly")
    prediction.observe("first-access-faults", observe.field(outcome, "first_read_fault_count"),
                       claim="mmap-notes.mapping-is-disk-directly")
    assert outcome.ok, outcome
    seen = outcome.value
    assert sees.value is True, seen  # one page cache: read(2) sees the store at once
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs
    if writes_back(path):  # dirty until written back, clean after msync(MS_SYNC)
        assert seen["dirty_kb_before_store"] == 0 < seen["dirty_kb_after_store"], seen
        assert seen["dirty_kb_after_sync"] == 0, seen


@pytest.mark.claim("memmap-ipc.shared-change-synced-to-disk")
@pytest.mark.parametrize("layer", LAYERS)
def test_private_store_never_reaches_the_file(probe, prediction, sized_file, layer):
    # The document's sentence names no mapping type, so a private writer is asked too.
    outcome = probe(private_store_and_follow, sized_file(PAGE_SIZE, fill=b"."), layer, TOKEN)
    prediction.observe("private-writer-change-synced", observe.compare(
        observe.field(outcome, "file_after_msync_and_munmap"), observe.field(outcome, "stored")))
    # mmap(2) MAP_PRIVATE: stores go to private copies and never reach the file.
    assert outcome.ok, outcome
    seen = outcome.value
    untouched = (b"." * len(TOKEN)).hex()
    assert seen["new_descriptor_reads"] == seen["file_after_msync_and_munmap"] == untouched, seen
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs


@pytest.mark.claim("unp-shm.msync-subrange")
@pytest.mark.parametrize("layer", LAYERS)
def test_msync_of_a_page_aligned_subrange(probe, prediction, sized_file, layer):
    path = sized_file(256 * PAGE_SIZE, fill=b".")
    outcome = probe(sync_subrange, path, layer)
    prediction.observe("page-aligned-part", observe.field(outcome, "sync_page_1"))
    prediction.observe("synced-part-clean",
                       on_storage(outcome, path, "dirty_kb_after_page_1", "page_1"))
    prediction.observe("rest-left-dirty",
                       on_storage(outcome, path, "dirty_kb_after_page_1", "last_page"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["sync_page_1"] == seen["sync_last_page"] == "ok", seen
    if writes_back(path):  # at least the synced range is written; more is allowed
        assert seen["dirty_kb_before"]["page_1"] > 0, seen
        assert seen["dirty_kb_after_page_1"]["page_1"] == 0, seen
        assert seen["dirty_kb_after_last_page"] == {"page_1": 0, "last_page": 0}, seen
    assert seen["unaligned"] == "EINVAL", seen
    assert seen["past_end"] == ("ENOMEM" if layer == "libc" else
                                "ValueError: flush values out of range"), seen


@pytest.mark.claim("unp-shm.ms-async-returns-immediately")
@pytest.mark.parametrize("layer", LAYERS)
def test_ms_async_returns_before_anything_is_written(probe, prediction, sized_file, layer):
    path = sized_file(2048 * PAGE_SIZE, fill=b".")
    outcome = probe(async_versus_sync, path, layer)
    prediction.observe("async-writes-nothing", on_storage(outcome, path, "written_by_async_kb"))
    assert outcome.ok, outcome
    seen = outcome.value
    if writes_back(path):
        assert seen["dirty_kb"] == seen["size"] // 1024, seen
        assert seen["dirty_kb_after_sync"] == 0, seen


@pytest.mark.claim("unp-shm.ms-sync-blocks-until-written")
@pytest.mark.parametrize("layer", LAYERS)
def test_ms_sync_leaves_no_dirty_page(probe, prediction, sized_file, layer):
    path = sized_file(16 * PAGE_SIZE, fill=b".")
    outcome = probe(sync_cleans, path, layer)
    prediction.observe("no-dirty-page-after", on_storage(outcome, path, "dirty_kb_after"))
    assert outcome.ok, outcome
    seen = outcome.value
    if writes_back(path):
        assert seen["dirty_kb_before"] > 0 and seen["dirty_kb_after"] == 0, seen


@pytest.mark.claim("unp-shm.ms-invalidate-refreshes-others")
def test_other_mappings_are_current_without_ms_invalidate(probe, prediction, sized_file):
    outcome = probe(invalidate_between_processes, sized_file(PAGE_SIZE, fill=b"."), b"abcd")
    prediction.observe("peer-stale-before-msync", observe.compare(
        observe.field(outcome, "peer_after_store"), observe.field(outcome, "stored")))
    prediction.observe("peer-stale-after-write", observe.compare(
        observe.field(outcome, "peer_after_pwrite"), observe.field(outcome, "written")))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["peer_after_store"] == b"abcd".hex(), seen
    assert seen["peer_after_pwrite"] == seen["here_after_pwrite"] == b"dcba".hex(), seen
    assert seen["peer_after_invalidate"] == b"abcd....dcba".hex(), seen
    locked = observe.field(outcome, "invalidate_locked")  # unobservable if no page may be locked
    assert not locked.observed or locked.value == "EBUSY", seen


@pytest.mark.claim("mmap-notes.mmap-survives-reboot")
@pytest.mark.parametrize("layer", LAYERS)
def test_stored_data_outlives_writer_and_page_cache(probe, prediction, sized_file, layer):
    # No restart happens in a run (the entry is untestable).  The evidence: the writer exits
    # without msync, then fsync and posix_fadvise(DONTNEED) force the next read to the device.
    path = sized_file(PAGE_SIZE, fill=b".")
    outcome = probe(survives_writer, path, layer, TOKEN)
    if not writes_back(path):
        from_device = on_storage(outcome, path, "reread_after_drop")
    elif outcome.ok and any(outcome.value["resident_after_drop"]):
        from_device = observe.undecided("the page cache kept the file's pages after fsync and "
                                        "posix_fadvise(DONTNEED); the re-read was not from "
                                        "the device", outcome)
    else:
        from_device = observe.compare(observe.field(outcome, "reread_after_drop"),
                                      observe.field(outcome, "stored"))
    prediction.observe("reread-after-cache-drop-sees-store", from_device)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["other_process_reads"] == TOKEN.hex(), seen
    assert seen["reread_after_drop"] == TOKEN.hex(), seen
