"""Checks of the ``offset`` argument: it must be a multiple of the page size.

mmap(2): ``offset`` must be a multiple of ``sysconf(_SC_PAGE_SIZE)``, else
EINVAL.  The documents say "4K": the same number on this machine only when the
page size is 4096, which the catalogue names as the condition they leave out.
The offset is a position in the file, never an address; for an anonymous
mapping it selects nothing, yet Linux still refuses an unaligned one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.arguments import map_at_offset, map_with_fd
from helpers.probes.mapping import map_file, pymmap_file

CLAIMS = ("memmap-ipc.offset-multiple-of-4k", "webserver-mmap.offset-multiple-of-4k")
OFFSETS = sorted({0, 1, 1000, 4095, 4096, 8192, PAGE_SIZE // 2, PAGE_SIZE - 1, PAGE_SIZE,
                  PAGE_SIZE + 1, 3 * PAGE_SIZE})


def _observe(prediction, offset: int, outcome, layer: str) -> None:
    """Observe how mmap ended at ``offset`` for both documents' claims."""
    case = "multiple-of-4096" if offset % 4096 == 0 else "not-multiple-of-4096"
    # Both documents say only that mmap fails (MAP_FAILED); webserver-mmap's own example,
    # offset 1000, is its central case.
    mapped = observe.succeeded(outcome)
    prediction.observe(case, mapped, claim=CLAIMS[0], instance=f"offset={offset}", layer=layer)
    prediction.observe("offset-1000" if offset == 1000 else case, mapped,
                       claim=CLAIMS[1], instance=f"offset={offset}", layer=layer)


@pytest.mark.claim(*CLAIMS)
@pytest.mark.parametrize("offset", OFFSETS)
def test_offset_maps_only_at_page_multiples(probe, prediction, sized_file, offset):
    outcome = probe(map_file, sized_file(4 * PAGE_SIZE), PAGE_SIZE, offset=offset)
    _observe(prediction, offset, outcome, "libc")  # before the spec assertions that may stop us
    if offset % PAGE_SIZE == 0:
        assert outcome.ok, outcome
    else:
        assert outcome.errno == "EINVAL", outcome


@pytest.mark.claim(*CLAIMS)
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize("offset", OFFSETS)
def test_pymmap_offset_maps_only_at_page_multiples(probe, prediction, sized_file, offset):
    outcome = probe(pymmap_file, sized_file(4 * PAGE_SIZE), PAGE_SIZE, offset=offset)
    _observe(prediction, offset, outcome, "pymmap")
    if offset % PAGE_SIZE == 0:
        assert outcome.ok and outcome.value == {"length": PAGE_SIZE}, outcome
    else:
        # Python passes the offset through to mmap(2) on POSIX, so the
        # kernel's EINVAL comes back as OSError.
        assert outcome.errno == "EINVAL", outcome


@pytest.mark.claim(*CLAIMS)
@settings(max_examples=40)
@given(offset=st.integers(min_value=0, max_value=64 * PAGE_SIZE))
def test_any_offset_maps_iff_page_multiple(probe, prediction, sized_file, offset):
    path = sized_file(66 * PAGE_SIZE)
    outcome = probe(map_file, path, PAGE_SIZE, offset=offset)
    assert outcome.ok == (offset % PAGE_SIZE == 0), outcome
    if not outcome.ok:
        assert outcome.errno == "EINVAL", outcome


GO_OFFSET = "go-mmap.go-offset-means-address"
PAGES = b"ABCD"  # page i of the file is filled with PAGES[i]


@pytest.mark.claim(GO_OFFSET)
@pytest.mark.parametrize("layer", ["libc", pytest.param("pymmap", marks=pytest.mark.layer(
    "pymmap"))])
@pytest.mark.parametrize("pages", [0, 1, 2])
def test_offset_selects_file_data_not_address(probe, prediction, sized_file, layer, pages):
    path = sized_file(len(PAGES) * PAGE_SIZE)
    with open(path, "r+b") as handle:
        handle.write(b"".join(bytes([c]) * PAGE_SIZE for c in PAGES))
    offset = pages * PAGE_SIZE
    outcome = probe(map_at_offset, path, offset, layer=layer)
    if pages == 0:
        prediction.observe("offset-0-maps", observe.result(outcome), layer=layer)
    else:
        # The probe maps offset 0 first and releases it: an offset that decided the
        # placement would move the mapping away from where offset 0 went.
        same = observe.same(outcome, "address", "offset_0_address")
        if outcome.ok and not outcome.value["released"]:  # still there: it pushed the second
            same = observe.undecided("munmap left the offset-0 mapping in place, so where the "
                                     "next one landed says nothing of the offset", outcome)
        prediction.observe("nonzero-offset-same-address-as-0", same,
                           layer=layer, instance=f"offset {offset:#x}")
    assert outcome.ok, outcome
    seen = outcome.value
    from_offset = seen["head"] == (bytes([PAGES[pages]]) * 8).hex()
    assert from_offset and seen["address"] % PAGE_SIZE == 0 and seen["address"] != offset, seen


ANONYMOUS_OFFSET = "unp-shm.anonymous-offset-ignored"


@pytest.mark.claim(ANONYMOUS_OFFSET)
@pytest.mark.parametrize("flags", ["MAP_PRIVATE|MAP_ANONYMOUS", "MAP_SHARED|MAP_ANONYMOUS"])
@pytest.mark.parametrize("offset", [0, 1, PAGE_SIZE, 1 << 40])
def test_anonymous_offset_changes_nothing_if_aligned(probe, prediction, flags, offset):
    outcome = probe(map_with_fd, PAGE_SIZE, flags=flags, offset=offset)
    prediction.observe("unaligned-offset" if offset % PAGE_SIZE else "aligned-offset",
                       observe.field(outcome, "zero_filled"),
                       instance=f"{flags} offset {offset:#x}")
    if offset % PAGE_SIZE:  # checked before the flags are looked at
        assert outcome.errno == "EINVAL", outcome
    else:
        assert outcome.ok and outcome.value["zero_filled"], outcome
