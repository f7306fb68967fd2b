"""Faults of absurd arguments to ``mmap``, ``munmap`` and ``msync``.

mmap(2) ERRORS: ``ENOMEM`` for a length beyond the address space (or one
that wraps to 0 when rounded up); ``EOVERFLOW`` when offset plus length
passes the largest file offset; ``EINVAL`` for an unaligned offset, an
unaligned ``MAP_FIXED`` address, a zero length or flags naming no mapping
type; ``EOPNOTSUPP`` for an unknown flag under ``MAP_SHARED_VALIDATE``;
``EEXIST`` for ``MAP_FIXED_NOREPLACE`` over a mapping.  munmap(2):
``EINVAL`` for an unaligned address or zero length.  msync(2): ``ENOMEM``
over unmapped memory, ``EINVAL`` for bad flags or address, ``EBUSY`` when
``MS_INVALIDATE`` meets a locked page.
"""

from __future__ import annotations

import pytest

from helpers import libc
from helpers.libc import PAGE_SIZE
from helpers.probes.faults_arguments import (
    fixed_noreplace_over_mapping,
    flags_without_type,
    invalidate_locked,
    map_anonymous,
    map_file_at,
    map_fixed_unaligned,
    msync_bad_flags,
    msync_unmapped,
    munmap_unaligned,
    pymmap_anonymous,
    pymmap_file_at,
    unknown_flag_bits,
    zero_lengths,
)

SIZE_MAX = 2**64 - 1
OFF_MAX = 2**63 - 1
EOPNOTSUPP = "EOPNOTSUPP"  # helpers.libc.errno_name spells this number as mmap(2) does
#: Bits 21-25 of mmap's flags: no MAP_ flag uses them on the architectures tabulated.
UNASSIGNED_MAP_BITS = [1 << bit for bit in range(21, 26)]






@pytest.mark.claim("fault.huge-length-enomem")
@pytest.mark.parametrize("length", [SIZE_MAX, SIZE_MAX - PAGE_SIZE + 2, 2**62],
                         ids=["SIZE_MAX", "wraps-to-0", "2**62"])
def test_huge_length_fails_enomem(probe, length):
    outcome = probe(map_anonymous, length)
    assert outcome.ok and outcome.value == {"mmap": "ENOMEM"}, outcome


@pytest.mark.claim("fault.huge-length-enomem")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize(("length", "expected"), [
    (SIZE_MAX, "OverflowError"),  # does not fit Py_ssize_t: refused before mmap
    (2**63 - 1, "ENOMEM"),
    (2**62, "ENOMEM"),
], ids=["SIZE_MAX", "SSIZE_MAX", "2**62"])
def test_pymmap_huge_length_fails(probe, length, expected):
    outcome = probe(pymmap_anonymous, length)
    observed = outcome.value["mmap"] if outcome.ok else outcome.exception
    assert observed == expected, outcome


@pytest.mark.claim("fault.offset-length-overflow")
@pytest.mark.parametrize(("offset", "pages", "expected"), [
    (-PAGE_SIZE, 1, "EOVERFLOW"),  # seen by the kernel as 2**64 - page
    (-PAGE_SIZE, 100, "EOVERFLOW"),
    (OFF_MAX + 1 - PAGE_SIZE, 1, "EOVERFLOW"),  # the largest page-aligned off_t
    (OFF_MAX + 1 - 16 * PAGE_SIZE, 16, "EOVERFLOW"),  # ends one byte past OFF_MAX
    (OFF_MAX + 1 - 16 * PAGE_SIZE, 15, "ok"),  # ends below: a mapping past EOF is allowed
    (OFF_MAX, 1, "EINVAL"),  # unaligned: that check comes first
], ids=["-page", "-page-x100", "OFF_MAX-page", "crosses-OFF_MAX", "below-OFF_MAX",
        "OFF_MAX-unaligned"])
def test_offset_plus_length_beyond_largest_file_offset_fails_eoverflow(
        probe, sized_file, offset, pages, expected):
    outcome = probe(map_file_at, sized_file(PAGE_SIZE), pages * PAGE_SIZE, offset)
    assert outcome.ok and outcome.value == {"mmap": expected}, outcome


@pytest.mark.claim("fault.map-fixed-unaligned")
@pytest.mark.parametrize("flag", ["MAP_FIXED", "MAP_FIXED_NOREPLACE"])
def test_unaligned_fixed_address_fails_einval(probe, flag):
    outcome = probe(map_fixed_unaligned, flag)
    assert outcome.ok and outcome.value == {"mmap": "EINVAL", "mapped_there": False}, outcome


@pytest.mark.claim("fault.unaligned-offset-einval")
@pytest.mark.parametrize("offset", [1, PAGE_SIZE - 1, PAGE_SIZE + 1])
def test_unaligned_file_offset_fails_einval(probe, sized_file, offset):
    outcome = probe(map_file_at, sized_file(3 * PAGE_SIZE), PAGE_SIZE, offset)
    assert outcome.ok and outcome.value == {"mmap": "EINVAL"}, outcome


@pytest.mark.claim("fault.unaligned-offset-einval")
def test_unaligned_offset_of_anonymous_mapping_fails_einval(probe):
    outcome = probe(map_anonymous, PAGE_SIZE, offset=1)
    assert outcome.ok and outcome.value == {"mmap": "EINVAL"}, outcome


@pytest.mark.claim("fault.unaligned-offset-einval")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize(("offset", "expected"), [
    (1, "EINVAL"),
    (PAGE_SIZE + 1, "EINVAL"),
    (4 * PAGE_SIZE, "ValueError"),  # at or past end of file: Python's own check
], ids=["1", "page+1", "past-eof"])
def test_pymmap_unaligned_offset(probe, sized_file, offset, expected):
    outcome = probe(pymmap_file_at, sized_file(3 * PAGE_SIZE), PAGE_SIZE, offset)
    observed = outcome.value["mmap"] if outcome.ok else outcome.exception
    assert observed == expected, outcome


@pytest.mark.claim("fault.length-zero-einval")
def test_zero_length_fails_einval(probe, sized_file):
    outcome = probe(zero_lengths, sized_file(PAGE_SIZE))
    assert outcome.ok, outcome
    assert outcome.value == {"mmap_anonymous": "EINVAL", "mmap_file": "EINVAL",
                             "munmap": "EINVAL", "page_still_mapped": True}, outcome


@pytest.mark.claim("fault.munmap-unaligned-einval")
def test_munmap_of_unaligned_address_fails_einval_and_unmaps_nothing(probe):
    outcome = probe(munmap_unaligned)
    assert outcome.ok and outcome.value == {"munmap": "EINVAL",
                                            "still_mapped": [True, True]}, outcome


@pytest.mark.claim("fault.msync-unmapped-enomem")
def test_msync_over_unmapped_memory_fails_enomem(probe, sized_file):
    outcome = probe(msync_unmapped, sized_file(2 * PAGE_SIZE))
    assert outcome.ok, outcome
    assert outcome.value == {"hole_mapped": False, "two_pages": "ENOMEM",
                             "freed_page": "ENOMEM", "mapped_page": "ok"}, outcome


@pytest.mark.claim("fault.msync-sync-and-async-einval")
def test_msync_with_bad_flags_or_address_fails_einval(probe, sized_file):
    outcome = probe(msync_bad_flags, sized_file(PAGE_SIZE))
    assert outcome.ok, outcome
    assert outcome.value.pop("MS_SYNC") == "ok", outcome
    assert set(outcome.value.values()) == {"EINVAL"}, outcome


@pytest.mark.claim("fault.ms-invalidate-locked-ebusy")
def test_ms_invalidate_of_locked_page_fails_ebusy(probe, sized_file):
    outcome = probe(invalidate_locked, sized_file(2 * PAGE_SIZE))
    assert outcome.ok, outcome
    assert outcome.value == {"mlock": "ok", "invalidate_locked": "EBUSY",
                             "invalidate_unlocked": "ok", "invalidate_both": "EBUSY"}, outcome


@pytest.mark.claim("fault.flags-without-type-einval")
def test_flags_without_mapping_type_fail_einval(probe, sized_file):
    outcome = probe(flags_without_type, sized_file(PAGE_SIZE))
    assert outcome.ok and set(outcome.value.values()) == {"EINVAL"}, outcome


@pytest.mark.claim("fault.validate-unknown-flag-eopnotsupp")
def test_unknown_flag_fails_eopnotsupp_only_under_map_shared_validate(probe, sized_file):
    flags = {value for name, value in libc.CONSTANTS.items() if name.startswith("MAP_")}
    assert not set(UNASSIGNED_MAP_BITS) & flags, "one of the bits is a known flag now"
    outcome = probe(unknown_flag_bits, sized_file(PAGE_SIZE), UNASSIGNED_MAP_BITS)
    assert outcome.ok, outcome
    expected = {"MAP_SHARED_VALIDATE": EOPNOTSUPP, "MAP_SHARED": "ok"}
    assert outcome.value == {f"{bit:#x}": expected for bit in UNASSIGNED_MAP_BITS}, outcome


@pytest.mark.claim("fault.fixed-noreplace-eexist")
def test_fixed_noreplace_over_a_mapping_fails_eexist(probe):
    outcome = probe(fixed_noreplace_over_mapping)
    assert outcome.ok, outcome
    assert outcome.value == {"mmap": "EEXIST", "mapped_elsewhere": False,
                             "pattern_intact": True}, outcome
