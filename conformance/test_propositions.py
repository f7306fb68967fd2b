"""Checks of propositions the other families leave out, each judged as its document wrote it.

- A MAP_PRIVATE mapping is isolated from its file both ways (memmap-ipc,
  unp-shm; webserver-mmap's "not synchronised"): mmap(2) guarantees only
  that its stores never reach the file; whether later changes of the file
  show in it is unspecified, and on Linux an untouched page shows them.
- A mapping cannot be reached at its address from another process
  (memmap-ipc): each process has its own address space.
- The descriptor comes from open of a disk file (webserver-mmap, mmap-notes):
  mmap(2) maps any object that supports it, memfd and shm objects included.
- Step 5 of unp-shm's recipe, munmap and shm_unlink, "closes" the object:
  neither call closes the descriptor (shm_unlink(3)).
- What mmap returns (webserver-mmap's code comment says MAP_FAILED is
  usually NULL; POSIX defines it as ``(void *) -1``).
- Go's ``syscall.Mmap`` signature as go-mmap gives it, compiled where Go is.
- go-mmap's meanings of the four protection bits; unp-shm's munmap deletes
  the mapping it is given.
- Asides of webserver-mmap: two C remarks in its example's comments
  (strncpy and NUL, the cast from ``void *``) and pages moved to swap.

Each check observes first (``prediction.observe``) and then asserts the man
page, so a platform that differs still reaches the report.
"""

from __future__ import annotations

import shutil

import pytest

from helpers import observe
from helpers.libc import MAP_FAILED, PAGE_SIZE
from helpers.probes.arguments import munmap_returns
from helpers.probes.propositions import (
    compiles_without_cast,
    go_signatures_compile,
    map_descriptor_of,
    page_out,
    private_both_ways,
    returned_address,
    strncpy_past_nul,
    swap_configured,
    token_at_same_address_elsewhere,
    usage_step5,
)
from helpers.probes.protections import call_code, store_and_read, touch_prot_none

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
PRIVATE_CLAIMS = ("memmap-ipc.map-private-own-area", "unp-shm.map-private-own-copy")
PRIVATE_CASES = ("store-reaches-file", "file-change-seen-in-untouched-page",
                 "file-change-seen-in-written-page")
UNSYNCHRONISED = "webserver-mmap.map-private-copy-on-write"


@pytest.mark.claim(*PRIVATE_CLAIMS, UNSYNCHRONISED)
@pytest.mark.parametrize("layer", LAYERS)
def test_private_mapping_and_its_file(probe, prediction, sized_file, layer):
    outcome = probe(private_both_ways, sized_file(2 * PAGE_SIZE, fill=b"."), layer)
    for claim in PRIVATE_CLAIMS:
        for case in PRIVATE_CASES:
            prediction.observe(case, observe.field(outcome, case.replace("-", "_")),
                               claim=claim, layer=layer)
    # webserver-mmap's "not synchronised" (不同步) covers the file-to-mapping direction too.
    for case in PRIVATE_CASES[1:]:
        prediction.observe(case, observe.field(outcome, case.replace("-", "_")),
                           claim=UNSYNCHRONISED, layer=layer)
    assert outcome.ok, outcome
    # mmap(2): private stores never reach the file, and a page the process wrote is its own.
    assert outcome.value["store_reaches_file"] is False, outcome
    assert outcome.value["file_change_seen_in_written_page"] is False, outcome


@pytest.mark.claim("memmap-ipc.mapping-outside-other-address-spaces")
def test_other_process_does_not_find_the_mapping_at_its_address(probe, prediction):
    outcome = probe(token_at_same_address_elsewhere, timeout=30.0)
    prediction.observe("token-at-same-address-elsewhere", observe.field(outcome, "token_seen"))
    assert outcome.ok, outcome
    assert outcome.value["found"] in ("unmapped", "mapped-other"), outcome


DESCRIPTOR_CLAIMS = {
    "webserver-mmap.fd-from-open-disk-file": ("open-disk-file", "memfd", "shm-object", "device"),
    "mmap-notes.fd-from-open": ("open-disk-file", "memfd", "device"),
}


@pytest.mark.claim(*DESCRIPTOR_CLAIMS)
@pytest.mark.parametrize("kind", ["open-disk-file", "memfd", "shm-object", "device"])
def test_mmap_maps_every_descriptor_that_supports_it(probe, prediction, sized_file, shm_name,
                                                     kind):
    outcome = probe(map_descriptor_of, kind, path=sized_file(PAGE_SIZE), shm_name=shm_name())
    for claim, kinds in DESCRIPTOR_CLAIMS.items():
        if kind in kinds:
            prediction.observe(kind, observe.field(outcome, "mapped"), claim=claim)
    assert outcome.ok, outcome
    # mmap(2): regular files, shm objects, memfds and /dev/zero all support mapping.
    assert outcome.value == {"mapped": True, "errno": None}, outcome


@pytest.mark.claim("unp-shm.usage-step5-closes-object")
def test_step5_munmap_and_shm_unlink_leave_the_descriptor_open(probe, prediction, shm_name):
    outcome = probe(usage_step5, shm_name(), PAGE_SIZE, b"left behind")
    prediction.observe("descriptor-after-step5", observe.field(outcome, "descriptor"))
    prediction.observe("data-reachable-after-step5", observe.field(outcome, "data_reachable"))
    assert outcome.ok, outcome
    # shm_unlink(3) removes the name only; the open descriptor keeps the object alive.
    assert outcome.value == {"descriptor": "open", "data_reachable": True,
                             "name_left": False}, outcome


#: How C code and the documents spell the two pointer values at stake.
SPELLED = {MAP_FAILED: "(void *) -1", 0: "NULL"}
FAILURE_VALUE = ("webserver-mmap.map-failed-null-comment", "unp-shm.map-failed-value",
                 "mmap-notes.mmap-return-values")


#: What the return-value probes map: the documents speak of any mmap call, so each
#: prediction is observed on anonymous memory and on a private mapping of a file.
BACKINGS = pytest.mark.parametrize("backing", ["anonymous", "file"])


@pytest.mark.claim(*FAILURE_VALUE)
@BACKINGS
def test_failing_mmap_returns_minus_one_cast_to_pointer(probe, prediction, sized_file, backing):
    # A length of 0 makes the call fail (EINVAL) for either backing.
    outcome = probe(returned_address, 0, sized_file(PAGE_SIZE) if backing == "file" else None)
    for claim in FAILURE_VALUE:
        prediction.observe("failure-value", observe.classify(
            observe.field(outcome, "returned"), SPELLED), claim=claim, instance=backing)
    prediction.observe("null-test-detects-failure",
                       observe.field(outcome, "null_test_detects_failure"),
                       claim="webserver-mmap.map-failed-null-comment", instance=backing)
    assert outcome.ok, outcome
    # mmap(2), POSIX: on failure MAP_FAILED, that is (void *) -1, with errno set.
    assert outcome.value["returned"] == MAP_FAILED and outcome.value["errno"] == "EINVAL", outcome


KERNEL_CHOSEN = ("webserver-mmap.addr-null-kernel-chooses", "mmap-notes.mmap-return-values")


@pytest.mark.claim(*KERNEL_CHOSEN)
@BACKINGS
@pytest.mark.parametrize("length", [1, PAGE_SIZE, 5 * PAGE_SIZE + 3])
def test_addr_null_gets_a_page_aligned_address(probe, prediction, sized_file, length, backing):
    outcome = probe(returned_address, length,
                    sized_file(PAGE_SIZE) if backing == "file" else None)
    for claim in KERNEL_CHOSEN:
        prediction.observe("kernel-chosen-page-aligned", observe.field(outcome, "page_aligned"),
                           claim=claim, instance=f"{backing}, length {length}")
    assert outcome.ok, outcome
    assert outcome.value["errno"] is None and outcome.value["page_aligned"], outcome


GO_SIGNATURE = "go-mmap.syscall-mmap-signature"


@pytest.mark.claim(GO_SIGNATURE)
@pytest.mark.timeout(240)
def test_go_syscall_mmap_has_the_documented_signature(probe, prediction):
    if shutil.which("go") is None:
        pytest.skip("needs a Go toolchain on PATH to compile the declaration "
                    "(Debian: apt-get install golang-go)")
    outcome = probe(go_signatures_compile, timeout=200.0)
    prediction.observe("documented-signature-compiles",
                       observe.field(outcome, "documented_compiles"))
    assert outcome.ok, outcome
    # The check bites: a declaration with offset and length swapped is refused.
    assert outcome.value["wrong_compiles"] is False, outcome
    assert outcome.value["documented_compiles"] is True, outcome


@pytest.mark.claim("webserver-mmap.strncpy-stops-at-nul")
def test_strncpy_copies_nothing_after_the_nul_and_pads(probe, prediction):
    outcome = probe(strncpy_past_nul, 8)
    prediction.observe("bytes-after-nul-copied", observe.field(outcome, "bytes_after_nul_copied"))
    assert outcome.ok, outcome
    # strncpy(3): at most n bytes; a shorter source is padded with NULs up to n.
    assert outcome.value["padded"] and outcome.value["beyond_n_untouched"], outcome


@pytest.mark.claim("webserver-mmap.strcpy-needs-cast")
def test_void_pointer_needs_no_cast_in_c(probe, prediction):
    outcome = probe(compiles_without_cast, timeout=60.0)
    prediction.observe("compiles-as-c-without-cast", observe.field(outcome, "c_compiles"))
    assert outcome.ok, outcome
    # ISO C converts void * implicitly; C++ does not (the compilers do check it).
    assert outcome.value["c_compiles"] is True and outcome.value["cxx_compiles"] is False, outcome


@pytest.mark.claim("webserver-mmap.swap-out-when-memory-short")
def test_reclaimed_anonymous_pages_go_to_swap(probe, prediction):
    outcome = probe(page_out, 16)
    went = observe.field(outcome, "swapped_any")
    if not swap_configured():  # nowhere to put anonymous pages: the case cannot show here
        went = observe.unobservable("no swap space is configured here (/proc/swaps lists none)",
                                    outcome)
    prediction.observe("pages-go-to-swap", went)
    assert outcome.ok, outcome
    # Reclaimed pages come back with their data, wherever they were kept.
    assert outcome.value["data_back"], outcome


PROT_FLAGS = "go-mmap.prot-flags"


@pytest.mark.claim(PROT_FLAGS)
def test_each_protection_bit_allows_what_it_names(probe, prediction, sized_file):
    runs = probe(call_code, sized_file(PAGE_SIZE), "PROT_READ|PROT_EXEC")
    reads = probe(touch_prot_none, None, "reopen")  # PROT_NONE, then mprotect(PROT_READ)
    writes = probe(store_and_read, None, "PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS")
    faults = probe(touch_prot_none, None, "load")
    prediction.observe("exec-runs", observe.result(runs))
    prediction.observe("read-reads", observe.result(reads))
    prediction.observe("write-writes", observe.note(writes, "stored"))
    prediction.observe("none-faults", observe.result(faults))
    # mmap(2), mprotect(2): each bit grants its access; PROT_NONE grants none.
    assert reads.ok and writes.notes.get("stored") is True, (reads, writes)
    assert faults.signal == "SIGSEGV" and faults.si_code == "SEGV_ACCERR", faults
    assert (runs.ok and runs.value == 42) or runs.errno == "EPERM", runs  # EPERM: noexec mount


@pytest.mark.claim("unp-shm.munmap-removes-mapping")
@BACKINGS
def test_munmap_with_mmaps_address_and_length_removes_every_page(probe, prediction, sized_file,
                                                                 backing):
    # The document speaks of any mapping: one of anonymous memory and one of a file.
    path = sized_file(4 * PAGE_SIZE) if backing == "file" else None
    outcome = probe(munmap_returns, "whole", path)
    for page in range(4):
        prediction.observe("pages-mapped-after-munmap", observe.field(outcome, "mapped", page),
                           instance=f"{backing} page {page}")
    assert outcome.ok, outcome
    assert outcome.value == {"returned": 0, "errno": None, "mapped": [False] * 4}, outcome
