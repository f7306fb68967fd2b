"""POSIX assertions on ``munmap`` (Open POSIX munmap/assertions.xml), one probe per case."""

from __future__ import annotations

import pytest

from helpers.probes import spec_munmap as p
from helpers.probes.spec_rows import File, Row, check, params

ROWS = [
    Row("spec.munmap-empty-range", "no-mapping-no-error", p.hole_between_guards, (), "ok",
        "field", "munmap"),
    Row("spec.munmap-empty-range", "neighbours-kept", p.hole_between_guards, (), True,
        "field", "guards_kept"),
    Row("spec.munmap-private-discarded", "changes-discarded", p.private_changes_discarded,
        (File(1, b"o"),), True, "field", "discarded"),
    Row("spec.munmap-removes-locks", "locks-removed", p.locks_removed, (), True, "field",
        "removed"),
    Row("spec.munmap-return-value", "success-returns-0", p.return_values, (), 0, "field",
        "success"),
    Row("spec.munmap-return-value", "failure-returns-minus-1", p.return_values, (), -1,
        "field", "failure"),
    Row("spec.munmap-addr-alignment", "unaligned-addr", p.unaligned, (), "EINVAL", "field",
        "munmap"),
    Row("spec.munmap-outside-address-space", "kernel-range", p.outside_address_space, (),
        "EINVAL", "field", "munmap"),
]


@pytest.mark.parametrize("row", params(ROWS))
def test_munmap_assertion(probe, prediction, sized_file, shm_name, row):
    check(row, probe, prediction, sized_file, shm_name)
