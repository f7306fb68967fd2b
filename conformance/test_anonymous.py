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

from helpers import observe
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


def _kind(shared: bool) -> str:
    """Return ``shared`` or ``private``: the first word of the catalogue's case ids."""
    return "shared" if shared else "private"


def _all_zero(outcome, key: str) -> observe.Observation:
    """Observe the probe's index of the first nonzero byte, None read as ``all zero``."""
    return observe.classify(observe.field(outcome, key), {None: "all zero"})


@pytest.mark.claim("memmap-ipc.anonymous-for-ipc", "mmap-notes.anon-related-only")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_only_shared_anonymous_memory_carries_data_to_parent(probe, prediction, layer, shared):
    outcome = probe(across_fork, layer, shared, TOKEN)
    # Child stores, parent reads after waitpid.  The memmap-ipc document names no
    # flag: MAP_SHARED is the condition it leaves out.
    delivered = observe.same(outcome, "parent_reads", "token")
    case = f"{_kind(shared)}-anonymous-child-to-parent"
    prediction.observe(case, delivered, claim="memmap-ipc.anonymous-for-ipc", layer=layer)
    if shared:
        prediction.observe(case, delivered, claim="mmap-notes.anon-related-only", layer=layer)
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen = outcome.value
    assert seen["same_address"], seen
    assert seen["parent_reads"] == (TOKEN if shared else bytes(len(TOKEN))).hex(), seen


@pytest.mark.claim("mmap-notes.anon-related-only")
@pytest.mark.parametrize("layer", LAYERS)
def test_unrelated_process_reaches_anonymous_memory_only_by_privilege(probe, prediction, layer):
    outcome = probe(reached_from_outside, layer, TOKEN, timeout=SLOW)
    # "ok": the unrelated process read the token through /proc/<pid>/map_files.
    unrelated = observe.classify(observe.field(outcome, "unrelated_process"),
                                 {f"reads {TOKEN.hex()}": "ok"})
    unprivileged = observe.field(outcome, "unprivileged_process")
    if observe.field(outcome, "euid").value == 0:
        # Unobservable, with the reason, where the run cannot become nobody.
        prediction.observe("unprivileged-process-reaches", unprivileged, layer=layer)
        prediction.observe("privileged-process-reaches", unrelated, layer=layer)
    else:  # the run itself is the unprivileged process
        prediction.observe("unprivileged-process-reaches", unrelated, layer=layer)
    assert outcome.ok, outcome
    seen = outcome.value
    # proc(5): map_files entries need CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE).
    assert seen["unrelated_process"] in (f"reads {TOKEN.hex()}", "EPERM", "EACCES"), seen
    if seen["euid"] == 0 and unprivileged.observed:
        assert seen["unprivileged_process"] in ("EPERM", "EACCES"), seen


@pytest.mark.claim("webserver-mmap.anonymous-no-file", "mmap-notes.map-anonymous-zero",
                   "webserver-mmap.anonymous-zero-filled")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_fresh_anonymous_mapping_is_zero_and_has_no_file(probe, prediction, layer, shared):
    outcome = probe(fresh_anonymous, layer, shared, ZERO_CHECK_SIZE, dirty_first=True)
    instance = f"{_flag(shared)}|MAP_ANONYMOUS, {ZERO_CHECK_SIZE} bytes after freeing dirty memory"
    zero, path = _all_zero(outcome, "first_nonzero"), observe.field(outcome, "path")
    for claim, case, observation in (
            ("webserver-mmap.anonymous-no-file", f"{_kind(shared)}-anonymous-path", path),
            ("mmap-notes.map-anonymous-zero", f"{_kind(shared)}-anonymous-path", path),
            ("mmap-notes.map-anonymous-zero", "anonymous-reads-zero", zero),
            ("webserver-mmap.anonymous-zero-filled", "anonymous-reads-zero", zero)):
        prediction.observe(case, observation, claim=claim, layer=layer, instance=instance)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["first_nonzero"] is None, seen
    # No pathname; Linux names the shmem object behind shared anonymous memory "/dev/zero".
    assert seen["path"] in (("", "/dev/zero (deleted)") if shared else ("",)), seen


@pytest.mark.claim("webserver-mmap.anonymous-no-file")
@pytest.mark.parametrize(("offset", "expected"), [(0, "maps"), (1, "EINVAL"), (PAGE_SIZE, "maps")])
def test_anonymous_mapping_ignores_a_passed_fd(probe, prediction, sized_file, offset, expected):
    outcome = probe(anonymous_ignores_fd, sized_file(PAGE_SIZE, fill=b"F"), offset)
    prediction.observe("passed-fd-unaligned-offset" if offset % PAGE_SIZE else "passed-fd-path",
                       observe.field(outcome, "path"), instance=f"offset {offset}")
    assert ("maps" if outcome.ok else outcome.errno) == expected, outcome
    if outcome.ok:  # the file is neither shown nor read: the fd was ignored
        assert outcome.value == {"path": "", "first_byte": 0}, outcome


@pytest.mark.claim("webserver-mmap.anonymous-like-malloc")
@pytest.mark.parametrize("layer", LAYERS)
def test_anonymous_memory_is_usable_outside_the_heap(probe, prediction, layer):
    outcome = probe(anonymous_versus_heap, layer, 1 << 20)
    prediction.observe("mapping-usable", observe.field(outcome, "usable"), layer=layer)
    prediction.observe("mapping-in-heap", observe.field(outcome, "mapping_in_heap"), layer=layer)
    # glibc's malloc serves a request this large with an anonymous mmap itself.
    prediction.observe("malloc-in-heap", observe.field(outcome, "malloc_in_heap"), layer=layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["usable"] and not seen["mapping_in_heap"], seen


@pytest.mark.claim("unp-shm.dev-zero-read-write")
def test_dev_zero_reads_zeros_and_swallows_writes(probe, prediction):
    outcome = probe(dev_zero_io, b"\xff" * PAGE_SIZE, 1 << 20)
    prediction.observe("write-reports-full-count", observe.same(outcome, "written", "asked"))
    prediction.observe("read-after-write-zero", _all_zero(outcome, "first_nonzero"))
    assert outcome.ok, outcome
    assert outcome.value == {"asked": PAGE_SIZE, "written": PAGE_SIZE, "read": 1 << 20,
                             "first_nonzero": None}, outcome


@pytest.mark.claim("unp-shm.dev-zero-mapping-anonymous")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("shared", FLAGS, ids=_flag)
def test_dev_zero_mapping_behaves_as_anonymous_memory(probe, prediction, layer, shared):
    outcome = probe(dev_zero_mapping, layer, shared, TOKEN, timeout=SLOW)
    kind = _kind(shared)
    for case, observation in (
            ("zero-filled", _all_zero(outcome, "initial_first_nonzero")),
            ("keeps-stores", observe.field(outcome, "store_kept")),
            ("child-sees-parent-store",
             observe.same(outcome, "child_reads_parent_store", "token")),
            ("unrelated-mapping-sees-store", observe.same(outcome, "unrelated_reads", "token"))):
        prediction.observe(f"{kind}-{case}", observation, layer=layer)
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen, token, zeros = outcome.value, TOKEN.hex(), bytes(len(TOKEN)).hex()
    assert seen["initial_first_nonzero"] is None and seen["store_kept"], seen
    crossed = token if shared else zeros
    assert seen["child_reads_parent_store"] == seen["parent_reads_child_store"] == crossed, seen
    assert seen["unrelated_reads"] == zeros, seen
