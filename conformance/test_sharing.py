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
ORIGINAL, WRITTEN = b"original", b"PRIVATE!"


@pytest.mark.claim(*COW_CLAIMS, "webserver-mmap.map-private-creates-new-file")
def test_private_write_stays_private(probe, prediction, sized_file):
    outcome = probe(private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["private"] == WRITTEN.hex(), seen
    assert seen["file"] == seen["shared"] == seen["other_process"] == ORIGINAL.hex(), seen
    assert seen["new_files"] == [], seen
    for claim in COW_CLAIMS:
        prediction.record("file unchanged", "file unchanged" if seen["file"] == ORIGINAL.hex()
                          else "file changed", case="file after a private write", claim=claim)
        prediction.record("not visible", "not visible" if seen["shared"] == ORIGINAL.hex()
                          else "visible", case="a MAP_SHARED mapping of the file", claim=claim)
        prediction.record("not visible", "not visible" if seen["other_process"] == ORIGINAL.hex()
                          else "visible", case="another process mapping the file", claim=claim)
    prediction.record("a new file appears", "a new file appears" if seen["new_files"]
                      else "no new file", case="directory after a private write",
                      claim="webserver-mmap.map-private-creates-new-file",
                      new_files=seen["new_files"])
    prediction.record("original file untouched", "original file untouched"
                      if seen["file"] == ORIGINAL.hex() else "original changed",
                      case="the original file", claim="webserver-mmap.map-private-creates-new-file",
                      central=False)


@pytest.mark.claim(*COW_CLAIMS, "webserver-mmap.map-private-creates-new-file")
@pytest.mark.layer("pymmap")
def test_pymmap_access_copy_stays_private(probe, prediction, sized_file):
    outcome = probe(pymmap_private_write, sized_file(PAGE_SIZE, fill=ORIGINAL), WRITTEN)
    assert outcome.ok, outcome
    assert outcome.value == {"private": WRITTEN.hex(), "file": ORIGINAL.hex(),
                             "new_files": []}, outcome
    for claim in COW_CLAIMS:
        prediction.record("file unchanged", "file unchanged", case="mmap.ACCESS_COPY write",
                          claim=claim)
    prediction.record("a new file appears", "no new file", case="directory after an "
                      "mmap.ACCESS_COPY write", claim="webserver-mmap.map-private-creates-new-file")


# --- MAP_SHARED between unrelated processes ------------------------------------------------

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
#: Timeout of probes that start another interpreter or fork many times: a loaded
#: machine can take longer than the runner's default 5 s without anything being wrong.
SLOW = 15.0
TOKEN, ANSWER = b"shared-token", b"answer"
#: The observations of ``store_seen_elsewhere`` each claim predicts to show the store.
VISIBLE = {
    "memmap-ipc.shared-change-visible-to-others": ("peer_shared",),
    "webserver-mmap.related-or-unrelated-ipc": ("peer_shared", "here_reads_answer"),
    "mmap-notes.mmap-unrelated-processes": ("peer_shared", "here_reads_answer"),
    "unp-shm.map-shared-visible-and-written": ("peer_shared", "new_descriptor"),
    "go-mmap.map-shared-written-back-shared": ("peer_shared", "new_descriptor"),
    "mmap-notes.map-shared-reflected-in-file": ("peer_shared", "new_descriptor"),
    "webserver-mmap.shared-changes-reach-file": ("new_descriptor",),
}
CASES = {"peer_shared": "unrelated process's MAP_SHARED mapping, after our store",
         "here_reads_answer": "our mapping, after the unrelated process's store",
         "new_descriptor": "pread from a new descriptor after our store, no msync"}


@pytest.mark.claim(*VISIBLE)
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_store_is_seen_by_unrelated_process_and_file(probe, prediction, sized_file, layer):
    outcome = probe(store_seen_elsewhere, sized_file(2 * PAGE_SIZE, fill=b"."), layer,
                    TOKEN, ANSWER, timeout=SLOW)
    assert outcome.ok, outcome
    seen = outcome.value
    expected = {"peer_shared": TOKEN.hex(), "here_reads_answer": ANSWER.hex(),
                "new_descriptor": TOKEN.hex()}
    assert {key: seen[key] for key in expected} == expected, seen
    for claim, keys in VISIBLE.items():
        for key in keys:
            prediction.record("visible", "visible" if seen[key] == expected[key] else "not seen",
                              case=CASES[key], claim=claim, layer=layer)
    # Unspecified by POSIX: a private mapping's untouched page (Linux: shows the store).
    prediction.record(None, "visible" if seen["peer_private_untouched"] == TOKEN.hex()
                      else "not seen", case="unrelated process's untouched MAP_PRIVATE page",
                      claim="memmap-ipc.shared-change-visible-to-others", layer=layer)
    # The file's page cache has the store at once; the storage only after msync (or writeback).
    prediction.record(None, f"{seen['dirty_kb_after_store']} kB dirty after the store, "
                      f"{seen['dirty_kb_after_msync']} kB after msync(MS_SYNC)",
                      case="dirty pages of the mapping", layer=layer,
                      claim="webserver-mmap.shared-changes-reach-file")


PAIRING_CLAIMS = ("memmap-ipc.ipc-needs-map-shared", "webserver-mmap.map-shared-required-for-ipc")


@pytest.mark.claim(*PAIRING_CLAIMS)
@pytest.mark.parametrize("layer", LAYERS)
def test_only_a_shared_writer_delivers(probe, prediction, sized_file, layer):
    outcome = probe(flag_pairings, sized_file(4 * PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    assert outcome.ok, outcome
    for pairing, seen in outcome.value.items():
        writer, reader = pairing.split("/")
        delivered = seen == TOKEN.hex()
        if writer == "MAP_PRIVATE":  # mmap(2): private stores are never carried through
            assert not delivered, outcome
        elif reader == "MAP_SHARED":
            assert delivered, outcome
        both = writer == reader == "MAP_SHARED"
        for claim in PAIRING_CLAIMS:
            # A private reader seeing the store is unspecified by POSIX: a side case.
            prediction.record("delivers" if both else "not delivered",
                              "delivers" if delivered else "not delivered",
                              case=f"writer {writer}, reader {reader}", claim=claim,
                              central=writer == "MAP_PRIVATE" or both, layer=layer)


@pytest.mark.claim("memmap-ipc.ipc-needs-read-write")
@pytest.mark.parametrize("layer", LAYERS)
def test_read_only_receiver_sees_the_store(probe, prediction, sized_file, layer):
    outcome = probe(read_only_receiver, sized_file(PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    assert outcome.ok, outcome
    assert outcome.value["after"] == TOKEN.hex(), outcome
    prediction.record("cannot receive", "receives" if outcome.value["after"] == TOKEN.hex()
                      else "cannot receive", case="receiver: O_RDONLY, PROT_READ, MAP_SHARED",
                      layer=layer, spun_ns=outcome.value["spun_ns"])


@pytest.mark.claim("webserver-mmap.change-visible-to-other-process")
@pytest.mark.parametrize("layer", LAYERS)
def test_store_shows_in_other_process_without_msync(probe, prediction, sized_file, layer):
    outcome = probe(visibility_latency, sized_file(PAGE_SIZE), layer, 20, timeout=SLOW)
    # Each round raises TimeoutError unless the value shows within its deadline.
    assert outcome.ok and len(outcome.value["spun_ns"]) == 20, outcome
    spun = sorted(outcome.value["spun_ns"])
    prediction.record("visible as soon as stored", "visible as soon as stored",
                      case="20 stores, an unrelated process spinning on each", layer=layer,
                      median_ns=spun[len(spun) // 2], max_ns=spun[-1])


PRIVATE_CLAIMS = ("memmap-ipc.map-private-isolated", "go-mmap.map-private-cow",
                  "mmap-notes.map-private-not-reflected")


@pytest.mark.claim(*PRIVATE_CLAIMS)
@pytest.mark.parametrize("layer", LAYERS)
def test_private_store_reaches_no_one(probe, prediction, sized_file, layer):
    outcome = probe(private_store_isolated, sized_file(2 * PAGE_SIZE, fill=b"."), layer, TOKEN,
                    timeout=SLOW)
    assert outcome.ok and outcome.value["child_status"] == "exit 0", outcome
    seen, original = outcome.value, outcome.value["original"]
    assert seen["here"] == TOKEN.hex(), seen
    others = ("forked_child", "unrelated_process", "file_before_msync", "file_after_msync_munmap")
    assert all(seen[key] == original for key in others), seen
    for key in others:
        observed = "unchanged" if seen[key] == original else "changed"
        prediction.record("unchanged", observed, case=key.replace("_", " "), layer=layer,
                          claim="memmap-ipc.map-private-isolated")
    for claim in PRIVATE_CLAIMS[1:]:
        prediction.record("file unchanged", "file unchanged" if seen["file_after_msync_munmap"]
                          == original else "file changed", case="file after msync and munmap",
                          claim=claim, layer=layer)
    # Unspecified by POSIX: a page this mapping has not written follows the file (Linux: it does).
    prediction.record(None, "follows the file" if seen["untouched_page_after_outside_store"]
                      == seen["outside_token"] else "keeps the old bytes", layer=layer,
                      case="untouched private page after another process stores into the file",
                      claim="memmap-ipc.map-private-isolated")


# --- the mapping and the file, byte for byte -------------------------------------------------

@pytest.mark.claim("go-mmap.file-read-write-via-memory")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_byte_is_file_byte_at_offset(probe, prediction, sized_file, layer):
    positions = [0, 1, PAGE_SIZE - 1, PAGE_SIZE, 2 * PAGE_SIZE - 1]
    outcome = probe(byte_correspondence, sized_file(4 * PAGE_SIZE), layer, 2 * PAGE_SIZE,
                    positions)
    assert outcome.ok, outcome
    for row in outcome.value:
        assert row["pwrite_then_load"] and row["store_then_pread"], row
        for direction in ("pwrite_then_load", "store_then_pread"):
            prediction.record("same byte", "same byte" if row[direction] else "differs",
                              case=f"{direction.replace('_', ' ')}, mapping byte {row['i']} "
                              f"= file byte {2 * PAGE_SIZE + row['i']}", layer=layer)


@pytest.mark.claim("memmap-ipc.partial-file-mapping")
@pytest.mark.parametrize("layer", LAYERS)
def test_part_of_a_file_can_be_mapped(probe, prediction, sized_file, layer):
    path = sized_file(16 * PAGE_SIZE, fill=bytes(range(1, 256)))
    outcome = probe(partial_mapping, path, layer, 3, 3)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["equal"] and seen["region_path_is_file"], seen
    assert (seen["region_bytes"], seen["region_offset"]) == (3 * PAGE_SIZE, 3 * PAGE_SIZE), seen
    prediction.record("exactly the range's bytes", "exactly the range's bytes" if seen["equal"]
                      else "other bytes", case="pages 3 to 5 of a 16-page file", layer=layer,
                      maps_size=seen["region_bytes"], maps_offset=seen["region_offset"])
