"""Checks of a mapping's lifetime: closing its fd, and ``munmap`` of a moved pointer.

mmap(2): the file descriptor may be closed right after ``mmap`` returns
without invalidating the mapping.  munmap(2): ``addr`` must be a multiple of
the page size (EINVAL otherwise); unmapping a page-aligned part of a mapping
is allowed and leaves the rest mapped.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.lifetime import munmap_at, pymmap_write_after_close, write_after_close

CLOSE_CLAIMS = ("memmap-ipc.close-fd-after-mmap", "webserver-mmap.close-fd-after-mmap",
                "unp-shm.close-fd-after-mmap")


@pytest.mark.claim(*CLOSE_CLAIMS)
@pytest.mark.parametrize("layer_probe", [
    pytest.param(write_after_close, id="libc"),
    pytest.param(pymmap_write_after_close, id="pymmap", marks=pytest.mark.layer("pymmap")),
])
def test_mapping_outlives_closed_fd(probe, prediction, sized_file, layer_probe):
    outcome = probe(layer_probe, sized_file(PAGE_SIZE, fill=b"."), b"test")
    reached = observe.compare(observe.field(outcome, "mapping"), observe.field(outcome, "file"))
    for claim in CLOSE_CLAIMS:
        prediction.observe("usable-after-close", observe.result(outcome), claim=claim)
        prediction.observe("store-reaches-file", reached, claim=claim)
    assert outcome.ok, outcome
    assert outcome.value == {"mapping": b"test".hex(), "file": b"test".hex(),
                             "msync_errno": None}, outcome


@pytest.mark.claim("webserver-mmap.munmap-after-increment-fails")
@pytest.mark.parametrize(("shift", "case", "expected"), [
    (0, "saved-pointer", "unmaps"),
    (1, "pointer-moved-by-one", "EINVAL"),
    (PAGE_SIZE // 2, "pointer-moved-by-half-a-page", "EINVAL"),
    (PAGE_SIZE, "pointer-moved-by-a-page", "unmaps"),
])
def test_munmap_needs_page_aligned_address(probe, prediction, shift, case, expected):
    outcome = probe(munmap_at, shift, PAGE_SIZE)
    prediction.observe(case, observe.succeeded(outcome), instance=f"munmap(ptr + {shift})")
    observed = "unmaps" if outcome.ok else outcome.errno
    assert observed == expected, outcome
    if shift == PAGE_SIZE:
        # Unmapping the second page of two leaves the first in place.
        assert outcome.value == {"first_page_still_mapped": True}, outcome
