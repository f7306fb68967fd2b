"""Checks of anonymous mappings and mappings of ``/dev/zero``.

mmap(2): ``MAP_ANONYMOUS`` memory is backed by no file and its contents
are initialized to zero; the fd is ignored on Linux (portable code passes
-1) and the offset should be zero.  A ``MAP_SHARED`` anonymous mapping is
shared with children forked after it exists; nothing else names it except
``/proc/<pid>/map_files`` (proc(5): needs ``CAP_SYS_ADMIN`` or
``CAP_CHECKPOINT_RESTORE``).  zero(4): reads of /dev/zero return zeros,
writes succeed and are discarded; mapping it gives anonymous memory,
shared (shmem) for ``MAP_SHARED``.
"""

from __future__ import annotations

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.anonymous import (
    across_fork,
    anonymous_ignores_fd,
    anonymous_versus_heap,
    dev_zero_io,
    dev_zero_mapping,
    fresh_anonymous,
    reached_from_outside,
)

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
#: Timeout of probes that start another interpreter or fork many times: a loaded
#: machine can take longer than the runner's default 5 s without anything being wrong.
SLOW = 15.0
FLAGS = [True, False]
TOKEN = b"anon-token"
#: Smaller than the 64 MiB the catalogue's method names: every byte is read
#: back, and 4 MiB keeps each case within the run's time budget.
ZERO_CHECK_SIZE = 4 << 20


def _flag(shared: bool) -> str:
    """Return the flag's name: the ids and case labels of the checks."""
    return "MAP_SHARED" if shared else "MAP_PRIVATE"


@pytest.mark.claim("memmap-ipc.anonymous-for-ipc", "mmap-notes.anon-related-only")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_only_shared_anonymous_memory_carries_data_to_parent(probe, prediction, layer, shared):
    outcome = probe(across_fork, layer, shared, TOKEN)
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen = outcome.value
    assert seen["same_address"], seen
    assert seen["parent_reads"] == (TOKEN if shared else bytes(len(TOKEN))).hex(), seen
    delivered = "delivers" if seen["parent_reads"] == TOKEN.hex() else "does not deliver"
    case = f"{_flag(shared)}|MAP_ANONYMOUS, child stores, parent reads after waitpid"
    # The document names no flag: MAP_SHARED is the condition it leaves out.
    prediction.record("delivers", delivered, case=case, claim="memmap-ipc.anonymous-for-ipc",
                      central=shared, layer=layer)
    if shared:
        prediction.record("delivers", delivered, case=case, claim="mmap-notes.anon-related-only",
                          layer=layer)


@pytest.mark.claim("mmap-notes.anon-related-only")
@pytest.mark.parametrize("layer", LAYERS)
def test_unrelated_process_reaches_anonymous_memory_only_by_privilege(probe, prediction, layer):
    outcome = probe(reached_from_outside, layer, TOKEN, timeout=SLOW)
    assert outcome.ok, outcome
    seen = outcome.value
    # proc(5): map_files entries need CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE).
    assert seen["unrelated_process"] in (f"reads {TOKEN.hex()}", "EPERM", "EACCES"), seen
    if seen["euid"] == 0:
        assert seen["unprivileged_process"] in ("EPERM", "EACCES"), seen
        prediction.record("cannot reach", "cannot reach" if seen["unprivileged_process"] != "ok"
                          else "reaches", case="unprivileged process opens map_files entry",
                          layer=layer, errno=seen["unprivileged_process"])
    reached = seen["unrelated_process"].startswith("reads")
    prediction.record("cannot reach", "reaches" if reached else "cannot reach",
                      case=f"unrelated process (euid {seen['euid']}) maps map_files entry",
                      layer=layer, central=seen["euid"] != 0, answer=seen["unrelated_process"])


@pytest.mark.claim("webserver-mmap.anonymous-no-file", "mmap-notes.map-anonymous-zero",
                   "webserver-mmap.anonymous-zero-filled")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_fresh_anonymous_mapping_is_zero_and_has_no_file(probe, prediction, layer, shared):
    outcome = probe(fresh_anonymous, layer, shared, ZERO_CHECK_SIZE, dirty_first=True)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["first_nonzero"] is None, seen
    # No pathname; Linux names the shmem object behind shared anonymous memory "/dev/zero".
    assert seen["path"] in (("", "/dev/zero (deleted)") if shared else ("",)), seen
    zero = "all zero" if seen["first_nonzero"] is None else f"nonzero at {seen['first_nonzero']}"
    no_file = "no file" if seen["path"] in ("", "/dev/zero (deleted)") else seen["path"]
    case = f"{_flag(shared)}|MAP_ANONYMOUS, {ZERO_CHECK_SIZE} bytes after freeing dirty memory"
    for claim, predicted, observed in (
            ("webserver-mmap.anonymous-no-file", "no file", no_file),
            ("mmap-notes.map-anonymous-zero", "all zero, no file", f"{zero}, {no_file}"),
            ("webserver-mmap.anonymous-zero-filled", "all zero", zero)):
        prediction.record(predicted, observed, case=case, claim=claim, layer=layer,
                          maps_path=seen["path"])


@pytest.mark.claim("webserver-mmap.anonymous-no-file")
@pytest.mark.parametrize(("offset", "expected"), [(0, "maps"), (1, "EINVAL"), (PAGE_SIZE, "maps")])
def test_anonymous_mapping_ignores_a_passed_fd(probe, prediction, sized_file, offset, expected):
    outcome = probe(anonymous_ignores_fd, sized_file(PAGE_SIZE, fill=b"F"), offset)
    assert ("maps" if outcome.ok else outcome.errno) == expected, outcome
    if outcome.ok:  # the file is neither shown nor read: the fd was ignored
        assert outcome.value == {"path": "", "first_byte": 0}, outcome
    prediction.record(None, "maps, no file" if outcome.ok else outcome.errno,
                      case=f"valid fd instead of -1, offset {offset}")


@pytest.mark.claim("webserver-mmap.anonymous-like-malloc")
@pytest.mark.parametrize("layer", LAYERS)
def test_anonymous_memory_is_usable_outside_the_heap(probe, prediction, layer):
    outcome = probe(anonymous_versus_heap, layer, 1 << 20)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["usable"] and not seen["mapping_in_heap"], seen
    prediction.record("usable, outside [heap]", "usable, " + (
        "inside [heap]" if seen["mapping_in_heap"] else "outside [heap]"),
        case="1 MiB MAP_PRIVATE|MAP_ANONYMOUS", layer=layer, heap=seen["heap"],
        mapping=seen["mapping_region"])
    # glibc's malloc serves a request this large with an anonymous mmap itself.
    prediction.record(None, "outside [heap]" if not seen["malloc_in_heap"] else "inside [heap]",
                      case="malloc(1 MiB)", layer=layer, region=seen["malloc_region"])


@pytest.mark.claim("unp-shm.dev-zero-read-write")
def test_dev_zero_reads_zeros_and_swallows_writes(probe, prediction):
    outcome = probe(dev_zero_io, b"\xff" * PAGE_SIZE, 1 << 20)
    assert outcome.ok, outcome
    assert outcome.value == {"written": PAGE_SIZE, "read": 1 << 20, "first_nonzero": None}, outcome
    prediction.record("full count", f"{outcome.value['written']} of {PAGE_SIZE} bytes written",
                      case="write a page of 0xff", matched=outcome.value["written"] == PAGE_SIZE)
    prediction.record("all zero", "all zero" if outcome.value["first_nonzero"] is None
                      else "nonzero", case="read 1 MiB after the write")


@pytest.mark.claim("unp-shm.dev-zero-mapping-anonymous")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_dev_zero_mapping_behaves_as_anonymous_memory(probe, prediction, layer, shared):
    outcome = probe(dev_zero_mapping, layer, shared, TOKEN, timeout=SLOW)
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen, token, zeros = outcome.value, TOKEN.hex(), bytes(len(TOKEN)).hex()
    assert seen["initial_first_nonzero"] is None and seen["store_kept"], seen
    crossed = token if shared else zeros
    assert seen["child_reads_parent_store"] == seen["parent_reads_child_store"] == crossed, seen
    assert seen["unrelated_reads"] == zeros, seen
    fork = "shared across fork" if seen["child_reads_parent_store"] == token else "private"
    observed = {"zero-filled": seen["initial_first_nonzero"] is None,
                "keeps stores": seen["store_kept"], "across fork": fork,
                "another process's mapping sees stores": seen["unrelated_reads"] != zeros}
    predicted = {"zero-filled": True, "keeps stores": True,
                 "across fork": "shared across fork" if shared else "private",
                 "another process's mapping sees stores": False}
    for aspect, value in predicted.items():
        prediction.record(value, observed[aspect], case=f"{_flag(shared)} of /dev/zero: {aspect}",
                          layer=layer, central=shared and not aspect.startswith("another"),
                          maps_path=seen["path"])
