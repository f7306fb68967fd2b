"""Checks of what mmap and munmap return.

mmap(2), RETURN VALUE: a successful call returns the start of the new
mapping, a multiple of the page size; a failing one returns ``MAP_FAILED``,
which POSIX and glibc define as ``(void *) -1``, and sets errno.  NULL is a
legitimate success value where mapping page 0 is permitted, so callers must
compare with ``MAP_FAILED``.  munmap returns 0, or -1 with errno: EINVAL for
an unaligned address, a zero length or a range outside the address space;
releasing a range that holds no mapping is not an error.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import MAP_FAILED, PAGE_SIZE
from helpers.probes.arguments import map_failed_expansion, mmap_returns, munmap_returns

RESULTS = "memmap-ipc.mmap-return-values"
FAILED_VALUE = "webserver-mmap.map-failed-value"


@pytest.mark.claim(RESULTS)
@pytest.mark.parametrize("length", [1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE])
def test_success_returns_page_aligned_address(probe, prediction, sized_file, length):
    outcome = probe(mmap_returns, sized_file(2 * PAGE_SIZE), length)
    prediction.observe("success-page-aligned", observe.field(outcome, "page_aligned"),
                       instance=f"length {length}")
    assert outcome.ok and outcome.value["errno"] is None, outcome
    returned = outcome.value["returned"]
    assert returned % PAGE_SIZE == 0 and returned != MAP_FAILED, outcome


@pytest.mark.claim(RESULTS, FAILED_VALUE)
@pytest.mark.parametrize(("case", "length", "options", "errno"), [
    ("length 0", 0, {}, "EINVAL"),
    ("descriptor open O_WRONLY", PAGE_SIZE, {"mode": "O_WRONLY"}, "EACCES"),
    ("fd -1 without MAP_ANONYMOUS", PAGE_SIZE, {"file": False}, "EBADF"),
    ("unaligned offset", PAGE_SIZE, {"offset": 1}, "EINVAL"),
], ids=["length-0", "wronly-fd", "fd-minus-one", "unaligned-offset"])
def test_failure_returns_map_failed_with_errno(probe, prediction, sized_file, case, length,
                                               options, errno):
    options = dict(options)
    path = sized_file(PAGE_SIZE) if options.pop("file", True) else None
    outcome = probe(mmap_returns, path, length, **options)
    prediction.observe("failure-map-failed", observe.field(outcome, "map_failed"),
                       claim=RESULTS, instance=case)
    prediction.observe("failure-errno-set", observe.field(outcome, "errno_set"),
                       claim=RESULTS, instance=case)
    prediction.observe("failure-value", observe.field(outcome, "spelled"),
                       claim=FAILED_VALUE, instance=case)
    assert outcome.ok, outcome
    assert outcome.value["returned"] == MAP_FAILED and outcome.value["errno"] == errno, outcome


@pytest.mark.claim(FAILED_VALUE)
@pytest.mark.needs("compiler")
def test_map_failed_macro_is_minus_one_cast_to_pointer(probe, prediction):
    outcome = probe(map_failed_expansion, timeout=30.0)
    prediction.observe("macro-expansion", observe.field(outcome, "spelled"))
    assert outcome.ok, outcome
    assert outcome.value["expansion"].replace(" ", "") == "((void*)-1)", outcome


@pytest.mark.claim(RESULTS)
def test_null_can_be_a_successful_result(probe, prediction):
    outcome = probe(mmap_returns, None, PAGE_SIZE,
                    flags="MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", addr=0)
    assert outcome.ok, outcome
    if outcome.value["errno"] in ("EPERM", "EACCES"):
        pytest.skip("mapping page 0 needs CAP_SYS_RAWIO and a permissive mmap_min_addr")
    # A success at address 0 is still a page-aligned start; a caller who
    # compared with NULL, as one document's comment suggests, would take it for a failure.
    prediction.observe("success-at-address-zero", observe.field(outcome, "page_aligned"),
                       instance="MAP_FIXED at address 0")
    assert outcome.value["returned"] == 0 and outcome.value["errno"] is None, outcome


MUNMAP = "memmap-ipc.munmap-return-values"


@pytest.mark.claim(MUNMAP)
@pytest.mark.parametrize(("how", "case", "returned", "errno", "mapped"), [
    ("whole", "whole-mapping", 0, None, [False] * 4),
    ("unaligned", "unaligned-address", -1, "EINVAL", [True] * 4),
    ("length 0", "length-zero", -1, "EINVAL", [True] * 4),
    ("kernel half", "outside-user-space", -1, "EINVAL", [True] * 4),
    ("sub-range", None, 0, None, [True, False, True, True]),
    ("no mapping", None, 0, None, [False] * 4),
], ids=["whole", "unaligned", "length-0", "kernel-half", "sub-range", "no-mapping"])
def test_munmap_returns_zero_or_minus_one(probe, prediction, how, case, returned, errno,
                                          mapped):
    outcome = probe(munmap_returns, how)
    if case is not None:  # the document predicts nothing for the last two
        prediction.observe(case, observe.field(outcome, "returned"))
    assert outcome.ok, outcome
    assert outcome.value == {"returned": returned, "errno": errno, "mapped": mapped}, outcome
