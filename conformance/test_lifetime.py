"""Checks of a mapping's lifetime: closing its fd, and ``munmap`` of a moved pointer.

mmap(2): the file descriptor may be closed right after ``mmap`` returns
without invalidating the mapping.  munmap(2): ``addr`` must be a multiple of
the page size (EINVAL otherwise); unmapping a page-aligned part of a mapping
is allowed and leaves the rest mapped.
"""

from __future__ import annotations

import pytest

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
    assert outcome.ok, outcome
    assert outcome.value == {"mapping": b"test".hex(), "file": b"test".hex()}, outcome
    for claim in CLOSE_CLAIMS:
        prediction.record("usable and reaches the file", "usable and reaches the file",
                          case="write after close(fd)", claim=claim, **outcome.value)


@pytest.mark.claim("webserver-mmap.munmap-after-increment-fails")
@pytest.mark.parametrize(("shift", "expected", "central"), [
    (0, "unmaps", False),
    (1, "EINVAL", True),
    (PAGE_SIZE // 2, "EINVAL", False),
    (PAGE_SIZE, "unmaps", False),
])
def test_munmap_needs_page_aligned_address(probe, prediction, shift, expected, central):
    outcome = probe(munmap_at, shift, PAGE_SIZE)
    if shift:
        prediction.record("fails", "fails" if not outcome.ok else "succeeds",
                          case=f"munmap(ptr + {shift})", central=central, errno=outcome.errno)
    else:
        prediction.record("succeeds", "succeeds" if outcome.ok else "fails",
                          case="munmap(ptr) with the saved pointer", central=False)
    observed = "unmaps" if outcome.ok else outcome.errno
    assert observed == expected, outcome
    if shift == PAGE_SIZE:
        # Unmapping the second page of two leaves the first in place.
        assert outcome.value == {"first_page_still_mapped": True}, outcome
