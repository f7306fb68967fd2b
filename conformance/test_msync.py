"""Checks of msync and of when stores through a shared mapping reach the file and the disk.

mmap(2), msync(2): a MAP_SHARED store is in the page cache at once, so
read(2) and every other mapping of the file see it; the disk is written
later by writeback, or before ``msync(MS_SYNC)`` returns.  ``MS_ASYNC`` is a
no-op since Linux 2.6.19; ``MS_INVALIDATE`` has nothing to refresh on a
unified page cache and fails with EBUSY on a locked range.  ``msync``
wants a page-aligned address (EINVAL) and a fully mapped range (ENOMEM).
Dirty state is read from ``/proc/self/smaps``; files are written back
before each probe so that only the probe's stores are dirty.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.msync import (
    async_versus_sync,
    invalidate_between_processes,
    store_and_follow,
    survives_writer,
    sync_cleans,
    sync_subrange,
)

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"stored!"


def on_disk(dirty_kb: int) -> str:
    """Return the vocabulary both predictions and observations use for a page's state."""
    return "on disk" if dirty_kb == 0 else "dirty in the page cache, not yet written back"


@pytest.mark.claim("memmap-ipc.shared-change-synced-to-disk", "unp-shm.msync-needed-before-munmap",
                   "mmap-notes.mapping-is-disk-directly")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_store_is_in_page_cache_at_once_and_on_disk_after_msync(
        probe, prediction, sized_file, layer):
    outcome = probe(store_and_follow, sized_file(4 * PAGE_SIZE, fill=b"."), layer, TOKEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["new_descriptor_reads"] == TOKEN.hex(), seen
    assert seen["dirty_kb_before_store"] == 0 < seen["dirty_kb_after_store"], seen
    assert seen["dirty_kb_after_sync"] == 0, seen
    visible = "sees the store" if seen["new_descriptor_reads"] == TOKEN.hex() else "stale"
    after_store = on_disk(seen["dirty_kb_after_store"])
    prediction.record("sees the store", visible, case="read(2) right after the store",
                      claim="memmap-ipc.shared-change-synced-to-disk", **seen)
    prediction.record("on disk", after_store, case="right after the store, no further call",
                      claim="memmap-ipc.shared-change-synced-to-disk", central=False)
    prediction.record("stale", visible, case="read(2) before any msync or munmap",
                      claim="unp-shm.msync-needed-before-munmap", **seen)
    prediction.record(
        "not written back by munmap", "not written back by munmap"
        if seen["dirty_kb_after_munmap_without_msync"] else "written back by munmap",
        case="munmap without msync", claim="unp-shm.msync-needed-before-munmap", central=False)
    prediction.record("on disk", after_store, case="right after the store",
                      claim="mmap-notes.mapping-is-disk-directly")
    faults = seen["first_read_faults"]
    prediction.record("no kernel involvement", "page faults" if any(faults.values())
                      else "no kernel involvement", case="first access after the cache was dropped",
                      claim="mmap-notes.mapping-is-disk-directly", faults=faults,
                      cache_dropped=seen["cache_dropped"])


@pytest.mark.claim("unp-shm.msync-subrange")
@pytest.mark.parametrize("layer", LAYERS)
def test_msync_of_a_page_aligned_subrange(probe, prediction, sized_file, layer):
    outcome = probe(sync_subrange, sized_file(256 * PAGE_SIZE, fill=b"."), layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["dirty_kb_before"] > seen["dirty_kb_after_page_1"] > 0, seen
    assert seen["dirty_kb_after_last_page"] == 0, seen
    assert seen["unaligned"] == "EINVAL", seen
    assert seen["past_end"] == ("ENOMEM" if layer == "libc" else
                                "ValueError: flush values out of range"), seen
    prediction.record("syncs only that part", "syncs only that part", case="msync of page 1",
                      **seen)


@pytest.mark.claim("unp-shm.ms-async-returns-immediately")
@pytest.mark.parametrize("layer", LAYERS)
def test_ms_async_returns_before_anything_is_written(probe, prediction, sized_file, layer):
    outcome = probe(async_versus_sync, sized_file(2048 * PAGE_SIZE, fill=b"."), layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["dirty_kb"] == seen["size"] // 1024, seen
    assert seen["dirty_kb_after_sync"] == 0, seen
    waited = seen["dirty_kb_after_async"] == 0 or seen["async_seconds"] > seen["sync_seconds"]
    prediction.record("returns without waiting for storage",
                      "waited" if waited else "returns without waiting for storage",
                      case="msync(MS_ASYNC) of 8 MiB of dirty pages", **seen,
                      pymmap_note="Python's mmap offers only flush() (MS_SYNC); MS_ASYNC was "
                      "called on the address of the mmap object" if layer == "pymmap" else None)


@pytest.mark.claim("unp-shm.ms-sync-blocks-until-written")
@pytest.mark.parametrize("layer", LAYERS)
def test_ms_sync_leaves_no_dirty_page(probe, prediction, sized_file, layer):
    outcome = probe(sync_cleans, sized_file(16 * PAGE_SIZE, fill=b"."), layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["dirty_kb_before"] > 0 and seen["dirty_kb_after"] == 0, seen
    call = "mmap.flush()" if layer == "pymmap" else "msync(MS_SYNC)"
    left = "no dirty page left" if seen["dirty_kb_after"] == 0 else "dirty pages left"
    prediction.record("no dirty page left", left, case=f"after {call}", **seen)


@pytest.mark.claim("unp-shm.ms-invalidate-refreshes-others")
def test_other_mappings_are_current_without_ms_invalidate(probe, prediction, sized_file):
    outcome = probe(invalidate_between_processes, sized_file(PAGE_SIZE, fill=b"."), b"abcd")
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["peer_after_store"] == b"abcd".hex(), seen
    assert seen["peer_after_pwrite"] == seen["here_after_pwrite"] == b"dcba".hex(), seen
    assert seen["peer_after_invalidate"] == b"abcd....dcba".hex(), seen
    assert seen["invalidate_locked"] == "EBUSY", seen
    current = "current" if seen["peer_after_store"] == b"abcd".hex() else "stale"
    prediction.record("stale", current, case="other process's mapping before any msync", **seen)
    prediction.record("stale", "current" if seen["peer_after_pwrite"] == b"dcba".hex()
                      else "stale", case="other mapping after write(2) to the file",
                      central=False)


@pytest.mark.claim("mmap-notes.mmap-survives-reboot")
@pytest.mark.parametrize("layer", LAYERS)
def test_stored_data_outlives_writer_and_page_cache(probe, prediction, sized_file, layer):
    outcome = probe(survives_writer, sized_file(PAGE_SIZE, fill=b"."), layer, TOKEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["other_process_reads"] == TOKEN.hex(), seen
    assert seen["reread_after_drop"] == TOKEN.hex(), seen
    prediction.record("still in the file", "still in the file"
                      if not any(seen["resident_after_drop"]) else "not shown (cache not dropped)",
                      case="after the writer exited and the page cache was dropped", **seen,
                      proxy="a restart is approximated by the writer's exit without msync, "
                      "then fsync and posix_fadvise(DONTNEED) forcing a re-read from the device")
