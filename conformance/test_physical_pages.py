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

from helpers.libc import PAGE_SIZE
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


@pytest.mark.claim(*SAME_FRAMES)
@pytest.mark.parametrize("layer", LAYERS)
def test_unrelated_processes_map_the_same_page_cache_frames(probe, prediction, sized_file, layer):
    outcome = probe(frames_shared_with_unrelated, sized_file(4 * PAGE_SIZE, fill=b"f"), layer,
                    TOKEN, timeout=20.0)
    assert outcome.ok, outcome
    seen = outcome.value
    assert None not in seen["frames"] and 0 not in seen["frames"], seen
    assert seen["other_frames"] == seen["frames"], seen
    assert seen["third_descriptor_reads"] == TOKEN.hex(), seen
    assert seen["io_while_reading"]["rchar"] == 0, seen
    same = "same frames" if seen["other_frames"] == seen["frames"] else "different frames"
    where = "different" if seen["other_addr"] != seen["addr"] else "equal"
    prediction.record("same frames", same, case=f"4 pages, virtual addresses {where}",
                      claim=SAME_FRAMES[0], **seen)
    prediction.record("same frames, no copy", f"{same}, no copy", case="two processes",
                      claim=SAME_FRAMES[1])
    # The frames are the file's page cache: read(2) from a third descriptor sees the store.
    cache = "the kernel's page cache" if seen["third_descriptor_reads"] == TOKEN.hex() else \
        "no kernel buffer"
    prediction.record("no kernel buffer", cache, central=False,
                      case="where the shared frames live", claim=SAME_FRAMES[1])
    copied = seen["io_while_reading"]["rchar"]
    prediction.record("no second copy", "no second copy" if same == "same frames" and not copied
                      else "copied", case="reading every page of the mapping", claim=SAME_FRAMES[2])


@pytest.mark.claim("go-mmap.shm-no-copy-between-processes")
@pytest.mark.parametrize("layer", LAYERS)
def test_forked_processes_share_frames_of_shared_memory(probe, prediction, layer):
    outcome = probe(frames_across_fork, layer, 4, TOKEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert None not in seen["frames"] and seen["child_frames"] == seen["frames"], seen
    assert seen["reads"] == [TOKEN.hex()] * 4, seen
    prediction.record("same frames, no copy", "same frames, no copy",
                      case="MAP_SHARED|MAP_ANONYMOUS, parent and forked child", **seen)


@pytest.mark.claim("webserver-mmap.virtual-pages-mapped-on-access", "mmap-notes.addr-is-physical")
@pytest.mark.parametrize("layer", LAYERS)
def test_pages_appear_only_when_touched(probe, prediction, layer):
    outcome = probe(presence_on_access, layer, 64)
    assert outcome.ok, outcome
    seen = outcome.value
    touched = set(seen["touched"])
    assert not any(seen["before"]["present"]), seen
    assert [i for i, p in enumerate(seen["after"]["present"]) if p] == sorted(touched), seen
    assert seen["child_frame"] != seen["parent_frame"], seen  # copy-on-write after fork
    lazy = "absent until touched" if not any(seen["before"]["present"]) else "present at once"
    rss = seen["after"]["rss_kb"] - seen["before"]["rss_kb"]
    prediction.record("absent until touched", lazy, case="64 fresh anonymous pages",
                      claim="webserver-mmap.virtual-pages-mapped-on-access", rss_growth_kb=rss,
                      touched_kb=len(touched) * PAGE_SIZE // 1024, **seen)
    prediction.record("present at once", lazy, case="right after mmap returns",
                      claim="mmap-notes.addr-is-physical")
    cow = "another frame at the same address" if seen["child_frame"] != seen["parent_frame"] \
        else "one physical area"
    prediction.record("one physical area", cow,
                      case="page 0 in a forked child after it stored (copy-on-write)",
                      claim="mmap-notes.addr-is-physical", central=False)


@pytest.mark.claim("go-mmap.mapping-larger-than-physical")
@pytest.mark.parametrize("layer", LAYERS)
def test_large_mapping_uses_memory_only_for_touched_pages(probe, prediction, sized_file, layer):
    outcome = probe(rss_of_large_mapping, sized_file(0), layer, 128 << 20, 10)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["rss_before_kb"] == 0 and seen["rss_after_kb"] == seen["touched_kb"], seen
    observed = ("only touched pages" if seen["rss_after_kb"] <= seen["touched_kb"]
                else "more than the touched pages")
    prediction.record("only touched pages", observed, case="128 MiB mapped, 10 pages stored",
                      **seen)


@pytest.mark.claim("memmap-ipc.access-without-syscalls", "mmap-notes.file-access-without-syscalls")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapped_access_makes_no_read_or_write_calls(probe, prediction, sized_file, layer):
    outcome = probe(syscalls_of_mapped_access, sized_file(16 * PAGE_SIZE, fill=b"s"), layer)
    assert outcome.ok, outcome
    seen = outcome.value
    calls = ("syscr", "syscw", "rchar", "wchar")
    pages, mapped = seen["pages"], seen["mapped"]
    assert [seen["looking"][key] for key in calls] == [0, 0, 0, 0], seen
    assert [mapped[key] for key in calls] == [0, 0, 0, 0], seen
    assert mapped["minflt"] + mapped["majflt"] > 0, seen
    assert seen["syscalls"]["syscr"] == seen["syscalls"]["syscw"] == pages, seen
    observed = "no read/write calls" if not any(mapped[key] for key in calls) else \
        "read/write calls"
    for claim in ("memmap-ipc.access-without-syscalls", "mmap-notes.file-access-without-syscalls"):
        prediction.record("no read/write calls", observed, case=f"read and write {pages} pages",
                          claim=claim, **seen)


@pytest.mark.claim("go-mmap.read-two-copies")
def test_read_leaves_data_in_page_cache_and_buffer(probe, prediction, sized_file):
    outcome = probe(read_copy_frames, sized_file(PAGE_SIZE, fill=b"r"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["copied"] == PAGE_SIZE and seen["same_bytes"], seen
    assert seen["resident_after_read"], seen
    assert seen["buffer_frame"] not in (None, seen["cache_frame"]), seen
    assert seen["io"]["rchar"] >= PAGE_SIZE, seen
    observed = "page cache and buffer, distinct frames" if not seen["resident_before"] else (
        "distinct frames (page cache was not dropped first)")
    prediction.record("page cache and buffer, distinct frames", observed,
                      case="pread of one page after the cache was dropped", **seen)


@pytest.mark.claim("mmap-notes.shared-libraries-mapped")
def test_c_library_is_mapped_from_its_file(probe, prediction):
    outcome = probe(shared_library_mappings)
    assert outcome.ok, outcome
    mappings = outcome.value["mappings"]
    assert any("x" in m["perms"] for m in mappings), outcome
    assert all(m["perms"].endswith("p") for m in mappings), outcome
    prediction.record("file mappings", "file mappings" if mappings else "not mapped",
                      case="libc in /proc/self/maps", mappings=mappings)
