"""Checks of the physical side of mappings: shared frames, lazy pages, copies, system calls.

proc(5) pagemap: bit 63 says a virtual page is present, bits 0-54 give its
frame number to a reader with CAP_SYS_ADMIN.  mmap(2): a mapping only
reserves addresses, frames come on first access; MAP_SHARED mappings of a
file in any process use the file's page-cache frames.  read(2) copies from
the page cache into the caller's buffer.  Loads and stores on a mapping are
not system calls, so ``syscr``/``syscw``/``rchar``/``wchar`` of
``/proc/self/io`` do not move (only page faults count them).
"""

from __future__ import annotations

import pytest

from helpers import observe, scratch
from helpers.libc import PAGE_SIZE
from helpers.platform import huge_page_bytes
from helpers.probes.pages import (
    frames_across_fork,
    frames_shared_with_unrelated,
    presence_on_access,
    read_copy_frames,
    rss_of_large_mapping,
    shared_library_mappings,
    syscalls_of_mapped_access,
)

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"page cache"
SAME_FRAMES = ("webserver-mmap.shared-same-physical-pages",
               "memmap-ipc.mapping-bypasses-kernel-buffer", "go-mmap.mmap-one-copy")


HIDDEN = "/proc/pid/pagemap hides page frame numbers from this run (CAP_SYS_ADMIN is needed)"


def _frames(outcome, *path):
    """Observe a comparison of frame numbers, or that the frames were hidden here."""
    seen = observe.field(outcome, *path)
    return observe.unobservable(HIDDEN, outcome) if seen.value is None else seen


@pytest.mark.claim(*SAME_FRAMES)
@pytest.mark.parametrize("layer", LAYERS)
def test_unrelated_processes_map_the_same_page_cache_frames(probe, prediction, sized_file, layer):
    outcome = probe(frames_shared_with_unrelated, sized_file(4 * PAGE_SIZE, fill=b"f"), layer,
                    TOKEN, timeout=20.0)
    same = _frames(outcome, "same_frames")
    prediction.observe("two-processes-same-frames", same, claim=SAME_FRAMES[0])
    prediction.observe("two-processes-same-frames", same, claim=SAME_FRAMES[1])
    # The frames are the file's page cache: read(2) from a third descriptor sees the store.
    prediction.observe("read-sees-the-store", observe.field(outcome, "read_sees_store"),
                       claim=SAME_FRAMES[1])
    prediction.observe("process-page-is-page-cache", same, claim=SAME_FRAMES[2])
    prediction.observe("bytes-copied-while-reading",
                       observe.field(outcome, "bytes_copied_while_reading"), claim=SAME_FRAMES[2])
    assert outcome.ok, outcome
    seen = outcome.value
    assert None not in seen["frames"] and 0 not in seen["frames"], seen
    assert seen["other_frames"] == seen["frames"], seen
    assert seen["third_descriptor_reads"] == TOKEN.hex(), seen
    assert seen["io_while_reading"]["rchar"] == 0, seen


@pytest.mark.claim("go-mmap.shm-no-copy-between-processes")
@pytest.mark.parametrize("layer", LAYERS)
def test_forked_processes_share_frames_of_shared_memory(probe, prediction, layer):
    outcome = probe(frames_across_fork, layer, 4, TOKEN)
    prediction.observe("parent-and-child-same-frames", _frames(outcome, "same_frames"))
    prediction.observe("child-stores-seen", observe.field(outcome, "child_stores_seen"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert None not in seen["frames"] and seen["child_frames"] == seen["frames"], seen
    assert seen["reads"] == [TOKEN.hex()] * 4, seen


@pytest.mark.claim("webserver-mmap.virtual-pages-mapped-on-access", "mmap-notes.addr-is-physical")
@pytest.mark.parametrize("layer", LAYERS)
def test_pages_appear_only_when_touched(probe, prediction, layer):
    outcome = probe(presence_on_access, layer, 64)
    present = observe.field(outcome, "present_before_touch")
    prediction.observe("present-before-touch", present,
                       claim="webserver-mmap.virtual-pages-mapped-on-access")
    prediction.observe("present-exactly-where-touched",
                       observe.field(outcome, "present_exactly_where_touched"),
                       claim="webserver-mmap.virtual-pages-mapped-on-access")
    prediction.observe("present-as-soon-as-mapped", present, claim="mmap-notes.addr-is-physical")
    prediction.observe("child-store-same-frame", _frames(outcome, "child_same_frame"),
                       claim="mmap-notes.addr-is-physical")
    assert outcome.ok, outcome
    seen = outcome.value
    touched = set(seen["touched"])
    assert not any(seen["before"]["present"]), seen
    assert [i for i, p in enumerate(seen["after"]["present"]) if p] == sorted(touched), seen
    if seen["parent_frame"]:  # frame numbers read as zero without CAP_SYS_ADMIN
        assert seen["child_frame"] != seen["parent_frame"], seen  # copy-on-write after fork


@pytest.mark.claim("go-mmap.mapping-larger-than-physical")
@pytest.mark.parametrize("layer", LAYERS)
def test_large_mapping_uses_memory_only_for_touched_pages(probe, prediction, sized_file, layer):
    outcome = probe(rss_of_large_mapping, sized_file(0), layer, 128 << 20, 10)
    prediction.observe("128-mib-mapped-10-pages-stored",
                       observe.field(outcome, "memory_only_for_touched"))
    assert outcome.ok, outcome
    seen = outcome.value
    # A touched page brings in the page it lies in: a 2 MiB one on tmpfs huge=always.
    huge = huge_page_bytes(scratch.directory())
    most = seen["touched_kb"] * (huge // PAGE_SIZE if huge else 1)
    assert seen["rss_before_kb"] == 0, seen
    assert seen["touched_kb"] <= seen["rss_after_kb"] <= most, seen


@pytest.mark.claim("memmap-ipc.access-without-syscalls", "mmap-notes.file-access-without-syscalls")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapped_access_makes_no_read_or_write_calls(probe, prediction, sized_file, layer):
    outcome = probe(syscalls_of_mapped_access, sized_file(16 * PAGE_SIZE, fill=b"s"), layer)
    for claim in ("memmap-ipc.access-without-syscalls", "mmap-notes.file-access-without-syscalls"):
        prediction.observe("read-write-calls", observe.field(
            outcome, "read_write_calls_while_mapped"), claim=claim)
        prediction.observe("bytes-counted", observe.field(
            outcome, "bytes_counted_while_mapped"), claim=claim)
    assert outcome.ok, outcome
    seen = outcome.value
    calls = ("syscr", "syscw", "rchar", "wchar")
    pages, mapped = seen["pages"], seen["mapped"]
    assert [seen["looking"][key] for key in calls] == [0, 0, 0, 0], seen
    assert [mapped[key] for key in calls] == [0, 0, 0, 0], seen
    assert mapped["minflt"] + mapped["majflt"] > 0, seen
    assert seen["syscalls"]["syscr"] == seen["syscalls"]["syscw"] == pages, seen


@pytest.mark.claim("go-mmap.read-two-copies")
def test_read_leaves_data_in_page_cache_and_buffer(probe, prediction, sized_file):
    outcome = probe(read_copy_frames, sized_file(PAGE_SIZE, fill=b"r"))
    prediction.observe("pread-one-page", _frames(outcome, "two_copies"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["copied"] == PAGE_SIZE and seen["same_bytes"], seen
    assert seen["resident_after_read"], seen
    assert seen["buffer_frame"] not in (None, seen["cache_frame"]), seen
    assert seen["io"]["rchar"] >= PAGE_SIZE, seen


@pytest.mark.claim("mmap-notes.shared-libraries-mapped")
def test_c_library_is_mapped_from_its_file(probe, prediction):
    outcome = probe(shared_library_mappings)
    prediction.observe("libc-in-proc-self-maps", observe.field(outcome, "mapped_from_file"))
    assert outcome.ok, outcome
    mappings = outcome.value["mappings"]
    assert any("x" in m["perms"] for m in mappings), outcome
    assert all(m["perms"].endswith("p") for m in mappings), outcome
