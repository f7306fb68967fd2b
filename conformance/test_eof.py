"""Checks of mappings that reach past the end of the file behind them, or past their own end.

mmap(2) and POSIX: a mapping may be longer than its file; touching a page that
lies wholly past end of file raises SIGBUS (``BUS_ADRERR`` on Linux), while
the rest of the page that holds the end of file reads as zero and can be
written.  The ``mmap`` call itself does not look at the file size.  Past the
mapping's last page there is no guard: an access faults (SIGSEGV,
``SEGV_MAPERR``; ``SEGV_ACCERR`` on a PROT_NONE page) only if nothing
accessible is mapped there.  Python's mmap module refuses to map an empty
file with length 0 (``ValueError``) and raises ``ValueError`` as well when
asked for more than the file holds.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.eof import (
    map_then_touch,
    page_round,
    pymmap_empty_file,
    read_to_page_end,
    touch_with_layout,
)
from helpers.probes.mapping import map_file, pymmap_file


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


# --- the unp-shm model: a 4999-byte file mapped with length 15000 ----------------------------

SMALL, LONG = 4999, 15000  # the document's sizes; its page numbers assume 4096-byte pages


def _spec(at: int, file_size: int, length: int) -> str:
    """Return what mmap(2) says an access at ``at`` does (``ok``, ``SIGBUS``, ``SIGSEGV``)."""
    if at >= page_round(length):
        return "SIGSEGV"
    return "SIGBUS" if at >= page_round(file_size) else "ok"


@pytest.mark.claim("unp-shm.map-larger-than-file")
@pytest.mark.parametrize("layer_probe", [
    pytest.param(map_file, id="libc"),
    pytest.param(pymmap_file, id="pymmap", marks=pytest.mark.layer("pymmap")),
])
def test_mapping_may_be_longer_than_the_file(probe, prediction, sized_file, layer_probe):
    outcome = probe(layer_probe, sized_file(SMALL), LONG)
    observed = "maps" if outcome.ok else outcome.exception
    # Python's mmap module checks the length against the file; mmap(2) does not.
    assert observed == ("maps" if layer_probe is map_file else "ValueError"), outcome
    prediction.record("maps", observed, case=f"length {LONG} over a {SMALL}-byte file",
                      central=layer_probe is map_file, message=outcome.message)


@pytest.mark.claim("unp-shm.past-eof-pages-sigbus")
@pytest.mark.parametrize("at", [8192, 12288, 14999, 15000, 16383])
@pytest.mark.parametrize("write", [False, True], ids=["load", "store"])
def test_pages_wholly_past_eof_raise_sigbus(probe, prediction, sized_file, at, write):
    outcome = probe(map_then_touch, sized_file(SMALL), LONG, at, write=write)
    expected = _spec(at, SMALL, LONG)
    observed = "ok" if outcome.ok else outcome.signal
    assert observed == expected, outcome
    if expected == "SIGBUS":
        assert outcome.si_code in ("BUS_ADRERR", None) and outcome.fault_offset in (at, None)
    prediction.record("SIGBUS", observed, case=f"{'store' if write else 'load'} at {at}",
                      central=at < LONG, si_code=outcome.si_code, page_size=PAGE_SIZE)


@pytest.mark.claim("unp-shm.tail-of-last-page-accessible")
def test_tail_of_the_last_page_reads_zero_and_takes_stores(probe, prediction, sized_file):
    outcome = probe(read_to_page_end, sized_file(SMALL, fill=b"B"), SMALL)
    assert outcome.ok, outcome
    assert outcome.value == {"read_up_to": page_round(SMALL), "first_nonzero_past_eof": None,
                             "last_byte_after_store": ord("T")}, outcome
    prediction.record("readable (zeros) and writable up to 8191",
                      f"readable (zeros) and writable up to {outcome.value['read_up_to'] - 1}",
                      case=f"{SMALL}-byte file mapped with length {SMALL}", page_size=PAGE_SIZE)


OUT_OF_BOUNDS = ("unp-shm.past-mapping-sigsegv", "webserver-mmap.out-of-bounds-segfault")


@pytest.mark.claim(*OUT_OF_BOUNDS)
@pytest.mark.parametrize("layout", ["guard", "free", "neighbour", "natural"])
def test_access_after_the_mapping_faults_only_if_nothing_is_there(probe, prediction, sized_file,
                                                                    layout):
    end = page_round(LONG)
    outcome = probe(touch_with_layout, sized_file(LONG), LONG, end, layout)
    there = outcome.notes["region_at_target"]
    if there is None:  # mmap(2), SIGSEGV: the address is not mapped
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_MAPERR"), outcome
    elif not there["perms"].startswith("rw"):
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    else:  # another mapping: the store lands there, silently
        assert outcome.ok, outcome
    observed = "SIGSEGV" if outcome.signal == "SIGSEGV" else "no fault" if outcome.ok else \
        outcome.signal
    # The documents leave out the condition that nothing is mapped there.
    central = layout in ("guard", "free")
    for claim in OUT_OF_BOUNDS:
        prediction.record("SIGSEGV", observed, case=f"store at the mapping's page-rounded end "
                          f"({end}), {layout} layout", claim=claim, central=central,
                          si_code=outcome.si_code, region_there=there)


@pytest.mark.claim(*OUT_OF_BOUNDS)
@pytest.mark.parametrize(("file_size", "length", "at"), [
    (PAGE_SIZE, 100, 100), (SMALL, LONG, LONG), (PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE)])
def test_access_past_length_inside_the_last_page(probe, prediction, sized_file, file_size,
                                                  length, at):
    outcome = probe(touch_with_layout, sized_file(file_size), length, at, "guard")
    observed = "ok" if outcome.ok else outcome.signal
    assert observed == _spec(at, file_size, length), outcome
    case = f"store at {at}, length {length}, file of {file_size} bytes"
    prediction.record("SIGSEGV", "no fault" if outcome.ok else observed, case=case,
                      claim="webserver-mmap.out-of-bounds-segfault", central=False,
                      si_code=outcome.si_code)
    if (file_size, length) == (SMALL, LONG):  # the unp-shm document's own mapping
        prediction.record("SIGSEGV", observed, case=case, claim="unp-shm.past-mapping-sigsegv",
                          central=False, si_code=outcome.si_code)


# --- the go-mmap demo: 128 MiB over a small file -----------------------------------------------

GO_MAP = 128 << 20


@pytest.mark.claim("go-mmap.map-length-beyond-file")
def test_go_demo_maps_128_mib_over_a_one_byte_file(probe, prediction, sized_file):
    path = sized_file(1, fill=b"g")
    outcome = probe(map_file, path, GO_MAP)
    assert outcome.ok, outcome
    python = probe(pymmap_file, path, GO_MAP)
    assert python.exception == "ValueError", python
    prediction.record("maps", "maps", case="mmap(NULL, 128 MiB, PROT_READ|PROT_WRITE, "
                      "MAP_SHARED, fd, 0) over 1 byte", python_mmap_module=python.message)


@pytest.mark.claim("go-mmap.access-past-file-size-fails")
@pytest.mark.parametrize(("file_size", "at", "central"), [
    (4096, 4095, True), (4096, 4096, True), (4096, 10000, True),
    (4000, 3999, False), (4000, 4000, False), (4000, 4095, False), (4000, 10000, False)])
def test_access_beyond_the_file_in_a_128_mib_mapping(probe, prediction, sized_file, file_size,
                                                     at, central):
    outcome = probe(map_then_touch, sized_file(file_size), GO_MAP, at)
    observed = "ok" if outcome.ok else outcome.signal
    assert observed == _spec(at, file_size, GO_MAP), outcome
    prediction.record("fault" if at >= file_size else "ok", "ok" if outcome.ok else "fault",
                      case=f"data[{at}] of a {file_size}-byte file", central=central,
                      signal=outcome.signal, si_code=outcome.si_code, page_size=PAGE_SIZE)
