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

from helpers import observe, scratch
from helpers.libc import PAGE_SIZE
from helpers.platform import huge_page_bytes
from helpers.probes.eof import (
    access_by_the_man_page,
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
    access = "store" if write else "load"
    prediction.observe("touch-empty-file", observe.result(outcome), instance=access,
                       claim="memmap-ipc.empty-file-bus-error")
    # Either the call or the first access may fail; on Linux only the access does.
    prediction.observe("empty-file-unusable", observe.result(outcome), instance=access,
                       claim="webserver-mmap.file-size-must-not-be-zero")
    assert outcome.signal == "SIGBUS", outcome
    assert outcome.notes.get("mmap_succeeded") is True, outcome
    assert outcome.si_code in ("BUS_ADRERR", None), outcome
    assert outcome.fault_offset in (0, None), outcome


@pytest.mark.claim("memmap-ipc.empty-file-bus-error", "webserver-mmap.file-size-must-not-be-zero")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize("length", [0, 4000])
def test_pymmap_refuses_empty_file(probe, prediction, sized_file, length):
    outcome = probe(pymmap_empty_file, sized_file(0), length)
    call = f"mmap.mmap(fd, {length})"
    prediction.observe("empty-file-unusable", observe.result(outcome), instance=call,
                       claim="webserver-mmap.file-size-must-not-be-zero")
    # Python never lets the program reach the bus error the document warns of.
    prediction.observe("pymmap-empty-file", observe.result(outcome), instance=call,
                       claim="memmap-ipc.empty-file-bus-error")
    assert outcome.exception == "ValueError", outcome


@pytest.mark.claim("memmap-ipc.empty-file-bus-error")
def test_writing_data_first_makes_the_page_usable(probe, prediction, sized_file):
    outcome = probe(map_then_touch, sized_file(5, fill=b"hello"), 4000, 0, write=True)
    prediction.observe("touch-file-with-data", observe.result(outcome))
    assert outcome.ok and outcome.value["byte"] == ord("X"), outcome


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
    # Python's mmap module checks the length against the file; mmap(2) does not.
    through_libc = layer_probe is map_file
    prediction.observe("map-15000-over-4999" if through_libc else "pymmap-map-15000-over-4999",
                       observe.result(outcome))
    assert (outcome.ok if through_libc else outcome.exception == "ValueError"), outcome


@pytest.mark.claim("unp-shm.past-eof-pages-sigbus")
@pytest.mark.parametrize("at", [8192, 12288, 14999, 15000, 16383])
@pytest.mark.parametrize("write", [False, True], ids=["load", "store"])
def test_pages_wholly_past_eof_raise_sigbus(probe, prediction, sized_file, at, write):
    outcome = probe(map_then_touch, sized_file(SMALL), LONG, at, write=write)
    observed = prediction.observe("past-eof-page" if at < LONG else "past-length-in-last-page",
                                  observe.result(outcome),
                                  instance=f"{'store' if write else 'load'} at {at}")
    expected = _spec(at, SMALL, LONG)
    assert observed.value == expected, outcome
    if expected == "SIGBUS":
        assert outcome.si_code in ("BUS_ADRERR", None) and outcome.fault_offset in (at, None)


@pytest.mark.claim("unp-shm.tail-of-last-page-accessible")
def test_tail_of_the_last_page_reads_zero_and_takes_stores(probe, prediction, sized_file):
    outcome = probe(read_to_page_end, sized_file(SMALL, fill=b"B"), SMALL)
    prediction.observe("tail-readable-to", observe.field(outcome, "read_up_to"))
    prediction.observe("tail-reads-zero", observe.classify(
        observe.field(outcome, "first_nonzero_past_eof"), {None: "all zero"}))
    prediction.observe("tail-takes-stores",
                       observe.same(outcome, "stored_byte", "last_byte_after_store"))
    assert outcome.ok, outcome
    assert outcome.value == {"read_up_to": page_round(SMALL), "first_nonzero_past_eof": None,
                             "stored_byte": ord("T"), "last_byte_after_store": ord("T")}, outcome


OUT_OF_BOUNDS = ("unp-shm.past-mapping-sigsegv", "webserver-mmap.out-of-bounds-segfault")


@pytest.mark.claim(*OUT_OF_BOUNDS)
@pytest.mark.parametrize("layout", ["guard", "free", "neighbour", "natural"])
def test_access_after_the_mapping_faults_only_if_nothing_is_there(probe, prediction, sized_file,
                                                                    layout):
    end = page_round(LONG)
    outcome = probe(touch_with_layout, sized_file(LONG), LONG, end, layout)
    # The documents leave out the condition that nothing is mapped there.
    case = {"guard": "past-end-nothing-accessible", "free": "past-end-nothing-accessible",
            "neighbour": "past-end-neighbour-mapped", "natural": "past-end-natural-layout"}
    accessed = observe.access(outcome, f"the {layout} layout")
    for claim in OUT_OF_BOUNDS:
        prediction.observe(case[layout], accessed, claim=claim,
                           instance=f"store at {end}, {layout} layout")
    assert "region_at_target" in outcome.notes, outcome
    there = outcome.notes["region_at_target"]
    if there is None:  # mmap(2), SIGSEGV: the address is not mapped
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_MAPERR"), outcome
    elif not there["perms"].startswith("rw"):
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    else:  # another mapping: the store lands there, silently
        assert outcome.ok, outcome


@pytest.mark.claim(*OUT_OF_BOUNDS)
@pytest.mark.parametrize(("file_size", "length", "at"), [
    (PAGE_SIZE, 100, 100), (SMALL, LONG, LONG), (PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE)])
def test_access_past_length_inside_the_last_page(probe, prediction, sized_file, file_size,
                                                  length, at):
    outcome = probe(touch_with_layout, sized_file(file_size), length, at, "guard")
    instance = f"store at {at}, length {length}, file of {file_size} bytes"
    past_eof = at >= page_round(file_size)
    observed = prediction.observe("past-length-past-eof" if past_eof else
                                  "past-length-in-last-page",
                                  observe.access(outcome, "the guard layout"),
                                  claim="webserver-mmap.out-of-bounds-segfault",
                                  instance=instance)
    if (file_size, length) == (SMALL, LONG):  # the unp-shm document's own mapping
        prediction.observe("past-length-in-last-page", observed,
                           claim="unp-shm.past-mapping-sigsegv", instance=instance)
    assert observed.value == _spec(at, file_size, length), outcome


# --- the go-mmap demo: 128 MiB over a small file -----------------------------------------------

GO_MAP = 128 << 20


@pytest.mark.claim("go-mmap.map-length-beyond-file")
def test_go_demo_maps_128_mib_over_a_one_byte_file(probe, prediction, sized_file):
    path = sized_file(1, fill=b"g")
    outcome = probe(map_file, path, GO_MAP)
    python = probe(pymmap_file, path, GO_MAP)
    prediction.observe("map-128mib-over-1-byte", observe.result(outcome))
    prediction.observe("pymmap-map-128mib-over-1-byte", observe.result(python), layer="pymmap")
    assert outcome.ok, outcome
    assert python.exception == "ValueError", python


@pytest.mark.claim("go-mmap.access-past-file-size-fails")
@pytest.mark.parametrize(("file_size", "at", "case"), [
    (4096, 4095, "inside-4096-byte-file"), (4096, 4096, "past-4096-byte-file"),
    (4096, 10000, "past-4096-byte-file"), (4000, 3999, "inside-4000-byte-file"),
    (4000, 4000, "past-size-in-last-page"), (4000, 4095, "past-size-in-last-page"),
    (4000, 10000, "past-4000-byte-file")])
def test_access_beyond_the_file_in_a_128_mib_mapping(probe, prediction, sized_file, file_size,
                                                     at, case):
    outcome = probe(map_then_touch, sized_file(file_size), GO_MAP, at)
    observed = prediction.observe(case, observe.result(outcome),
                                  instance=f"data[{at}] of a {file_size}-byte file")
    # On a tmpfs with huge pages the page holding end of file may be a 2 MiB one.
    allowed = access_by_the_man_page(at, file_size, GO_MAP, huge_page_bytes(scratch.directory()))
    assert observed.value in allowed, outcome
