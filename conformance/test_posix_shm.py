"""Checks of POSIX shared memory objects and of ftruncate, which sizes them.

shm_open(3), shm_overview(7): an object is named ``/name`` (one leading
slash, no other; longer than NAME_MAX is ENAMETOOLONG), lives as a file in
the tmpfs at /dev/shm, starts with size 0, and is opened with exactly one
of O_RDONLY/O_RDWR plus O_CREAT, O_EXCL (EEXIST), O_TRUNC; FD_CLOEXEC is
set.  ``shm_unlink`` removes the name at once and the memory when the last
descriptor and mapping go.  ftruncate(2): shrinking discards data (SIGBUS
on whole pages past the new end of a mapping), growing adds bytes that read
as zero, the file offset does not move, and the descriptor must be open
for writing (EINVAL on Linux; EACCES for ``truncate`` without write
permission).
"""

from __future__ import annotations

import os
import pwd

import pytest

from helpers.libc import PAGE_SIZE
from helpers.platform import filesystem_type
from helpers.probes.posix_shm import (
    built_on_mmap,
    demo_replay,
    dot_slash_names,
    extend_regular_file,
    extension_after_tail_store,
    link_with_and_without_lrt,
    lseek_write_extension,
    name_forms,
    new_object_content,
    object_location,
    offset_across_truncate,
    open_flags,
    share_with_unrelated,
    shrink_and_regrow,
    stat_fields,
    touch_after_shrink,
    truncate_without_write_access,
    unlink_while_in_use,
    usage_steps,
)

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]
TOKEN = b"from the creator"
DEV_SHM_IS_TMPFS = filesystem_type("/dev/shm") == "tmpfs"


def unprivileged_uid() -> int:
    """Return the uid of ``nobody`` (65534 where the user database lacks it)."""
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


@pytest.mark.claim("unp-shm.shm-open-unrelated-share")
@pytest.mark.parametrize("layer", LAYERS)
def test_unrelated_process_shares_object_by_name(probe, prediction, shm_name, layer):
    outcome = probe(share_with_unrelated, shm_name(), layer, TOKEN, timeout=20.0)
    assert outcome.ok, outcome
    assert outcome.value == {"unrelated_read": TOKEN.hex(),
                             "answer_seen_here": TOKEN[::-1].hex()}, outcome
    prediction.record("reads what was stored", "reads what was stored",
                      case="unrelated process maps the name", **outcome.value)


@pytest.mark.claim("mmap-notes.posix-shm-built-on-mmap")
@pytest.mark.parametrize("layer", LAYERS)
def test_shm_object_is_a_dev_shm_file_mapped_shared(probe, prediction, shm_name, layer):
    name = shm_name()
    outcome = probe(built_on_mmap, name, layer, TOKEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["maps_name"] == "/dev/shm" + name and seen["perms"] == "rw-s", seen
    assert seen["same_inode_as_dev_shm_file"], seen
    assert seen["mapping_reads_pwrite"] == TOKEN.hex(), seen
    assert seen["pread_reads_store"] == TOKEN[::-1].hex(), seen
    prediction.record("a /dev/shm file mapped MAP_SHARED", "a /dev/shm file mapped MAP_SHARED",
                      case="/proc/self/maps of the mapping", **seen)


@pytest.mark.claim("unp-shm.shm-name-portable-form")
def test_portable_name_form_is_accepted(probe, prediction, shm_name):
    outcome = probe(name_forms, shm_name())
    assert outcome.ok, outcome
    forms = outcome.value
    assert forms["/name"]["result"] == "opens" and forms["/name"]["exists"], forms
    assert forms["/ + 256 characters"]["result"] == "ENAMETOOLONG", forms
    assert forms["/dir/name"]["result"] == forms["/ alone"]["result"] == "EINVAL", forms
    prediction.record("accepted", "accepted", case="/name", file=forms["/name"]["file"])
    for label, result in forms.items():
        if label != "/name":  # the document says nothing of the other forms
            prediction.record(None, result["result"], case=label, **result)


@pytest.mark.claim("unp-shm.dot-slash-shm-name")
def test_dot_slash_name_is_rejected(probe, prediction, shm_name):
    outcome = probe(dot_slash_names, shm_name())
    assert outcome.ok, outcome
    results = outcome.value
    assert results["./test.shm.file"] == results["./<unique>"] == "EINVAL", results
    assert results["/<unique>"] == "opens", results
    prediction.record("opens", results["./test.shm.file"], case='shm_open("./test.shm.file")',
                      **results)


@pytest.mark.claim("unp-shm.shm-objects-under-dev-shm")
def test_object_is_a_file_under_dev_shm(probe, prediction, shm_name):
    name = shm_name()
    outcome = probe(object_location, name)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["file"] == "/dev/shm" + name and seen["same_inode"] and seen["regular_file"], seen
    observed = f"/dev/shm file on {seen['filesystem']}"
    prediction.record("/dev/shm file on tmpfs", observed, case=f"shm_open({name!r})", **seen)


@pytest.mark.claim("unp-shm.shm-open-oflags")
def test_open_flags_have_their_open2_meaning(probe, prediction, shm_name):
    outcome = probe(open_flags, shm_name())
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["O_CREAT|O_EXCL again"] == "EEXIST", seen
    assert seen["size after O_TRUNC"] == 0 and seen["O_CREAT on existing: same object"], seen
    assert seen["O_RDONLY: ftruncate"] in ("EINVAL", "EBADF"), seen
    assert seen["O_RDONLY: mmap PROT_WRITE MAP_SHARED"] == "EACCES", seen
    assert seen["O_RDONLY: mmap PROT_READ MAP_SHARED"] == "maps", seen
    assert seen["FD_CLOEXEC set"], seen
    for case, predicted, observed in (
            ("O_EXCL on an existing name", "EEXIST", seen["O_CREAT|O_EXCL again"]),
            ("O_TRUNC on a sized object", 0, seen["size after O_TRUNC"]),
            ("O_RDONLY then mmap PROT_WRITE MAP_SHARED", "EACCES",
             seen["O_RDONLY: mmap PROT_WRITE MAP_SHARED"])):
        prediction.record(predicted, observed, case=case)
    prediction.record(None, seen["O_WRONLY"], case="O_WRONLY (not allowed by POSIX)", **seen)


@pytest.mark.claim("unp-shm.shm-initial-content")
@pytest.mark.parametrize("layer", LAYERS)
def test_new_object_is_empty_and_grows_with_zeros(probe, prediction, shm_name, layer):
    outcome = probe(new_object_content, shm_name(), layer, 256 * PAGE_SIZE)
    assert outcome.ok, outcome
    assert outcome.value == {"size_at_creation": 0, "size_after_ftruncate": 256 * PAGE_SIZE,
                             "nonzero_bytes": 0}, outcome
    prediction.record("size 0, zeros after ftruncate", "size 0, zeros after ftruncate",
                      case="new object grown to 1 MiB", **outcome.value)


@pytest.mark.claim("unp-shm.shm-unlink-refcount")
@pytest.mark.parametrize("layer", LAYERS)
def test_unlinked_object_lives_while_mapped(probe, prediction, shm_name, layer):
    outcome = probe(unlink_while_in_use, shm_name(), layer, TOKEN)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["open_without_create"] == "ENOENT" and not seen["file_left_under_dev_shm"], seen
    assert seen["peer_reads"] == TOKEN.hex() and seen["here_reads"] == TOKEN[::-1].hex(), seen
    assert seen["old_size"] == PAGE_SIZE and seen["old_links"] == 0, seen
    assert seen["recreated_size"] == 0 and seen["recreated_is_new_object"], seen
    prediction.record("name gone, mappings still shared", "name gone, mappings still shared",
                      case="after shm_unlink with two live mappings", **seen)


@pytest.mark.claim("unp-shm.fstat-shm-fields")
def test_fstat_fills_every_field_of_an_object(probe, prediction, shm_name):
    outcome = probe(stat_fields, shm_name())
    assert outcome.ok, outcome
    new, written, unlinked = (outcome.value[k] for k in ("new", "written", "unlinked"))
    assert new["mode"] == "0o640" and new["regular"], new
    assert (new["st_uid"], new["st_gid"]) == (os.geteuid(), os.getegid()), new
    assert (new["st_size"], written["st_size"]) == (0, 2 * PAGE_SIZE), written
    filled = {"st_ino": new["st_ino"] != 0, "st_nlink": (new["st_nlink"], unlinked["st_nlink"])
              == (1, 0), "st_blocks": written["st_blocks"] > new["st_blocks"],
              "st_mtime": written["st_mtime_ns"] > 0}
    observed = "only mode, uid, gid, size" if not any(filled.values()) else "every field filled"
    prediction.record("only mode, uid, gid, size", observed, case="fstat of a new, written, "
                      "unlinked object", meaningful=filled, **outcome.value)


@pytest.mark.claim("unp-shm.usage-steps-work")
@pytest.mark.parametrize(("oflag", "as_written"), [
    ("O_CREAT|O_TRUNC|O_EXCL", True),
    ("O_RDWR|O_CREAT|O_TRUNC|O_EXCL", False),
])
def test_documented_usage_steps(probe, prediction, shm_name, oflag, as_written):
    outcome = probe(usage_steps, shm_name(), oflag, PAGE_SIZE)
    assert outcome.ok, outcome
    steps = outcome.value
    if as_written:  # no access mode means O_RDONLY
        assert steps["ftruncate"] in ("EINVAL", "EBADF") and steps["mmap"] == "EACCES", steps
    else:
        assert steps["mmap"] == "maps" and steps["use"] == b"hello".hex(), steps
    observed = "usable mapping" if steps.get("mmap") == "maps" else "no mapping"
    prediction.record("usable mapping" if as_written else None, observed,
                      case=f"shm_open({oflag})", **steps)


@pytest.mark.claim("unp-shm.demo-consumer-output")
@pytest.mark.parametrize("layer", LAYERS)
def test_demo_consumer_prints_size_and_data(probe, prediction, shm_name, layer):
    expected = "shmObj size:100,client write data:hello world !"
    outcome = probe(demo_replay, shm_name(), layer)
    assert outcome.ok, outcome
    assert outcome.value == {"producer": "produced", "line": expected}, outcome
    prediction.record(expected, outcome.value["line"], case="valid name, consumer after "
                      "producer", note="the ten-second sleep is replaced by waiting for the "
                      "producer to exit")
    literal = probe(dot_slash_names, shm_name())
    assert literal.ok, literal
    observed = expected if literal.value["./test.shm.file"] == "opens" else (
        f"shm_open fails with {literal.value['./test.shm.file']}; nothing is printed")
    prediction.record(expected, observed, case='as written, name "./test.shm.file"',
                      central=False)


@pytest.mark.claim("unp-shm.link-with-lrt")
@pytest.mark.needs("compiler")
def test_linking_shm_open_with_and_without_lrt(probe, prediction, shm_name):
    outcome = probe(link_with_and_without_lrt, shm_name(), timeout=30.0)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["with -lrt"]["link_status"] == 0, seen
    glibc = tuple(int(part) for part in seen["glibc"].split(".")[:2])
    if glibc >= (2, 34):  # shm_open moved into libc itself
        assert seen["without -lrt"]["link_status"] == 0, seen
    for label, predicted in (("without -lrt", "link fails"), ("with -lrt", "links")):
        observed = "links" if seen[label]["link_status"] == 0 else "link fails"
        prediction.record(predicted, observed, case=f"cc {label}",
                          central=label == "without -lrt", glibc=seen["glibc"], **seen[label])


@pytest.mark.claim("unp-shm.ftruncate-shm-extension-zero")
@pytest.mark.parametrize(("kind", "layer"), [
    pytest.param("shm", "libc", id="shm-libc", marks=pytest.mark.xfail(
        DEV_SHM_IS_TMPFS, strict=True, reason="known deviation: tmpfs keeps bytes stored through "
        "a mapping past end of file and shows them when ftruncate grows the object "
        "(byte 200 reads 'Z', ftruncate(2) says NUL)")),
    pytest.param("file", "libc", id="disk-file-libc"),
    pytest.param("shm", "pymmap", id="shm-pymmap", marks=pytest.mark.layer("pymmap")),
])
def test_grown_object_reads_zero(probe, prediction, shm_name, sized_file, kind, layer):
    target = shm_name() if kind == "shm" else sized_file(0)
    outcome = probe(extension_after_tail_store, target, kind, layer)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["grown_nonzero_bytes"] == 0, seen
    zero = "added bytes read zero"
    prediction.record(zero, zero, case=f"{kind} grown to 3 pages", central=kind == "shm", **seen)
    tail = zero if seen["byte_200_after_growth"] == "00" else (
        f"byte 200 reads {bytes.fromhex(seen['byte_200_after_growth'])!r}")
    prediction.record(zero if kind == "shm" else None, tail, central=False,
                      case=f"{kind}: store past end of file (tail_store: {seen['tail_store']}), "
                      "then grow")
    assert seen["byte_200_after_growth"] == "00", seen


@pytest.mark.claim("unp-shm.ftruncate-shrink-discards")
def test_shrunk_file_loses_its_tail(probe, prediction, sized_file):
    outcome = probe(shrink_and_regrow, sized_file(3 * PAGE_SIZE, fill=b"data"))
    assert outcome.ok, outcome
    assert outcome.value["size_after_shrink"] == 100, outcome
    assert outcome.value["nonzero_past_100"] == 0, outcome
    prediction.record("size 100, tail gone", "size 100, tail gone",
                      case="shrink 3 pages to 100 bytes, grow back", **outcome.value)


@pytest.mark.claim("unp-shm.ftruncate-shrink-discards")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(("page", "expected"), [(0, "reads zero"), (2, "SIGBUS")])
def test_mapping_of_shrunk_file(probe, prediction, sized_file, layer, page, expected):
    outcome = probe(touch_after_shrink, sized_file(3 * PAGE_SIZE, fill=b"data"), layer, page)
    observed = "reads zero" if outcome.ok and outcome.value["byte"] == "00" else (
        outcome.signal or outcome.summary())
    assert observed == expected, outcome
    assert outcome.fault_offset in (None, page * PAGE_SIZE + 200) or outcome.ok, outcome
    prediction.record("cannot be read back", "cannot be read back", central=False,
                      case=f"mapping after shrink to 100 bytes, page {page}: {observed}")


@pytest.mark.claim("unp-shm.ftruncate-extend-regular-file")
def test_ftruncate_extends_regular_file_with_zeros(probe, prediction, sized_file):
    outcome = probe(extend_regular_file, sized_file(100, fill=b"x"), 3 * PAGE_SIZE)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["size"] == 3 * PAGE_SIZE and seen["nonzero_past_old_end"] == 0, seen
    prediction.record("extended, zeros", "extended, zeros", case="100 bytes to 3 pages",
                      hole=seen["blocks_after"] == seen["blocks_before"], **seen)


@pytest.mark.claim("unp-shm.lseek-write-extension")
def test_lseek_and_one_byte_extend_a_file(probe, prediction, sized_file):
    outcome = probe(lseek_write_extension, sized_file(0), 3 * PAGE_SIZE)
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["size"] == 3 * PAGE_SIZE and seen["nonzero_in_gap"] == 0, seen
    assert seen["last_byte"] == 1 and seen["first_byte_of_each_page"] == [0, 0, 0], seen
    prediction.record("length bytes, zero gap", "length bytes, zero gap",
                      case="lseek(3 pages - 1) + write 1 byte", **seen)


@pytest.mark.claim("unp-shm.ftruncate-offset-unchanged")
def test_ftruncate_keeps_file_offset(probe, prediction, sized_file):
    outcome = probe(offset_across_truncate, sized_file(6000, fill=b"o"))
    assert outcome.ok, outcome
    assert set(outcome.value.values()) == {5000}, outcome
    for case, offset in outcome.value.items():
        if case != "before":
            prediction.record(5000, offset, case=case)


@pytest.mark.claim("unp-shm.ftruncate-needs-write-access")
def test_truncation_needs_write_access(probe, prediction, sized_file):
    # /dev/shm, unlike the check's private directory, can be searched by an unprivileged user.
    outcome = probe(truncate_without_write_access, sized_file(100, directory="/dev/shm"),
                    unprivileged_uid())
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["ftruncate O_RDONLY fd"] in ("EINVAL", "EBADF"), seen
    assert seen["truncate 0400 file unprivileged"] == "EACCES", seen
    for case, result in seen.items():
        root = case.endswith("as root")
        prediction.record("fails", "fails" if result != "succeeds" else "succeeds",
                          case=f"{case}: {result}", central=not root)
