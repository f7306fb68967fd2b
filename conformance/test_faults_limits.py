"""Faults from resource limits, each set in the probe's child only.

- mmap(2) ``ENOMEM``: a mapping beyond ``RLIMIT_AS``, or beyond
  ``vm.max_map_count`` mappings (and a ``munmap`` that would split one).
- mlock(2): beyond a non-zero ``RLIMIT_MEMLOCK`` ``ENOMEM``, with a zero
  limit ``EPERM``; mmap(2) ``MAP_LOCKED`` beyond it ``EAGAIN``.  Holders of
  ``CAP_IPC_LOCK`` are not limited: a root run shows both sides by dropping
  that capability in the child (``capset``) for the unprivileged case.
- shm_open(3) ``EMFILE`` at ``RLIMIT_NOFILE``, creating nothing.
- mmap(2) ``MAP_HUGETLB`` ``ENOMEM`` when the huge page pool cannot supply.
"""

from __future__ import annotations

import os
import sys

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.faults_limits import (
    exhaust_map_count,
    map_beyond_address_space_limit,
    map_huge_pages_beyond_pool,
    map_locked_beyond_limit,
    mlock_beyond_limit,
    shm_open_without_free_descriptor,
)
from helpers.probes.faults_privilege import has_capability, holds_over_machine

MIB = 1 << 20
KIB = 1 << 10
#: The largest vm.max_map_count this suite exhausts: about a second of mmap calls.
MAX_MAP_COUNT_REACHABLE = 70_000
PRIVILEGE = [pytest.param(False, id="without-CAP_IPC_LOCK"),
             pytest.param(True, id="with-CAP_IPC_LOCK")]






def memlock(limit: int) -> dict[str, tuple[int, int]]:
    """Return the runner's ``rlimits`` for an ``RLIMIT_MEMLOCK`` of ``limit`` bytes."""
    return {"RLIMIT_MEMLOCK": (limit, limit)}


def require_capability_if(privileged: bool) -> None:
    """Skip the privileged side of a check when CAP_IPC_LOCK would not lift the limit here.

    The kernel honours it only in the initial user namespace: root of a
    rootless container holds the bit and is limited like anyone else.
    """
    if privileged and not holds_over_machine("CAP_IPC_LOCK"):
        held = (" (it holds it only inside a user namespace, where it does not lift "
                "RLIMIT_MEMLOCK)" if has_capability("CAP_IPC_LOCK") else "")
        pytest.skip("skipped: the privileged case needs CAP_IPC_LOCK in the initial user "
                    f"namespace, which this run lacks{held}")


@pytest.mark.claim("fault.rlimit-as-enomem")
@pytest.mark.parametrize("layer", [
    pytest.param("libc", id="libc"),
    pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap")),
])
def test_mapping_beyond_address_space_limit_fails_enomem(probe, layer):
    outcome = probe(map_beyond_address_space_limit, 64 * MIB, 128 * MIB, 16 * MIB, layer=layer)
    assert outcome.ok, outcome
    assert (outcome.value["too_big"], outcome.value["fits"]) == ("ENOMEM", "ok"), outcome


@pytest.mark.claim("fault.rlimit-memlock-mlock")
@pytest.mark.parametrize("privileged", PRIVILEGE)
@pytest.mark.parametrize(("limit", "unprivileged"), [
    (64 * KIB, "ENOMEM"),
    (0, "EPERM"),
], ids=["limit-64KiB", "limit-0"])
def test_mlock_beyond_memlock_limit(probe, privileged, limit, unprivileged):
    require_capability_if(privileged)
    length = MIB if limit else PAGE_SIZE
    outcome = probe(mlock_beyond_limit, length, privileged=privileged, rlimits=memlock(limit))
    assert outcome.ok, outcome
    assert outcome.value["CAP_IPC_LOCK"] is privileged, outcome
    assert outcome.value["mlock"] == ("ok" if privileged else unprivileged), outcome
    assert outcome.value["VmLck_kB"] == (length // KIB if privileged else 0), outcome


@pytest.mark.claim("fault.rlimit-memlock-map-locked")
@pytest.mark.parametrize("privileged", PRIVILEGE)
def test_map_locked_beyond_memlock_limit_fails_eagain(probe, privileged):
    require_capability_if(privileged)
    outcome = probe(map_locked_beyond_limit, MIB, 32 * KIB, privileged=privileged,
                    rlimits=memlock(64 * KIB))
    assert outcome.ok, outcome
    assert outcome.value["too_big"] == ("ok" if privileged else "EAGAIN"), outcome
    assert outcome.value["fits"] == "ok", outcome
    locked_kb = (MIB + 32 * KIB) // KIB if privileged else 32
    assert outcome.value["VmLck_growth_kB"] == locked_kb, outcome


@pytest.mark.claim("fault.rlimit-nofile-shm-open")
def test_shm_open_without_free_descriptor_fails_emfile(probe, shm_name):
    name = shm_name()
    outcome = probe(shm_open_without_free_descriptor, name)
    assert outcome.ok, outcome
    assert outcome.value["shm_open"] == "EMFILE", outcome
    assert outcome.value["object_created"] is False, outcome
    assert not os.path.exists("/dev/shm" + name)


def max_map_count() -> int:
    """Return ``vm.max_map_count``, or skip the check where it cannot be read."""
    try:
        with open("/proc/sys/vm/max_map_count") as handle:
            return int(handle.read())
    except OSError as exc:
        pytest.skip(f"unsupported: /proc/sys/vm/max_map_count cannot be read: {exc}")


def exhausted_map_count(probe) -> tuple[int, dict]:
    """Return ``vm.max_map_count`` and what a child saw when it mapped pages up to it.

    Skips where the limit cannot be read or is too high to reach in about a
    second (the sysctl is never changed).
    """
    try:
        with open("/proc/sys/vm/max_map_count") as handle:
            limit = int(handle.read())
    except OSError as exc:
        pytest.skip(f"unsupported: /proc/sys/vm/max_map_count cannot be read: {exc}")
    if limit > MAX_MAP_COUNT_REACHABLE:
        pytest.skip(f"skipped: vm.max_map_count is {limit}, more than the "
                    f"{MAX_MAP_COUNT_REACHABLE} mappings this suite makes in a child")
    outcome = probe(exhaust_map_count, limit, 2.0, timeout=10.0)
    assert outcome.ok, outcome
    if outcome.value.get("gave_up"):
        pytest.skip(f"skipped: {outcome.value['made']} mappings took longer than 2 s here")
    return limit, outcome.value


@pytest.mark.claim("fault.max-map-count-enomem")
def test_mappings_beyond_max_map_count_fail_enomem(probe):
    limit, seen = exhausted_map_count(probe)
    assert seen["mmap"] == "ENOMEM", seen
    assert limit - 1 <= seen["map_count"] <= limit + 1, seen
    # At the limit, even mprotect and munmap fail when they would split a mapping.
    assert seen["mprotect_split"] == seen["munmap_split"] == "ENOMEM", seen
    assert seen["middle_still_mapped"], seen


@pytest.mark.claim("fault.max-map-count-enomem")
@pytest.mark.xfail(sys.platform.startswith("linux"), strict=True,
                   reason="known deviation: Linux refuses a new mapping only once map_count "
                          "is already above vm.max_map_count, so a process holds "
                          "max_map_count + 1 mappings")
def test_process_never_holds_more_than_max_map_count_mappings(probe):
    limit, seen = exhausted_map_count(probe)
    assert seen["mmap"] == "ENOMEM", seen
    assert seen["map_count"] <= limit, seen


@pytest.mark.claim("fault.hugetlb-no-pages-enomem")
def test_huge_page_mapping_beyond_the_pool_fails_enomem(probe):
    outcome = probe(map_huge_pages_beyond_pool, 64 * MIB)
    assert outcome.ok, outcome
    if outcome.value.get("too_costly"):
        pytest.skip(f"skipped: nr_overcommit_hugepages is "
                    f"{outcome.value['nr_overcommit_hugepages']}: going past it would "
                    f"allocate more than 64 MiB of huge pages")
    assert outcome.value["mmap"] == "ENOMEM", outcome
