"""Faults prevented by sealing a memfd: no shrinking, so no SIGBUS from truncation.

memfd_create(2) and fcntl(2), file sealing: with ``F_SEAL_SHRINK`` no one can
make the file smaller (``EPERM``), so the fault of a file truncated under a
live mapping cannot happen; ``F_SEAL_GROW`` forbids growing it by
``ftruncate`` or a write past the end (``EPERM``); ``F_SEAL_SEAL`` forbids
changing the seals (``EPERM``); ``F_SEAL_WRITE`` is refused while a writable
shared mapping exists (``EBUSY``).
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.faults_memfd import grow_sealed, shrink_sealed


@pytest.mark.claim("fault.memfd-seal-shrink-eperm")
def test_shrinking_a_sealed_memfd_fails_eperm_for_everyone(probe):
    outcome = probe(shrink_sealed, 3)
    assert outcome.ok, outcome
    assert outcome.value == {
        "add_shrink_and_seal": "ok",
        "ftruncate_smaller": "EPERM",
        "peer_ftruncate_smaller": "EPERM",  # another process, through its own open
        "add_grow_after_seal": "EPERM",
        "seals": ["F_SEAL_SEAL", "F_SEAL_SHRINK"],
        "st_size": 3 * PAGE_SIZE,
        "every_page_intact": True,
    }, outcome


@pytest.mark.claim("fault.memfd-seal-grow-eperm")
def test_growing_a_sealed_memfd_fails_eperm(probe):
    outcome = probe(grow_sealed, 2)
    assert outcome.ok, outcome
    assert outcome.value == {
        "add_grow": "ok",
        "ftruncate_larger": "EPERM",
        "pwrite_past_eof": "EPERM",
        "pwrite_inside": "ok",
        "add_write_while_mapped": "EBUSY",
        "add_write_unmapped": "ok",
        "seals": ["F_SEAL_GROW", "F_SEAL_WRITE"],
        "st_size": 2 * PAGE_SIZE,
    }, outcome
