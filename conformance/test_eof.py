"""Checks of mappings that reach past the end of the file behind them.

mmap(2) and POSIX: a mapping may be longer than its file; touching a page that
lies wholly past end of file raises SIGBUS (``BUS_ADRERR`` on Linux).  The
``mmap`` call itself does not look at the file size.  Python's mmap module
refuses to map an empty file with length 0 (``ValueError``) and raises
``ValueError`` as well when asked for more than the file holds.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.eof import map_then_touch, pymmap_empty_file


@pytest.mark.claim("memmap-ipc.empty-file-bus-error", "webserver-mmap.file-size-must-not-be-zero")
@pytest.mark.parametrize("write", [False, True], ids=["load", "store"])
def test_touching_mapping_of_empty_file_raises_sigbus(probe, prediction, sized_file, write):
    outcome = probe(map_then_touch, sized_file(0), 4000, 0, write=write)
    assert outcome.signal == "SIGBUS", outcome
    assert outcome.notes.get("mmap_succeeded") is True, outcome
    assert outcome.si_code in ("BUS_ADRERR", None), outcome
    assert outcome.fault_offset in (0, None), outcome
    access = "store" if write else "load"
    prediction.record("SIGBUS", outcome.signal, case=f"{access} at offset 0",
                      claim="memmap-ipc.empty-file-bus-error", si_code=outcome.si_code)
    prediction.record("unusable", "unusable", case=f"{access} through the mapping",
                      claim="webserver-mmap.file-size-must-not-be-zero", signal=outcome.signal)
    # The document's wording ("the file size must not be 0") suggests the call
    # fails; it does not: only the access does.
    prediction.record("mmap fails", "mmap succeeds", case="the mmap call itself",
                      claim="webserver-mmap.file-size-must-not-be-zero", central=False)


@pytest.mark.claim("memmap-ipc.empty-file-bus-error", "webserver-mmap.file-size-must-not-be-zero")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize("length", [0, 4000])
def test_pymmap_refuses_empty_file(probe, prediction, sized_file, length):
    outcome = probe(pymmap_empty_file, sized_file(0), length)
    assert outcome.exception == "ValueError", outcome
    observed = "refused: ValueError"
    prediction.record("unusable", "unusable", case=f"mmap.mmap(fd, {length})",
                      claim="webserver-mmap.file-size-must-not-be-zero", message=outcome.message)
    # Python never lets the program reach the bus error the document warns of.
    prediction.record("SIGBUS", observed, case=f"mmap.mmap(fd, {length})",
                      claim="memmap-ipc.empty-file-bus-error", central=False,
                      message=outcome.message)


@pytest.mark.claim("memmap-ipc.empty-file-bus-error")
def test_writing_data_first_makes_the_page_usable(probe, prediction, sized_file):
    outcome = probe(map_then_touch, sized_file(5, fill=b"hello"), 4000, 0, write=True)
    assert outcome.ok and outcome.value["byte"] == ord("X"), outcome
    prediction.record("usable", "usable", case="file holds 5 bytes, store at offset 0",
                      central=False)


@pytest.mark.claim("memmap-ipc.empty-file-bus-error")
def test_page_past_eof_raises_sigbus_even_when_file_is_not_empty(probe, sized_file):
    outcome = probe(map_then_touch, sized_file(10), 2 * PAGE_SIZE, PAGE_SIZE)
    assert outcome.signal == "SIGBUS", outcome
    assert outcome.fault_offset in (PAGE_SIZE, None), outcome
