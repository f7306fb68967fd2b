"""Checks of the ``length`` arguments of mmap and munmap.

mmap(2): a length of 0 fails with EINVAL (since Linux 2.6.12); any positive
length is rounded up to whole pages and may reach past the end of the file.
Python's mmap module reads length 0 as "the whole file" and refuses a length
beyond the file with ValueError.  munmap(2) releases every page of
``[addr, addr + length)`` rounded up to pages, whatever mappings lie there:
a length other than the one given to mmap is not an error.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.arguments import map_file_length, mmap_returns, munmap_length
from helpers.probes.mapping import pymmap_file

POSITIVE = "memmap-ipc.length-must-be-positive"
NOT_ZERO = "webserver-mmap.length-not-zero"
ZERO_FAILS = "webserver-mmap.length-zero-fails"


@pytest.mark.claim(POSITIVE, NOT_ZERO, ZERO_FAILS)
@pytest.mark.parametrize("backing", ["file", "anonymous"])
def test_zero_length_fails_einval(probe, prediction, sized_file, backing):
    if backing == "file":
        outcome = probe(mmap_returns, sized_file(2 * PAGE_SIZE), 0)
    else:
        outcome = probe(mmap_returns, None, 0, flags="MAP_PRIVATE|MAP_ANONYMOUS")
    failed = observe.field(outcome, "map_failed")
    # The document of NOT_ZERO speaks of mapping a file.
    for claim in (POSITIVE, ZERO_FAILS, NOT_ZERO) if backing == "file" else (POSITIVE, ZERO_FAILS):
        prediction.observe("zero-length", failed, claim=claim, instance=backing)
    assert outcome.ok and outcome.value["errno"] == "EINVAL", outcome


@pytest.mark.claim(POSITIVE)
@pytest.mark.parametrize("length", [1, PAGE_SIZE - 1, PAGE_SIZE + 1, 3 * PAGE_SIZE])
def test_positive_length_maps(probe, prediction, sized_file, length):
    # The file holds two pages: 3 pages map too, only touching the third would fault.
    outcome = probe(mmap_returns, sized_file(2 * PAGE_SIZE), length)
    prediction.observe("positive-length", observe.field(outcome, "map_failed"),
                       instance=f"length {length}, file of 2 pages")
    assert outcome.ok and outcome.value["errno"] is None, outcome


@pytest.mark.claim(NOT_ZERO)
@pytest.mark.parametrize("how", ["fstat", "lseek"])
def test_length_from_the_file_maps_it_all(probe, prediction, sized_file, how):
    content = b"length from the file"
    outcome = probe(map_file_length, sized_file(len(content), fill=content), how)
    prediction.observe("length-from-file", observe.result(outcome), instance=how)
    assert outcome.value == {"length": len(content), "head": content[:16].hex()}, outcome


@pytest.mark.claim(POSITIVE, NOT_ZERO)
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize(("length", "expected"), [
    (0, "maps the whole file"), (1, "maps"), (PAGE_SIZE + 1, "maps"),
    (3 * PAGE_SIZE, "ValueError"),
])
def test_pymmap_length(probe, prediction, sized_file, length, expected):
    outcome = probe(pymmap_file, sized_file(2 * PAGE_SIZE), length)
    # Python gives length 0 its own meaning and checks lengths against the file.
    call = f"mmap.mmap(fd, {length})"
    for claim in (POSITIVE, NOT_ZERO) if length == 0 else (POSITIVE,):
        prediction.observe("pymmap-zero-length" if length == 0 else "pymmap-positive-length",
                           observe.succeeded(outcome), claim=claim, instance=call)
    whole = outcome.ok and outcome.value["length"] == 2 * PAGE_SIZE
    observed = outcome.exception or ("maps the whole file" if length == 0 and whole else "maps")
    assert observed == expected, outcome


@pytest.mark.claim("webserver-mmap.munmap-length-must-match")
@pytest.mark.parametrize(("length", "neighbour", "mapped", "case"), [
    (2 * PAGE_SIZE, 0, [False, False, True, True], "half-length"),
    (PAGE_SIZE - 1, 0, [False, True, True, True], "length-not-page-multiple"),
    (PAGE_SIZE + 1, 0, [False, False, True, True], "length-not-page-multiple"),
    (6 * PAGE_SIZE, 4, [False] * 6 + [True] * 2, "length-past-the-end"),
    (4 * PAGE_SIZE, 0, [False] * 4, "same-length"),
], ids=["half", "page-1", "page+1", "past-the-end", "equal"])
def test_munmap_releases_the_pages_its_length_covers(probe, prediction, sized_file, length,
                                                     neighbour, mapped, case):
    outcome = probe(munmap_length, sized_file(4 * PAGE_SIZE), 4, length,
                    neighbour_pages=neighbour)
    # "Fails or does not release the mapping": either way, none of its 4 pages released.
    prediction.observe(case, observe.note(outcome, "released"),
                       instance=f"munmap {length} bytes of a 4-page file mapping"
                       + (f" followed by {neighbour} more" if neighbour else ""))
    notes = outcome.notes
    assert notes.get("returned") == 0 and notes.get("mapped") == mapped, outcome
    assert outcome.signal == "SIGSEGV" and outcome.si_code in ("SEGV_MAPERR", None), outcome
