"""The "shall" sentences of POSIX ``mprotect``, one probe per case."""

from __future__ import annotations

import itertools

import pytest

from helpers.probes import spec_mprotect as p
from helpers.probes.spec_rows import Row, check, params

BITS = ("PROT_READ", "PROT_WRITE", "PROT_EXEC")
COMBINATIONS = ["|".join(c) or "PROT_NONE"
                for n in range(len(BITS) + 1) for c in itertools.combinations(BITS, n)]

ROWS = [
    Row("spec.mprotect-whole-pages", "rest-of-page-protected", p.whole_page_read_only, (),
        "SIGSEGV/SEGV_ACCERR", "signal"),
    *(Row("spec.mprotect-supported-values", "accepted", p.change_to, (prot,), "ok", "field",
          "mprotect", instance=prot) for prot in COMBINATIONS),
    Row("spec.mprotect-enforced", "store-read-only", p.touch_after, ("PROT_READ", "store"),
        "SIGSEGV/SEGV_ACCERR", "signal"),
    Row("spec.mprotect-enforced", "load-prot-none", p.touch_after, ("PROT_NONE", "load"),
        "SIGSEGV/SEGV_ACCERR", "signal"),
    Row("spec.mprotect-addr-alignment", "unaligned-addr", p.unaligned, (), "EINVAL", "field",
        "mprotect"),
    Row("spec.mprotect-return-value", "success", p.return_values, (), "ok", "field",
        "success"),
    Row("spec.mprotect-return-value", "failure-sets-errno", p.return_values, (), "ENOMEM",
        "field", "failure"),
    Row("spec.mprotect-unmapped-enomem", "hole-in-range", p.over_hole, (), "ENOMEM", "field",
        "mprotect"),
]


@pytest.mark.parametrize("row", params(ROWS))
def test_mprotect_assertion(probe, prediction, sized_file, shm_name, row):
    check(row, probe, prediction, sized_file, shm_name)
