"""Faults of protection: read-only after ``mprotect``, ``PROT_NONE``, and unmapped memory.

mprotect(2) and sigaction(2): a store to a page made ``PROT_READ`` raises
``SIGSEGV`` with ``SEGV_ACCERR`` (loads still work); any access to a
``PROT_NONE`` page does the same; an address whose mapping was removed gives
``SEGV_MAPERR``.  mprotect(2) ``EACCES``: write permission cannot be added to
a ``MAP_SHARED`` mapping of a file opened read-only (``MAP_PRIVATE`` can).
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.faults_protections import (
    add_write_to_readonly_file_mapping,
    load_after_munmap,
    touch_prot_none,
    write_after_mprotect_readonly,
)


@pytest.mark.claim("fault.mprotect-readonly-write")
def test_load_after_mprotect_readonly_still_works(probe):
    outcome = probe(write_after_mprotect_readonly, write=False)
    assert outcome.ok and outcome.value == {"byte": 0x52}, outcome


@pytest.mark.claim("fault.mprotect-readonly-write")
def test_store_after_mprotect_readonly_raises_segv_accerr(probe):
    outcome = probe(write_after_mprotect_readonly, write=True)
    assert outcome.notes.get("mprotect") == "ok", outcome
    assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    assert outcome.fault_offset == 9, outcome


@pytest.mark.claim("fault.mprotect-write-on-rdonly-shared")
@pytest.mark.parametrize(("flags", "expected"), [
    ("MAP_SHARED", "EACCES"),
    ("MAP_PRIVATE", "ok"),
])
def test_adding_write_to_mapping_of_readonly_fd(probe, sized_file, flags, expected):
    outcome = probe(add_write_to_readonly_file_mapping, sized_file(PAGE_SIZE), flags)
    assert outcome.ok and outcome.value == {"mprotect": expected}, outcome


@pytest.mark.claim("fault.prot-none-access")
@pytest.mark.parametrize("write", [False, True], ids=["load", "store"])
def test_access_to_prot_none_raises_segv_accerr(probe, write):
    outcome = probe(touch_prot_none, write=write)
    assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    assert outcome.fault_offset == 3, outcome


@pytest.mark.claim("fault.access-after-munmap")
def test_load_after_munmap_raises_segv_maperr(probe):
    outcome = probe(load_after_munmap)
    # Nothing was mapped at the address when the load ran.
    assert outcome.notes.get("mincore_after_munmap") == "ENOMEM", outcome
    assert outcome.notes.get("guards_mapped") is True, outcome
    assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_MAPERR"), outcome
    assert outcome.fault_offset == 0, outcome
