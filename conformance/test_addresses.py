"""Checks of the ``addr`` argument: NULL, a hint, and MAP_FIXED.

mmap(2): with addr NULL the kernel picks a page-aligned address, at or above
/proc/sys/vm/mmap_min_addr.  Any other addr is a hint: Linux starts the
mapping at a nearby page boundary if that range is free, and elsewhere if it
is not, leaving what is there alone.  With MAP_FIXED the mapping starts at
addr exactly or the call fails (EINVAL for an unaligned addr, ENOMEM outside
the user address space, EPERM below mmap_min_addr without CAP_SYS_RAWIO),
and whatever pages of existing mappings the new range covers are discarded;
MAP_FIXED_NOREPLACE refuses an occupied range with EEXIST instead.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes import addresses
from helpers.probes.arguments import mmap_min_addr

NULL_CLAIMS = ("memmap-ipc.addr-null-kernel-chooses", "unp-shm.addr-null-page-aligned")
FIXED_CLAIMS = ("unp-shm.map-fixed-exact-address", "unp-shm.map-fixed-unaligned-fails",
                "mmap-notes.map-fixed-page-multiple")
ODD_LENGTHS = [1, PAGE_SIZE + 1, 12345, 3 * PAGE_SIZE]
#: What the probes map: the documents speak of ``addr`` whatever is mapped, so each
#: prediction is observed on anonymous memory and on a private mapping of a file.
BACKINGS = pytest.mark.parametrize("backing", ["anonymous", "file"])


def backed_by(backing: str, sized_file) -> str | None:
    """Return the scratch file a probe maps for ``backing`` (None: anonymous memory)."""
    return sized_file(4 * PAGE_SIZE, fill=b"F") if backing == "file" else None


@pytest.mark.claim(*NULL_CLAIMS)
@pytest.mark.parametrize("kind", [
    "file", "anonymous",
    pytest.param("pymmap-file", marks=pytest.mark.layer("pymmap")),
    pytest.param("pymmap-anonymous", marks=pytest.mark.layer("pymmap")),
])
def test_null_addr_gives_kernel_chosen_page_aligned_addresses(probe, prediction, sized_file,
                                                              kind):
    outcome = probe(addresses.map_null, kind, ODD_LENGTHS, sized_file(4 * PAGE_SIZE))
    aligned = observe.field(outcome, "all_page_aligned")
    for claim in NULL_CLAIMS:
        prediction.observe("page-aligned", aligned, claim=claim, instance=kind)
    prediction.observe("kernel-chosen", observe.field(outcome, "distinct_and_above_floor"),
                       claim=NULL_CLAIMS[0], instance=kind)
    assert outcome.ok, outcome
    found, floor = outcome.value["addresses"], outcome.value["mmap_min_addr"]
    assert all(a % PAGE_SIZE == 0 for a in found), outcome
    assert len(set(found)) == len(found) and min(found) >= floor, outcome


@pytest.mark.claim("unp-shm.addr-hint-nearby-page")
@BACKINGS
@pytest.mark.parametrize(("where", "case"), [("free", "free-range"), ("page 1", "page-one")],
                         ids=["free-range", "page-1"])
def test_hint_gives_nearby_page_boundary(probe, prediction, sized_file, where, case, backing):
    outcome = probe(addresses.map_with_hint, where, backed_by(backing, sized_file))
    prediction.observe(case, observe.field(outcome, "at_nearby_boundary"), instance=backing)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["address"] % PAGE_SIZE == 0 and seen["address"] >= seen["mmap_min_addr"], seen
    nearby = seen["address"] in (seen["floor"], seen["ceil"])
    if where == "free":  # a free range is used, at the hint's page boundary
        assert nearby, seen


@pytest.mark.claim("unp-shm.addr-hint-occupied-relocates")
@BACKINGS
def test_occupied_hint_places_mapping_elsewhere(probe, prediction, sized_file, backing):
    outcome = probe(addresses.map_over_occupied, b"occupied", backed_by(backing, sized_file))
    prediction.observe("hint-at-an-existing-page", observe.field(outcome, "elsewhere_and_intact"),
                       instance=backing)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["second"] != seen["first"] and seen["pattern_intact"], seen


@pytest.mark.claim(*FIXED_CLAIMS)
@BACKINGS
@pytest.mark.parametrize("shift", [0, PAGE_SIZE, 1, PAGE_SIZE // 2, PAGE_SIZE + 1])
def test_map_fixed_lands_exactly_or_fails_einval(probe, prediction, sized_file, shift, backing):
    outcome = probe(addresses.map_fixed_in_free_range, shift, backed_by(backing, sized_file))
    instance = f"{backing} at free range + {shift:#x}"
    exact, succeeded = observe.field(outcome, "exactly_at_addr"), observe.succeeded(outcome)
    if shift % PAGE_SIZE == 0:
        prediction.observe("aligned-addr", exact, claim=FIXED_CLAIMS[0], instance=instance)
    else:
        prediction.observe("unaligned-addr", succeeded, claim=FIXED_CLAIMS[1], instance=instance)
    # The third document states the rule with 4096 where the page size belongs.
    if shift % 4096 == 0:
        prediction.observe("multiple-of-4096", exact, claim=FIXED_CLAIMS[2], instance=instance)
    else:
        prediction.observe("not-a-multiple-of-4096", succeeded, claim=FIXED_CLAIMS[2],
                           instance=instance)
    if shift % PAGE_SIZE == 0:
        assert outcome.ok and outcome.value["address_offset"] == shift, outcome
    else:
        assert outcome.errno == "EINVAL", outcome


@pytest.mark.claim(FIXED_CLAIMS[0])
@BACKINGS
@pytest.mark.parametrize(("addr", "unprivileged", "errnos"), [
    (0, True, ("EPERM", "EACCES")),
    (0xFFFF_8000_0000_0000, False, ("ENOMEM",)),
    (2**64 - PAGE_SIZE, False, ("ENOMEM", "EINVAL")),
], ids=["page-0-as-nobody", "kernel-half", "last-page"])
def test_map_fixed_at_unusable_address_fails(probe, prediction, sized_file, addr, unprivileged,
                                             errnos, backing):
    if addr < PAGE_SIZE and mmap_min_addr() == 0:
        pytest.skip("vm.mmap_min_addr is 0: page 0 is usable by anyone here")
    outcome = probe(addresses.map_fixed_at, addr, unprivileged=unprivileged,
                    path=backed_by(backing, sized_file))
    prediction.observe("unusable-addr", observe.field(outcome, "failed"),
                       instance=f"{backing} at {addr:#x}" + (" as nobody" if unprivileged else ""))
    assert outcome.ok and outcome.value["errno"] in errnos, outcome


@pytest.mark.claim("mmap-notes.map-fixed-page-multiple")
@settings(max_examples=25)
@given(shift=st.integers(min_value=0, max_value=3 * PAGE_SIZE))
def test_map_fixed_maps_iff_page_multiple(probe, shift):
    outcome = probe(addresses.map_fixed_in_free_range, shift)
    assert outcome.ok == (shift % PAGE_SIZE == 0), outcome
    if outcome.ok:
        assert outcome.value["address_offset"] == shift, outcome
    else:
        assert outcome.errno == "EINVAL", outcome


@pytest.mark.claim("unp-shm.map-fixed-replaces-overlap")
@BACKINGS
def test_map_fixed_replaces_only_the_overlapped_pages(probe, prediction, sized_file, backing):
    over = backed_by(backing, sized_file)
    outcome = probe(addresses.fixed_over_mapping, sized_file(4 * PAGE_SIZE, fill=b"P"),
                    over=over)
    prediction.observe("fixed-over-pages-1-2",
                       observe.field(outcome, "overlap_replaced_rest_intact"), instance=backing)
    assert outcome.ok, outcome
    seen, new = outcome.value, ord("F") if over else 0
    assert seen["errno"] is None and seen["landed_offset"] == PAGE_SIZE, seen
    assert seen["first_bytes"] == [ord("P"), new, new, ord("P")], seen
    assert seen["file_backed"] == [True, False, False, True] and all(seen["mapped"]), seen


@pytest.mark.claim("unp-shm.map-fixed-replaces-overlap")
def test_map_fixed_noreplace_refuses_occupied_range_eexist(probe, sized_file):
    outcome = probe(addresses.fixed_over_mapping, sized_file(4 * PAGE_SIZE, fill=b"P"),
                    flag="MAP_FIXED_NOREPLACE")
    assert outcome.ok, outcome
    assert outcome.value["errno"] == "EEXIST", outcome
    # The document does not speak of MAP_FIXED_NOREPLACE: the probe's outcome is the evidence.
    assert outcome.value["first_bytes"] == [ord("P")] * 4, outcome
