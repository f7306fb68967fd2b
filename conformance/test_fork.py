"""Checks of what fork does to mappings.

fork(2): the child gets a copy of the parent's address space; MAP_SHARED
mappings stay shared (same pages, same addresses), MAP_PRIVATE ones are
copied on write, ranges marked ``MADV_DONTFORK`` (madvise(2)) are not
inherited.  A mapping made after the fork exists only in the process that
made it: the same address in the other process holds nothing (SIGSEGV,
``SEGV_MAPERR``) or something else.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.fork import inherited_mapping, mapping_made_after_fork

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"from-child"


@pytest.mark.claim("webserver-mmap.fork-inherits-mapping")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_made_before_fork_is_shared_with_child(probe, prediction, sized_file, layer):
    outcome = probe(inherited_mapping, sized_file(PAGE_SIZE), layer, TOKEN)
    same = observe.compare
    for case, seen_here in (
        ("same-address-in-child", same(observe.field(outcome, "child", "address"),
                                       observe.field(outcome, "parent_address"))),
        ("child-store-seen-by-parent", same(observe.field(outcome, "parent_reads_child_token"),
                                            observe.field(outcome, "token"))),
        ("parent-store-seen-by-child", same(observe.field(outcome, "child", "parent_token"),
                                            observe.field(outcome, "reversed_token"))),
    ):
        prediction.observe(case, seen_here, layer=layer)
    if layer == "libc":
        prediction.observe("madv-dontfork-range-inherited",
                           observe.field(outcome, "dontfork_inherited"))
    assert outcome.ok, outcome
    seen, child = outcome.value, outcome.value["child"]
    assert seen["child_status"] == "exit 0", seen
    assert child["address"] == seen["parent_address"], seen
    assert child["maps"] is not None and child["maps"]["perms"].endswith("s"), seen
    assert seen["parent_reads_child_token"] == TOKEN.hex(), seen
    assert child["parent_token"] == seen["reversed_token"], seen
    if layer == "libc":
        # madvise(2): MADV_DONTFORK ranges are not inherited; the document says every one is.
        assert child["dontfork_maps"] is None, child


@pytest.mark.claim("webserver-mmap.mapping-after-fork-not-shared")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_made_after_fork_is_absent_in_child(probe, prediction, layer):
    outcome = probe(mapping_made_after_fork, layer)
    prediction.observe("child-sees-parents-new-mapping",
                       observe.compare(observe.field(outcome, "child_maps"),
                                       observe.field(outcome, "parent_maps")), layer=layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["parent_maps"] is not None, seen
    # Nothing of the parent's is at that address in the child: either nothing
    # at all (the load faults) or a mapping of the child's own.
    if seen["child_maps"] is None:
        assert seen["child_status"] == "SIGSEGV", seen
    else:
        assert seen["child_maps"] != seen["parent_maps"], seen
