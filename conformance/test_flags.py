"""Checks of the ``flags`` argument: mapping types, unknown bits, MAP_LOCKED, MAP_HUGETLB.

mmap(2): flags holds exactly one mapping type, MAP_SHARED, MAP_PRIVATE or
(since 4.15) MAP_SHARED_VALIDATE, whose value is MAP_SHARED|MAP_PRIVATE; none
is EINVAL, and anonymous mappings take only the first two.  MAP_SHARED and
MAP_PRIVATE ignore flag bits they do not know; MAP_SHARED_VALIDATE refuses
them with EOPNOTSUPP.  MAP_LOCKED locks the range as mlock(2) does (EAGAIN
past RLIMIT_MEMLOCK without CAP_IPC_LOCK).  MAP_HUGETLB backs the range with
huge pages.  MAP_SYNC has checks of its own (``test_map_sync.py``).
"""

from __future__ import annotations

import itertools
import os
import re

import pytest

from helpers import libc, observe
from helpers.libc import PAGE_SIZE
from helpers.probes import flags as probes

TYPES = ("MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS")
EOPNOTSUPP = "EOPNOTSUPP"  # helpers.libc.errno_name spells this number as mmap(2) does
#: Flag bits between MAP_GROWSDOWN and the huge page size field that no constant names;
#: none where the flag layout is not tabulated (then no bit is known to be unassigned).
UNKNOWN_BITS = [1 << n for n in range(8, 26)
                if 1 << n not in {v for k, v in libc.CONSTANTS.items() if k.startswith("MAP_")}
                ] if "MAP_SYNC" in libc.CONSTANTS else []
#: MAP_SHARED_VALIDATE (MAP_SHARED|MAP_PRIVATE) is a mapping type since Linux 4.15.
VALIDATE_KNOWN = tuple(map(int, re.findall(r"\d+", os.uname().release)[:2])) >= (4, 15)


def _value(names: tuple[str, ...]) -> int:
    return sum(libc.constant(name) for name in names)


def _combination_spec(names: tuple[str, ...]) -> str:
    """Return what mmap(2) says of a file (or, with MAP_ANONYMOUS, anonymous) mapping."""
    kinds = {n for n in names if n != "MAP_ANONYMOUS"}
    validate = kinds == {"MAP_SHARED", "MAP_PRIVATE"}
    if not kinds or (validate and ("MAP_ANONYMOUS" in names or not VALIDATE_KNOWN)):
        return "EINVAL"  # no type; or MAP_SHARED_VALIDATE, which anonymous mappings refuse
    return "maps"


@pytest.mark.claim("memmap-ipc.flags-combination")
@pytest.mark.parametrize("names", [c for n in range(4) for c in itertools.combinations(TYPES, n)],
                         ids=lambda names: "|".join(names) or "0")
def test_flag_combinations(probe, prediction, sized_file, names):
    path = None if "MAP_ANONYMOUS" in names else sized_file(PAGE_SIZE)
    outcome = probe(probes.map_flags, path, _value(names))
    kinds = set(names) - {"MAP_ANONYMOUS"}
    case = ("shared-with-private" if len(kinds) == 2 else  # what the document invites
            "one-mapping-type" if kinds else "no-mapping-type")
    prediction.observe(case, observe.result(outcome), instance="|".join(names) or "0")
    observed = "maps" if outcome.ok else outcome.errno
    assert observed == _combination_spec(names), outcome
    if names == ("MAP_SHARED", "MAP_PRIVATE"):  # MAP_SHARED_VALIDATE: a shared mapping
        assert outcome.value["reached_file"] is True, outcome


@pytest.mark.claim("unp-shm.map-shared-validate-rejects-unknown")
@pytest.mark.parametrize("bit", [0, *UNKNOWN_BITS], ids=hex)
def test_shared_validate_refuses_unknown_bits(probe, prediction, sized_file, bit):
    outcome = probe(probes.map_flags, sized_file(PAGE_SIZE),
                    libc.constant("MAP_SHARED_VALIDATE") | bit)
    if bit:
        prediction.observe("unknown-bit", observe.result(outcome), instance=hex(bit))
    else:
        prediction.observe("known-flags-map-shared", observe.field(outcome, "reached_file"))
    if bit:
        assert outcome.errno == EOPNOTSUPP, outcome
    else:
        assert outcome.ok and outcome.value["reached_file"] is True, outcome


@pytest.mark.claim("unp-shm.map-shared-validate-rejects-unknown")
def test_shared_validate_refuses_anonymous_einval(probe, prediction):
    flags = libc.constant("MAP_SHARED_VALIDATE") | libc.MAP_ANONYMOUS
    outcome = probe(probes.map_flags, None, flags)
    # "Otherwise like MAP_SHARED": but MAP_SHARED|MAP_ANONYMOUS maps.
    prediction.observe("with-map-anonymous", observe.result(outcome))
    assert outcome.errno == "EINVAL", outcome


@pytest.mark.claim("unp-shm.map-shared-ignores-unknown")
@pytest.mark.parametrize("bit", UNKNOWN_BITS, ids=hex)
def test_shared_ignores_unknown_bits(probe, prediction, sized_file, bit):
    outcome = probe(probes.map_flags, sized_file(PAGE_SIZE), libc.MAP_SHARED | bit)
    prediction.observe("unknown-bit", observe.field(outcome, "reached_file"), instance=hex(bit))
    assert outcome.ok and outcome.value["reached_file"] is True, outcome


LOCKED = "unp-shm.map-locked-like-mlock"
MIB = 1 << 20
CAP_IPC_LOCK = 14  # capability bit number (linux/capability.h)


def locked_backing(backing: str, sized_file) -> str | None:
    """Return the scratch file to lock for ``backing`` (None: anonymous memory).

    The document likens MAP_LOCKED to mlock whatever is mapped, so both
    backings are observed.
    """
    return sized_file(MIB, fill=b"L") if backing == "file" else None


@pytest.mark.claim(LOCKED)
@pytest.mark.parametrize("backing", ["anonymous", "file"])
def test_map_locked_is_resident_and_locked_like_mlock(probe, prediction, sized_file, backing):
    outcome = probe(probes.lock_both_ways, MIB, locked_backing(backing, sized_file))
    prediction.observe("map-locked-resident-and-locked",
                       observe.field(outcome, "MAP_LOCKED", "resident_and_locked"),
                       instance=backing)
    assert outcome.ok, outcome
    for way, seen in outcome.value.items():  # both lock the whole range at once
        assert seen["vmlck_kb"] == seen["locked_kb"] == MIB // 1024, (way, outcome)
        assert seen["resident_pages"] == MIB // PAGE_SIZE, (way, outcome)


@pytest.mark.claim(LOCKED)
@pytest.mark.parametrize("backing", ["anonymous", "file"])
def test_map_locked_past_memlock_limit_fails_eagain(probe, prediction, sized_file, backing):
    limit = 64 * 1024
    outcome = probe(probes.lock_over_limit, MIB, locked_backing(backing, sized_file),
                    rlimits={"RLIMIT_MEMLOCK": (limit, limit)})
    assert outcome.ok, outcome
    if outcome.value["capabilities"] >> CAP_IPC_LOCK & 1:  # it lifts the limit
        pytest.skip("the probe could not drop CAP_IPC_LOCK")
    prediction.observe("over-memlock-limit-refused-like-mlock",
                       observe.field(outcome, "both_refused"), instance=backing)
    assert outcome.value["errors"] == {"MAP_LOCKED": "EAGAIN", "mlock": "ENOMEM"}, outcome


@pytest.mark.claim("mmap-notes.map-hugetlb")
def test_map_hugetlb_is_backed_by_huge_pages(probe, prediction):
    outcome = probe(probes.map_hugetlb)
    prediction.observe("backed-by-huge-pages", observe.field(outcome, "huge_backed"))
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["kernel_page_kb"] == seen["huge_page_kb"] and seen["aligned"], seen
