"""Checks of who sees a write: MAP_SHARED is shared, MAP_PRIVATE is copy-on-write.

mmap(2): stores into a MAP_SHARED mapping are visible to other processes
that map the same region and are carried through to the file (its page
cache at once; its storage at writeback or msync(2)).  Writes to a
MAP_PRIVATE mapping are not visible to other processes mapping the same
file and are not carried through to the file; no file is created: the
private copies are anonymous memory.  Whether a private mapping's pages
follow later changes of the file is unspecified (on Linux, untouched
pages do).  Byte ``i`` of a mapping at ``offset`` is byte ``offset + i`` of
the file.
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.sharing import (
    byte_correspondence,
    flag_pairings,
    partial_mapping,
    private_store_isolated,
    private_write,
    pymmap_private_write,
    read_only_receiver,
    store_seen_elsewhere,
    visibility_latency,
)

COW_CLAIMS = ("webserver-mmap.map-private-copy-on-write", "unp-shm.map-private-copy-on-write")
NEW_FILE = "webserver-mmap.map-private-creates-new-file"
ORIGINAL, WRITTEN = b"original", b"PRIVATE!"


def _unchanged(outcome, key: str) -> observe.Observation:
    """Observe whether field ``key`` still holds the bytes the probe read before its store."""
    return observe.same(outcome, key, "original")


@pytest.mark.claim(*COW_CLAIMS, NEW_FILE)
def test_private_write_stays_private(probe, prediction, sized_file):
    outcome = probe(private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    for claim in COW_CLAIMS:
        prediction.observe("file-unchanged", _unchanged(outcome, "file"), claim=claim)
        prediction.observe("shared-mapping-unchanged", _unchanged(outcome, "shared"),
                           claim=claim)
        prediction.observe("other-process-unchanged", _unchanged(outcome, "other_process"),
                           claim=claim)
    prediction.observe("new-file-appears", observe.field(outcome, "new_file_count"),
                       claim=NEW_FILE)
    prediction.observe("file-unchanged", _unchanged(outcome, "file"), claim=NEW_FILE)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["private"] == WRITTEN.hex(), seen
    assert seen["file"] == seen["shared"] == seen["other_process"] == ORIGINAL.hex(), seen
    assert seen["new_files"] == [], seen
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs


@pytest.mark.claim(*COW_CLAIMS, NEW_FILE)
@pytest.mark.layer("pymmap")
def test_pymmap_access_copy_stays_private(probe, prediction, sized_file):
    outcome = probe(pymmap_private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    for claim in COW_CLAIMS:
        prediction.observe("file-unchanged", _unchanged(outcome, "file"), claim=claim,
                           instance="mmap.ACCESS_COPY")
    prediction.observe("new-file-appears", observe.field(outcome, "new_file_count"),
                       claim=NEW_FILE, instance="mmap.ACCESS_COPY")
    assert outcome.ok, outcome
    assert outcome.value == {"original": ORIGINAL.hex(), "private": WRITTEN.hex(),
                             "file": ORIGINAL.hex(), "new_files": [],
                             "new_file_count": 0}, outcome


# --- MAP_SHARED between unrelated processes ------------------------------------------------

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
#: Timeout of probes that start another interpreter or fork many times: a loaded
#: machine can take longer than the runner's default 5 s without anything being wrong.
SLOW = 15.0
TOKEN, ANSWER = b"shared-token", b"answer"
#: Per observation of ``store_seen_elsewhere``: the case id, the field read and the
#: field of what was stored there.
SEEN = {"peer_shared": ("unrelated-process-sees-store", "token"),
        "here_reads_answer": ("sees-unrelated-process-store", "answer"),
        "new_descriptor": ("file-read-sees-store", "token"),
        # Unspecified by POSIX: a private mapping's untouched page (Linux: shows the store).
        "peer_private_untouched": ("unrelated-private-page-sees-store", "token")}
#: The observations each claim predicts to show the store.
VISIBLE = {
    "memmap-ipc.shared-change-visible-to-others": ("peer_shared", "peer_private_untouched"),
    "webserver-mmap.related-or-unrelated-ipc": ("peer_shared", "here_reads_answer"),
    "mmap-notes.mmap-unrelated-processes": ("peer_shared", "here_reads_answer"),
    "unp-shm.map-shared-visible-and-written": ("peer_shared", "new_descriptor"),
    "go-mmap.map-shared-written-back-shared": ("peer_shared", "new_descriptor"),
    "mmap-notes.map-shared-reflected-in-file": ("peer_shared", "new_descriptor"),
    "webserver-mmap.shared-changes-reach-file": ("new_descriptor",),
    "webserver-mmap.change-visible-to-other-process": ("peer_shared",),
}


@pytest.mark.claim(*VISIBLE)
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_store_is_seen_by_unrelated_process_and_file(probe, prediction, sized_file, layer):
    outcome = probe(store_seen_elsewhere, sized_file(2 * PAGE_SIZE, fill=b"."), layer,
                    TOKEN, ANSWER, timeout=SLOW)
    for claim, keys in VISIBLE.items():
        for key in keys:
            case, stored = SEEN[key]
            prediction.observe(case, observe.same(outcome, key, stored),
                               claim=claim, layer=layer)
    assert outcome.ok, outcome
    seen = outcome.value
    expected = {"peer_shared": TOKEN.hex(), "here_reads_answer": ANSWER.hex(),
                "new_descriptor": TOKEN.hex()}
    assert {key: seen[key] for key in expected} == expected, seen
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs


PAIRING_CLAIMS = ("memmap-ipc.ipc-needs-map-shared", "webserver-mmap.map-shared-required-for-ipc")
ANY_WRITER = "memmap-ipc.shared-change-visible-to-others"


@pytest.mark.claim(*PAIRING_CLAIMS, ANY_WRITER)
@pytest.mark.parametrize("layer", LAYERS)
def test_only_a_shared_writer_delivers(probe, prediction, sized_file, layer):
    outcome = probe(flag_pairings, sized_file(4 * PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    pairings = [f"{w}/{r}" for w in ("MAP_SHARED", "MAP_PRIVATE")
                for r in ("MAP_SHARED", "MAP_PRIVATE")]
    for pairing in pairings:
        writer, reader = (flags.removeprefix("MAP_").lower() for flags in pairing.split("/"))
        delivered = observe.same(outcome, ("seen", pairing), "token")
        for claim in PAIRING_CLAIMS:
            prediction.observe(f"{writer}-writer-{reader}-reader", delivered, claim=claim,
                               layer=layer)
        if pairing == "MAP_PRIVATE/MAP_SHARED":  # memmap-ipc names no type for process A
            prediction.observe("private-writer-store-seen", delivered, claim=ANY_WRITER,
                               layer=layer)
    assert outcome.ok, outcome
    for pairing in pairings:
        writer, reader = pairing.split("/")
        delivered = outcome.value["seen"][pairing] == TOKEN.hex()
        if writer == "MAP_PRIVATE":  # mmap(2): private stores are never carried through
            assert not delivered, outcome
        elif reader == "MAP_SHARED":
            assert delivered, outcome


@pytest.mark.claim("memmap-ipc.ipc-needs-read-write")
@pytest.mark.parametrize("layer", LAYERS)
def test_read_only_receiver_sees_the_store(probe, prediction, sized_file, layer):
    outcome = probe(read_only_receiver, sized_file(PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    prediction.observe("read-only-receiver-gets-store", observe.same(outcome, "after", "token"),
                       layer=layer)
    assert outcome.ok, outcome
    assert outcome.value["after"] == TOKEN.hex(), outcome


@pytest.mark.claim("webserver-mmap.change-visible-to-other-process")
@pytest.mark.parametrize("layer", LAYERS)
def test_store_shows_in_other_process_without_msync(probe, prediction, sized_file, layer):
    outcome = probe(visibility_latency, sized_file(PAGE_SIZE), layer, 20, timeout=SLOW)
    # Each round raises TimeoutError unless the value shows within its deadline; the times
    # until each showed stay in the outcome as evidence (the document names no time).
    prediction.observe("spinning-reader-sees-every-store", observe.succeeded(outcome),
                       layer=layer, instance="20 stores, each awaited by a spinning reader")
    assert outcome.ok and len(outcome.value["spun_ns"]) == 20, outcome


PRIVATE_CLAIMS = ("memmap-ipc.map-private-isolated", "go-mmap.map-private-cow",
                  "mmap-notes.map-private-not-reflected")
#: Per view of the private store in ``private_store_isolated``: its case id.
OTHERS = {"forked_child": "forked-child-unchanged",
          "unrelated_process": "unrelated-process-unchanged",
          "file_before_msync": "file-unchanged-before-msync",
          "file_after_msync_munmap": "file-unchanged-after-munmap"}


@pytest.mark.claim(*PRIVATE_CLAIMS)
@pytest.mark.parametrize("layer", LAYERS)
def test_private_store_reaches_no_one(probe, prediction, sized_file, layer):
    outcome = probe(private_store_isolated, sized_file(2 * PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    for key, case in OTHERS.items():
        prediction.observe(case, _unchanged(outcome, key), layer=layer,
                           claim="memmap-ipc.map-private-isolated")
    for claim in PRIVATE_CLAIMS[1:]:
        prediction.observe("file-unchanged-after-munmap",
                           _unchanged(outcome, "file_after_msync_munmap"), claim=claim,
                           layer=layer)
    # Unspecified by POSIX: a page this mapping has not written follows the file (Linux: it does).
    prediction.observe("untouched-page-follows-file", observe.same(
        outcome, "untouched_page_after_outside_store", "outside_token"), layer=layer,
        claim="memmap-ipc.map-private-isolated")
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen, original = outcome.value, outcome.value["original"]
    assert seen["here"] == TOKEN.hex(), seen
    assert all(seen[key] == original for key in OTHERS), seen
    assert seen["msync_errno"] is None, seen  # msync(2): a valid range of a mapping syncs


# --- the mapping and the file, byte for byte -------------------------------------------------

POSITIONS = [0, 1, PAGE_SIZE - 1, PAGE_SIZE, 2 * PAGE_SIZE - 1]


@pytest.mark.claim("go-mmap.file-read-write-via-memory")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_byte_is_file_byte_at_offset(probe, prediction, sized_file, layer):
    outcome = probe(byte_correspondence, sized_file(4 * PAGE_SIZE), layer, 2 * PAGE_SIZE,
                    POSITIONS)
    for row, i in enumerate(POSITIONS):
        for direction in ("pwrite_then_load", "store_then_pread"):
            prediction.observe(direction.replace("_", "-"),
                               observe.field(outcome, row, direction), layer=layer,
                               instance=f"mapping byte {i} = file byte {2 * PAGE_SIZE + i}")
    assert outcome.ok, outcome
    for row in outcome.value:
        assert row["pwrite_then_load"] and row["store_then_pread"], row


@pytest.mark.claim("memmap-ipc.partial-file-mapping")
@pytest.mark.parametrize("layer", LAYERS)
def test_part_of_a_file_can_be_mapped(probe, prediction, sized_file, layer):
    path = sized_file(16 * PAGE_SIZE, fill=bytes(range(1, 256)))
    outcome = probe(partial_mapping, path, layer, 3, 3)
    prediction.observe("range-bytes-equal", observe.field(outcome, "equal"), layer=layer,
                       instance="pages 3 to 5 of a 16-page file")
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["equal"] and seen["region_path_is_file"], seen
    assert (seen["region_bytes"], seen["region_offset"]) == (3 * PAGE_SIZE, 3 * PAGE_SIZE), seen
