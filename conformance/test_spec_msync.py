"""The "shall" sentences of POSIX ``msync``, one probe per case.

msync(2) NOTES document that Linux accepts flags naming neither MS_SYNC nor
MS_ASYNC (acting as MS_ASYNC), where POSIX calls such flags invalid: the
check asserts the man page and the report shows the difference.
"""

from __future__ import annotations

import pytest

from helpers.probes import spec_msync as p
from helpers.probes.spec_mmap import times_marked
from helpers.probes.spec_rows import File, Row, check, params

ROWS = [
    Row("spec.msync-writes-modified-data", "in-file", p.written_to_file, (File(1),), True,
        "field", "in_file"),
    Row("spec.msync-writes-modified-data", "in-file", p.written_to_file, (File(1), "pymmap"),
        True, "field", "in_file", layer="pymmap"),
    Row("spec.msync-invalidate", "consistent-after-invalidate", p.invalidate_shows_file,
        (File(1),), True, "field", "consistent"),
    Row("spec.msync-addr-alignment", "unaligned-addr", p.unaligned, (File(1),), "EINVAL",
        "field", "msync"),
    Row("spec.msync-private-not-written", "file-unchanged", p.private_not_written,
        (File(1, b"o"),), True, "field", "file_unchanged"),
    Row("spec.msync-flags", "neither-flag", p.flags_result, (File(1), "0"), "ok", "field",
        "msync"),
    Row("spec.msync-flags", "invalidate-alone", p.flags_result, (File(1), "MS_INVALIDATE"),
        "ok", "field", "msync"),
    Row("spec.msync-flags", "both-flags", p.flags_result, (File(1), "MS_SYNC|MS_ASYNC"),
        "EINVAL", "field", "msync"),
    Row("spec.msync-flags", "unknown-bit", p.flags_result, (File(1), "MS_SYNC", 0x8), "EINVAL",
        "field", "msync"),
    Row("spec.msync-timestamps", "times-marked", times_marked, (File(1), "MS_SYNC"), True,
        "field", "marked"),
    Row("spec.msync-return-value", "success", p.return_values, (File(1),), "ok", "field",
        "success"),
    Row("spec.msync-return-value", "failure-sets-errno", p.return_values, (File(1),),
        "ENOMEM", "field", "failure"),
]


@pytest.mark.parametrize("row", params(ROWS))
def test_msync_assertion(probe, prediction, sized_file, shm_name, row):
    check(row, probe, prediction, sized_file, shm_name)
