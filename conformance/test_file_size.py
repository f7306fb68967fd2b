"""Checks of a file's size under a mapping: growing it, and the tail of its last page.

mmap(2): pages of a mapping wholly past end of file raise SIGBUS
(``BUS_ADRERR``); the rest of the page holding end of file reads zero, takes
stores, and "changes in that region are not written to the file".  A store
never changes a file's size.  lseek(2) only moves the offset; a write past
the end, ftruncate(2)/truncate(2) or fallocate(2) grow the file, and the
added bytes read as null bytes; once the file has grown, an existing
mapping's pages that now hold file data are accessible without remapping.
"""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import observe, scratch
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.platform import describe_filesystem, huge_page_bytes, writes_back
from helpers.probes.eof import access_by_the_man_page, map_then_touch, page_round
from helpers.probes.file_size import (
    access_in_guarded_mapping,
    extend_then_touch,
    grow_under_mapping,
    map_without_touching,
    stat_size,
    store_in_tail_then_grow,
    store_keeps_size,
    truncate_then_use,
    write_first_then_store,
)

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
GO_MAP = 128 << 20


def _ended(outcome: Outcome) -> str:
    """Return ``ok`` or what ended the probe (signal, errno, outcome kind)."""
    return "ok" if outcome.ok else outcome.signal or outcome.errno or outcome.kind.value


#: The copy program's ftruncate after mmap "to avoid a bus error": the stores into its
#: empty target's first page, without and with the ftruncate.
FTRUNCATE_CASES = {(0, 50, None): "store-without-ftruncate",
                   (0, 50, PAGE_SIZE): "store-after-ftruncate"}


@pytest.mark.claim("memmap-ipc.mapping-cannot-extend-file", "memmap-ipc.copy-map-before-ftruncate")
@pytest.mark.parametrize(("size", "at", "grow_to", "expected"), [
    (0, 50, None, "SIGBUS"), (0, PAGE_SIZE, None, "SIGBUS"), (100, 200, None, "ok"),
    (100, PAGE_SIZE, None, "SIGBUS"), (0, 50, PAGE_SIZE, "ok"),
    (100, PAGE_SIZE, 2 * PAGE_SIZE, "ok"),
])
def test_stores_never_change_the_file_size(probe, prediction, sized_file, size, at, grow_to,
                                           expected):
    path = sized_file(size, fill=b"f")
    outcome = probe(store_keeps_size, path, 2 * PAGE_SIZE, at, grow_to=grow_to)
    final = probe(stat_size, path)
    grown = f", after ftruncate to {grow_to}" if grow_to else ""
    where = f"store at {at} of a {size}-byte file{grown}"
    case = "store-keeps-size" if size == 0 and grow_to is None else "other-store-keeps-size"
    prediction.observe(case, observe.compare(
        observe.note(outcome, "size_before"), observe.field(final, "size")),
        claim="memmap-ipc.mapping-cannot-extend-file", instance=where)
    if (size, at, grow_to) in FTRUNCATE_CASES:
        prediction.observe(FTRUNCATE_CASES[size, at, grow_to], observe.result(outcome),
                           claim="memmap-ipc.copy-map-before-ftruncate", instance=where)
    assert _ended(outcome) == expected, outcome
    if expected == "SIGBUS":
        assert outcome.si_code in ("BUS_ADRERR", None), outcome
    size_before = grow_to if grow_to is not None else size
    assert final.value == {"size": size_before}, (final, outcome)


@pytest.mark.claim("memmap-ipc.write-data-first-avoids-bus-error")
def test_writing_a_byte_first_makes_only_the_first_page_usable(probe, prediction, sized_file):
    first = probe(write_first_then_store, sized_file(0), b"D", 2 * PAGE_SIZE, 0, b"hello")
    second = probe(write_first_then_store, sized_file(0), b"D", 2 * PAGE_SIZE, PAGE_SIZE, b"x")
    prediction.observe("store-after-writing-data", observe.result(first))
    prediction.observe("store-over-data-reaches-file", observe.field(first, "over_data_in_file"))
    prediction.observe("stored-bytes-reach-file", observe.same(first, "file", "stored"))
    prediction.observe("store-in-next-page", observe.result(second))
    assert first.ok, first
    # mmap(2): the bytes past end of file in the last page are not written to the file.
    assert first.value["size"] == 1 and first.value["file"] == b"h".hex(), first
    assert second.signal == "SIGBUS", second


@pytest.mark.claim("webserver-mmap.lseek-extends-new-file")
@pytest.mark.parametrize(("how", "size"), [
    ("lseek", 0), ("lseek+write", 8192), ("lseek-to-n+write", 8193)])
def test_lseek_alone_does_not_extend_a_file(probe, prediction, sized_file, how, size):
    outcome = probe(extend_then_touch, sized_file(0), how, 8192, [0, 8191])
    prediction.observe(how.replace("+", "-then-"), observe.result(outcome),
                       instance="n = 8192, store at 0 and 8191")
    assert outcome.notes.get("size") == size, outcome
    assert _ended(outcome) == ("SIGBUS" if size == 0 else "ok"), outcome


@pytest.mark.claim("webserver-mmap.truncate-extends-new-file")
@pytest.mark.parametrize("layer", LAYERS)
def test_truncate_extends_a_new_file_for_mapping(probe, prediction, sized_file, layer):
    outcome = probe(truncate_then_use, sized_file(0), 3, layer)
    prediction.observe("truncated-file-reads-zero", observe.field(outcome, "all_zero"),
                       layer=layer)
    prediction.observe("truncated-file-takes-stores", observe.result(outcome), layer=layer)
    assert outcome.ok, outcome
    assert outcome.value["all_zero"] and all(outcome.value["file_has_markers"]), outcome


def _tmpfs_deviation(directory: str) -> pytest.MarkDecorator:
    """Return the strict xfail of the tail deviation, active where ``directory`` has no writeback.

    Filesystems that keep pages only in memory (tmpfs, ramfs) never zero the
    tail of the last page, which writeback does elsewhere.
    """
    fs = describe_filesystem(directory)
    return pytest.mark.xfail(
        not writes_back(directory), strict=True,
        reason=f"known deviation: on {fs} a byte stored through MAP_SHARED into the tail of the "
               "last page past EOF reappears when the file is grown (ftruncate(2): the extended "
               "part reads as null bytes); on ext4 it reads zero")


@pytest.mark.claim("unp-shm.tail-writes-not-in-file")
@pytest.mark.parametrize("directory", [
    pytest.param(None, id="tmpdir", marks=_tmpfs_deviation(tempfile.gettempdir())),
    pytest.param("/dev/shm", id="dev-shm", marks=_tmpfs_deviation("/dev/shm"))])
@pytest.mark.parametrize("unmap_first", [False, True], ids=["mapped", "unmapped"])
def test_tail_stores_never_reach_the_file(probe, prediction, sized_file, directory, unmap_first):
    path = sized_file(100, fill=b"a", directory=directory)
    outcome = probe(store_in_tail_then_grow, path, 200, PAGE_SIZE, unmap_first=unmap_first)
    instance = f"{describe_filesystem(path)}, {'unmapped' if unmap_first else 'mapped'}"
    prediction.observe("tail-store-in-file", observe.field(outcome, "file_holds_z"),
                       instance=instance)
    prediction.observe("shm-grown-file-byte" if directory else "grown-file-byte",
                       observe.field(outcome, "byte_after_growth"), instance=instance)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["mapping_reads"] == ord("Z") and seen["size_after_store"] == 100, seen
    assert not seen["file_holds_z"], seen
    assert seen["byte_after_growth"] == 0, seen  # ftruncate(2): the extended part reads as 0
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs


@pytest.mark.claim("go-mmap.truncate-grow-under-mapping")
def test_growing_the_file_opens_the_existing_mapping(probe, prediction, sized_file):
    before = probe(map_then_touch, sized_file(1, fill=b"g"), GO_MAP, 2 * PAGE_SIZE)
    after = probe(grow_under_mapping, sized_file(1, fill=b"g"), GO_MAP, 3 * PAGE_SIZE,
                  2 * PAGE_SIZE)
    beyond = probe(grow_under_mapping, sized_file(1, fill=b"g"), GO_MAP, 3 * PAGE_SIZE,
                   3 * PAGE_SIZE)
    prediction.observe("grown-page-reads-zero", observe.field(after, "loaded"))
    prediction.observe("grown-page-takes-stores", observe.same(after, "stored", "after_store"))
    prediction.observe("before-growth", observe.result(before))
    prediction.observe("past-new-size", observe.result(beyond))
    # mmap(2): SIGBUS past the page holding end of file, a huge page on tmpfs huge=always.
    huge = huge_page_bytes(scratch.directory())
    for outcome, size, at in ((before, 1, 2 * PAGE_SIZE), (beyond, 3 * PAGE_SIZE, 3 * PAGE_SIZE)):
        allowed = access_by_the_man_page(at, size, GO_MAP, huge)
        assert observe.result(outcome).value in allowed, outcome
    assert after.ok and after.value == {"loaded": 0, "stored": ord("G"),
                                        "after_store": ord("G")}, after


@pytest.mark.claim("go-mmap.grow-one-byte-needed")
def test_mapping_an_empty_file_needs_no_byte(probe, prediction, sized_file):
    mapped = probe(map_without_touching, sized_file(0), GO_MAP)
    touched = probe(map_then_touch, sized_file(0), GO_MAP, 0)
    grown_after = probe(grow_under_mapping, sized_file(0), GO_MAP, 1, 0)
    # The probe maps 128 MiB and takes &b[0] without an access: "ok" when both work.
    prediction.observe("map-empty-file", observe.succeeded(mapped))
    # A load or store needs the mapping: where mmap refused the empty file, there was none.
    prediction.observe("load-first-byte", observe.access(touched, "the empty file's mapping"))
    prediction.observe("grow-after-mapping",
                       observe.access(grown_after, "the empty file's mapping"))
    assert mapped.ok and mapped.value["size"] == 0, mapped
    assert touched.signal == "SIGBUS", touched
    assert grown_after.ok, grown_after


@pytest.mark.claim("unp-shm.past-eof-pages-sigbus", "unp-shm.tail-of-last-page-accessible",
                   "go-mmap.access-past-file-size-fails")
@settings(max_examples=30)
@given(data=st.data(), file_size=st.integers(0, 4 * PAGE_SIZE),
       length=st.integers(1, 4 * PAGE_SIZE), write=st.booleans())
def test_access_region_follows_file_size_and_length(probe, sized_file, data, file_size, length,
                                                    write):
    at = data.draw(st.integers(0, page_round(length) + PAGE_SIZE - 1), label="at")
    outcome = probe(access_in_guarded_mapping, sized_file(file_size, fill=b"f"), length, at, write)
    if at >= page_round(length):  # the PROT_NONE guard page after the mapping
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    elif at >= page_round(file_size):  # a page of the mapping wholly past end of file
        assert (outcome.signal, outcome.si_code) == ("SIGBUS", "BUS_ADRERR"), outcome
    else:
        assert outcome.ok, outcome
        assert outcome.value == (ord("W") if write else (ord("f") if at < file_size else 0))
    assert outcome.fault_offset in (None, at), outcome
