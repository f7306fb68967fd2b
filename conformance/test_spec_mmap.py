"""POSIX assertions on ``mmap`` (Open POSIX mmap/assertions.xml), one probe per case.

Each row records what the platform did for a case of a ``spec`` entry (the
report compares it with POSIX), then asserts what mmap(2) documents: the
EMFILE that POSIX names for too many mappings is ENOMEM on Linux, a
documented difference; the bytes stored past the end of a tmpfs object's
last page that become data when it grows break mmap(2) itself (strict xfail).
"""

from __future__ import annotations

import pytest

from helpers.probes import spec_mmap as p
from helpers.probes.spec_rows import File, Row, Shm, check, params

TAIL_KEPT = ("a filesystem that keeps pages only in memory (tmpfs, ramfs) keeps bytes stored "
             "past end of file in the last page and shows them when the object grows "
             "(model.ftruncate-extend-zero-fill)")

ROWS = [
    Row("spec.mmap-maps-object-at-offset", "bytes-at-offset", p.bytes_at_offset,
        (File(3), "libc"), True, "field", "matches"),
    Row("spec.mmap-maps-object-at-offset", "bytes-at-offset", p.bytes_at_offset,
        (File(3), "pymmap"), True, "field", "matches", layer="pymmap"),
    Row("spec.typed-memory-objects", "typed-memory-maps", p.typed_memory_open,
        ("/typed",), "ok", "field", "mmap"),
    Row("spec.mmap-replaces-whole-pages", "whole-page-replaced", p.replace_whole_page,
        (File(1, b"F"),), True, "field", "replaced"),
    Row("spec.mmap-replaces-whole-pages", "other-page-kept", p.replace_whole_page,
        (File(1, b"F"),), True, "field", "first_page_kept"),
    Row("spec.mmap-supported-objects", "regular-file", p.map_object, (File(1), "file"),
        "ok", "field", "mmap"),
    Row("spec.mmap-supported-objects", "shm-object", p.map_object, (Shm(), "shm"),
        "ok", "field", "mmap"),
    *(Row("spec.mmap-prot-values", "accepted", p.map_with_prot, (prot,), "ok", "field", "mmap",
          instance=prot)
      for prot in ("PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_READ|PROT_WRITE",
                   "PROT_EXEC")),
    Row("spec.mmap-protection-enforced", "store-read-only", p.touch, ("PROT_READ", "store"),
        "SIGSEGV/SEGV_ACCERR", "signal"),
    Row("spec.mmap-protection-enforced", "load-prot-none", p.touch, ("PROT_NONE", "load"),
        "SIGSEGV/SEGV_ACCERR", "signal"),
    Row("spec.mmap-protection-enforced", "shared-write-rdonly-fd", p.map_fd_mode,
        (File(1), "O_RDONLY", "PROT_READ|PROT_WRITE", "MAP_SHARED", "libc"),
        "EACCES", "field", "mmap"),
    Row("spec.mmap-protection-enforced", "private-write-rdonly-fd", p.map_fd_mode,
        (File(1), "O_RDONLY", "PROT_READ|PROT_WRITE", "MAP_PRIVATE", "libc"),
        "ok", "field", "mmap"),
    Row("spec.mmap-shared-private-disposition", "shared-reaches-object", p.disposition,
        (File(1), "MAP_SHARED"), True, "field", "file_changed"),
    Row("spec.mmap-shared-private-disposition", "private-stays-private", p.disposition,
        (File(1), "MAP_PRIVATE"), False, "field", "file_changed"),
    Row("spec.mmap-shared-private-disposition", "shared-reaches-object", p.disposition,
        (File(1), "MAP_SHARED", "pymmap"), True, "field", "file_changed", layer="pymmap"),
    Row("spec.mmap-shared-private-disposition", "private-stays-private", p.disposition,
        (File(1), "MAP_PRIVATE", "pymmap"), False, "field", "file_changed", layer="pymmap"),
    Row("spec.mmap-shared-private-disposition", "type-kept-across-fork", p.type_across_fork,
        (File(1),), True, "field", "kept"),
    Row("spec.mmap-shared-private-disposition", "map-fixed-supported",
        p.fixed_at_free_address, (), "ok", "field", "mmap"),
    Row("spec.mmap-whole-pages-and-eof", "tail-zero-filled", p.tail_of_last_page, (File(1),),
        True, "field", "tail_zero"),
    Row("spec.mmap-whole-pages-and-eof", "tail-not-written-out", p.tail_store_not_written,
        (File(1), "file"), True, "field", "not_written", instance="scratch file",
        deviation=("scratch", TAIL_KEPT)),
    Row("spec.mmap-whole-pages-and-eof", "tail-not-written-out", p.tail_store_not_written,
        (Shm(), "shm"), True, "field", "not_written", instance="shm object",
        deviation=("/dev/shm", TAIL_KEPT)),
    Row("spec.mmap-whole-pages-and-eof", "page-past-eof", p.touch_past_eof, (File(1),),
        "SIGBUS/BUS_ADRERR", "signal"),
    Row("spec.mmap-atime", "atime-marked", p.atime_marked, (File(1),), True, "field", "marked"),
    *(Row("spec.mmap-mtime-ctime", "times-marked", p.times_marked, (File(1), flag), True,
          "field", "marked", instance=flag) for flag in ("MS_SYNC", "MS_ASYNC")),
    Row("spec.mmap-return-value", "success-returns-address", p.return_values, (File(1),),
        True, "field", "success"),
    Row("spec.mmap-return-value", "failure-returns-map-failed", p.return_values, (File(1),),
        True, "field", "failure"),
    Row("spec.mmap-eacces", "wronly-descriptor", p.map_fd_mode,
        (File(1), "O_WRONLY", "PROT_READ", "MAP_SHARED", "libc"), "EACCES", "field", "mmap"),
    Row("spec.mmap-eacces", "wronly-descriptor", p.map_fd_mode,
        (File(1), "O_WRONLY", "PROT_READ|PROT_WRITE", "MAP_SHARED", "pymmap"), "EACCES",
        "field", "mmap", layer="pymmap"),
    Row("spec.mmap-eacces", "rdonly-shared-write", p.map_fd_mode,
        (File(1), "O_RDONLY", "PROT_READ|PROT_WRITE", "MAP_SHARED", "libc"), "EACCES",
        "field", "mmap"),
    Row("spec.mmap-eacces", "rdonly-shared-write", p.map_fd_mode,
        (File(1), "O_RDONLY", "PROT_READ|PROT_WRITE", "MAP_SHARED", "pymmap"), "EACCES",
        "field", "mmap", layer="pymmap"),
    Row("spec.mmap-mlockall-eagain", "locked-beyond-limit", p.mlockall_beyond_limit, (),
        "EAGAIN", "field", "mmap",
        kwargs={"rlimits": {"RLIMIT_MEMLOCK": (64 * 1024, 64 * 1024)}}),
    Row("spec.mmap-emfile", "too-many-regions", p.map_count_limit, (), "ENOMEM", "field",
        "mmap", kwargs={"timeout": 30.0}),
    Row("spec.mmap-enomem-address-space", "fixed-outside", p.fixed_past_address_space, (),
        "ENOMEM", "field", "mmap"),
    Row("spec.mmap-enomem-address-space", "no-room", p.no_room, (2**62,), "ENOMEM", "field",
        "mmap"),
    Row("spec.mmap-enotsup", "map-fixed", p.fixed_at_free_address, (), "ok", "field", "mmap"),
    Row("spec.mmap-enotsup", "map-private", p.map_private_file, (File(1),), "ok", "field",
        "mmap"),
]


@pytest.mark.parametrize("row", params(ROWS))
def test_mmap_assertion(probe, prediction, sized_file, shm_name, row):
    check(row, probe, prediction, sized_file, shm_name)
