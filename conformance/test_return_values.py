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

import shutil
import subprocess

import pytest

from helpers.libc import MAP_FAILED, PAGE_SIZE
from helpers.probes.arguments import mmap_returns, munmap_returns

RESULTS = "memmap-ipc.mmap-return-values"
FAILED_VALUE = "webserver-mmap.map-failed-value"


def _spelled(returned: int) -> str:
    """Return how C would print a pointer value the documents talk about."""
    return {MAP_FAILED: "(void *) -1", 0: "NULL"}.get(returned, hex(returned))


@pytest.mark.claim(RESULTS)
@pytest.mark.parametrize("length", [1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE])
def test_success_returns_page_aligned_address(probe, prediction, sized_file, length):
    outcome = probe(mmap_returns, sized_file(2 * PAGE_SIZE), length)
    assert outcome.ok and outcome.value["errno"] is None, outcome
    returned = outcome.value["returned"]
    assert returned % PAGE_SIZE == 0 and returned != MAP_FAILED, outcome
    observed = "page-aligned address" if returned % PAGE_SIZE == 0 else _spelled(returned)
    prediction.record("page-aligned address", observed, case=f"length {length}",
                      returned=hex(returned))


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
    assert outcome.ok, outcome
    returned = outcome.value["returned"]
    assert returned == MAP_FAILED and outcome.value["errno"] == errno, outcome
    with_errno = returned == MAP_FAILED and outcome.value["errno"] is not None
    prediction.record("MAP_FAILED with errno set", "MAP_FAILED with errno set" if with_errno
                      else _spelled(returned), case=case, claim=RESULTS,
                      errno=outcome.value["errno"])
    prediction.record("(void *) -1", _spelled(returned), case=case, claim=FAILED_VALUE,
                      equals_null=returned == 0, errno=outcome.value["errno"])


@pytest.mark.claim(FAILED_VALUE)
@pytest.mark.needs("compiler")
def test_map_failed_macro_is_minus_one_cast_to_pointer(prediction):
    compiler = shutil.which("cc") or shutil.which("gcc")
    done = subprocess.run([compiler, "-E", "-P", "-x", "c", "-"], capture_output=True,
                          text=True, timeout=20, check=True,
                          input="#include <sys/mman.h>\nVALUE_OF_MAP_FAILED MAP_FAILED\n")
    line = next(x for x in done.stdout.splitlines() if x.startswith("VALUE_OF_MAP_FAILED"))
    expansion = line.removeprefix("VALUE_OF_MAP_FAILED").strip()
    assert expansion.replace(" ", "") == "((void*)-1)", expansion
    observed = "(void *) -1" if expansion.replace(" ", "") == "((void*)-1)" else expansion
    prediction.record("(void *) -1", observed, case="the MAP_FAILED macro of <sys/mman.h>",
                      central=False, expansion=expansion)


@pytest.mark.claim(RESULTS, FAILED_VALUE)
def test_null_can_be_a_successful_result(probe, prediction):
    outcome = probe(mmap_returns, None, PAGE_SIZE,
                    flags="MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", addr=0)
    assert outcome.ok, outcome
    if outcome.value["errno"] in ("EPERM", "EACCES"):
        pytest.skip("mapping page 0 needs CAP_SYS_RAWIO and a permissive mmap_min_addr")
    assert outcome.value == {"returned": 0, "map_failed": False, "errno": None}, outcome
    case = "MAP_FIXED at address 0, permitted here"
    prediction.record("page-aligned address", "page-aligned address", case=case,
                      claim=RESULTS, central=False, returned=0)
    # The document's comment calls MAP_FAILED "usually a null pointer": a
    # caller who believed it would take this success for a failure.
    prediction.record(None, "NULL returned by a successful call", case=case, claim=FAILED_VALUE)


MUNMAP = "memmap-ipc.munmap-return-values"


@pytest.mark.claim(MUNMAP)
@pytest.mark.parametrize(("case", "returned", "errno", "mapped", "predicted", "central"), [
    ("whole", 0, None, [False] * 4, 0, True),
    ("unaligned", -1, "EINVAL", [True] * 4, -1, True),
    ("length 0", -1, "EINVAL", [True] * 4, -1, False),
    ("kernel half", -1, "EINVAL", [True] * 4, -1, False),
    ("sub-range", 0, None, [True, False, True, True], None, False),
    ("no mapping", 0, None, [False] * 4, None, False),
], ids=["whole", "unaligned", "length-0", "kernel-half", "sub-range", "no-mapping"])
def test_munmap_returns_zero_or_minus_one(probe, prediction, case, returned, errno, mapped,
                                          predicted, central):
    outcome = probe(munmap_returns, case)
    assert outcome.ok, outcome
    assert outcome.value == {"returned": returned, "errno": errno, "mapped": mapped}, outcome
    prediction.record(predicted, outcome.value["returned"], case=f"munmap: {case}",
                      central=central, **outcome.value)
