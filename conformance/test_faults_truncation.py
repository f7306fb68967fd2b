"""Fault: a file truncated by another process under a live shared mapping.

mmap(2): a mapping is not resized when its file is; the partial page at the
new end of file keeps working (its tail reads as zeros, and stores there
never reach the file), while pages wholly past the new end raise ``SIGBUS``
(``BUS_ADRERR``) on any access, until the file grows over them again.  The
truncation is done by a separate process the probe tells when to act, so
the probe learns of it only through its mapping.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.faults_truncation import (
    regrow_after_truncate,
    tail_after_truncate,
    touch_after_truncate,
)

PATTERN = b"0123456789abcdef"
NEW_SIZE = 100  # inside the first page
#: Where the file lives: the temporary directory's filesystem (a disk one, usually), tmpfs.
DIRECTORIES = [pytest.param(None, id="tempdir"), pytest.param("/dev/shm", id="dev-shm")]
LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]






@pytest.mark.claim("fault.truncate-tail-of-last-page")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("directory", DIRECTORIES)
def test_tail_of_new_last_page_reads_zero_and_takes_stores(probe, sized_file, layer, directory):
    path = sized_file(3 * PAGE_SIZE, fill=PATTERN, directory=directory)
    outcome = probe(tail_after_truncate, path, NEW_SIZE, layer=layer)
    assert outcome.ok, outcome
    value = outcome.value
    assert value["peer_ftruncate"] == "ok", outcome
    assert value["head"] == (PATTERN * 7)[:NEW_SIZE].hex(), "data before the new end survives"
    assert value["tail_length"] == PAGE_SIZE - NEW_SIZE, outcome
    assert value["tail_zero"] and value["tail_after_store_kept"], outcome
    # The stores into the tail changed neither the size nor what read() returns.
    assert value["st_size"] == NEW_SIZE and value["file_read_length"] == NEW_SIZE, outcome


@pytest.mark.claim("fault.truncate-whole-pages-sigbus")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("page", [1, 2])
@pytest.mark.parametrize("write", [False, True], ids=["load", "store"])
@pytest.mark.parametrize("directory", DIRECTORIES)
def test_pages_past_new_eof_raise_sigbus(probe, sized_file, layer, page, write, directory):
    at = page * PAGE_SIZE + 7
    path = sized_file(3 * PAGE_SIZE, fill=PATTERN, directory=directory)
    outcome = probe(touch_after_truncate, path, NEW_SIZE, at, write=write, layer=layer)
    assert outcome.notes.get("peer_ftruncate") == "ok", outcome
    assert outcome.notes.get("st_size") == NEW_SIZE, outcome
    assert outcome.signal == "SIGBUS", outcome
    assert outcome.si_code == "BUS_ADRERR", outcome
    assert outcome.fault_offset == at, outcome


@pytest.mark.claim("fault.truncate-whole-pages-sigbus")
@pytest.mark.parametrize("directory", DIRECTORIES)
def test_mapping_is_usable_again_once_the_file_regrows(probe, sized_file, directory):
    path = sized_file(3 * PAGE_SIZE, fill=PATTERN, directory=directory)
    outcome = probe(regrow_after_truncate, path, NEW_SIZE)
    assert outcome.ok, outcome
    assert outcome.value == {"peer_ftruncate": "ok", "size_after_truncate": NEW_SIZE,
                             "far_pages_zero": True, "store_reached_file": True}, outcome
