"""Checks of who sees a write: MAP_PRIVATE is copy-on-write.

mmap(2): writes to a MAP_PRIVATE mapping are not visible to other processes
mapping the same file and are not carried through to the file.  No file is
created: the private copies are anonymous memory.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.sharing import private_write, pymmap_private_write

COW_CLAIMS = ("webserver-mmap.map-private-copy-on-write", "unp-shm.map-private-copy-on-write")
ORIGINAL, WRITTEN = b"original", b"PRIVATE!"


@pytest.mark.claim(*COW_CLAIMS, "webserver-mmap.map-private-creates-new-file")
def test_private_write_stays_private(probe, prediction, sized_file):
    outcome = probe(private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["private"] == WRITTEN.hex(), seen
    assert seen["file"] == seen["shared"] == seen["other_process"] == ORIGINAL.hex(), seen
    assert seen["new_files"] == [], seen
    for claim in COW_CLAIMS:
        prediction.record("file unchanged", "file unchanged" if seen["file"] == ORIGINAL.hex()
                          else "file changed", case="file after a private write", claim=claim)
        prediction.record("not visible", "not visible" if seen["shared"] == ORIGINAL.hex()
                          else "visible", case="a MAP_SHARED mapping of the file", claim=claim)
        prediction.record("not visible", "not visible" if seen["other_process"] == ORIGINAL.hex()
                          else "visible", case="another process mapping the file", claim=claim)
    prediction.record("a new file appears", "a new file appears" if seen["new_files"]
                      else "no new file", case="directory after a private write",
                      claim="webserver-mmap.map-private-creates-new-file",
                      new_files=seen["new_files"])
    prediction.record("original file untouched", "original file untouched"
                      if seen["file"] == ORIGINAL.hex() else "original changed",
                      case="the original file", claim="webserver-mmap.map-private-creates-new-file",
                      central=False)


@pytest.mark.claim(*COW_CLAIMS)
@pytest.mark.layer("pymmap")
def test_pymmap_access_copy_stays_private(probe, prediction, sized_file):
    outcome = probe(pymmap_private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    assert outcome.ok, outcome
    assert outcome.value == {"private": WRITTEN.hex(), "file": ORIGINAL.hex()}, outcome
    for claim in COW_CLAIMS:
        prediction.record("file unchanged", "file unchanged", case="mmap.ACCESS_COPY write",
                          claim=claim)
