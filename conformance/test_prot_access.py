"""Checks of what each protection lets a program do with its mapping.

mmap(2) and mprotect(2): PROT_READ pages can be read, PROT_WRITE pages
written, PROT_EXEC pages executed, PROT_NONE pages not accessed at all; an
access the protection forbids raises SIGSEGV with si_code SEGV_ACCERR.  On
x86 (and most architectures) PROT_WRITE implies PROT_READ.  Stores reach the
file only through a MAP_SHARED mapping.  A file on a noexec mount refuses
PROT_EXEC with EPERM.
"""

from __future__ import annotations

import os

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.protections import (
    MARK,
    call_code,
    on_noexec_mount,
    pymmap_store,
    store_and_read,
    touch_prot_none,
)

ORIGINAL = b"o"
X86 = os.uname().machine in ("x86_64", "i686", "i386")


def _file_after(outcome) -> str:
    """Return how the file's first byte ended up: ``changed`` or ``unchanged``."""
    return "changed" if outcome.notes.get("file") == bytes([MARK]).hex() else "unchanged"


@pytest.mark.claim("memmap-ipc.prot-read-changes-synced")
def test_store_into_read_only_mapping_faults(probe, prediction, sized_file):
    path = sized_file(PAGE_SIZE, fill=ORIGINAL)
    outcome = probe(store_and_read, path, "PROT_READ", "MAP_SHARED")
    prediction.observe("store-through-prot-read", observe.result(outcome))
    prediction.observe("file-changed-after-store", observe.note(outcome, "file_changed"))
    assert outcome.signal == "SIGSEGV" and outcome.si_code in ("SEGV_ACCERR", None), outcome
    assert outcome.fault_offset in (0, None) and "stored" not in outcome.notes, outcome
    with open(path, "rb") as handle:
        in_file = handle.read(1)
    assert in_file == ORIGINAL, in_file


@pytest.mark.claim("memmap-ipc.prot-read-changes-synced", "memmap-ipc.prot-write-changes-synced")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize("access", ["ACCESS_READ", "ACCESS_WRITE", "ACCESS_COPY"])
def test_pymmap_store_by_access(probe, prediction, sized_file, access):
    outcome = probe(pymmap_store, sized_file(PAGE_SIZE, fill=ORIGINAL), access)
    if access == "ACCESS_READ":
        prediction.observe("store-through-prot-read", observe.result(outcome),
                           claim="memmap-ipc.prot-read-changes-synced", instance="ACCESS_READ")
        assert outcome.exception == "TypeError", outcome
        return
    case = "shared-mapping-store" if access == "ACCESS_WRITE" else "private-mapping-store"
    prediction.observe(case, observe.field(outcome, "file_changed"),
                       claim="memmap-ipc.prot-write-changes-synced", instance=access)
    changed = outcome.value["file"] == bytes([MARK]).hex()
    assert outcome.value["read_back"] == MARK and changed == (access == "ACCESS_WRITE"), outcome


WRITE_CLAIMS = ("memmap-ipc.prot-write-changes-synced", "webserver-mmap.write-only-prot-fails",
                "webserver-mmap.read-permission-required")


@pytest.mark.claim(*WRITE_CLAIMS)
@pytest.mark.parametrize(("prot", "flags"), [
    ("PROT_WRITE", "MAP_SHARED"), ("PROT_WRITE", "MAP_PRIVATE"),
    ("PROT_READ|PROT_WRITE", "MAP_SHARED"), ("PROT_READ|PROT_WRITE", "MAP_PRIVATE"),
    ("PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS"),
])
def test_store_through_writable_mapping(probe, prediction, sized_file, prot, flags):
    anonymous = "MAP_ANONYMOUS" in flags
    outcome = probe(store_and_read, None if anonymous else sized_file(PAGE_SIZE, fill=ORIGINAL),
                    prot, flags)
    instance = f"{prot} {flags}"
    if not anonymous:
        case = "shared-mapping-store" if flags == "MAP_SHARED" else "private-mapping-store"
        prediction.observe(case, observe.note(outcome, "file_changed"), claim=WRITE_CLAIMS[0],
                           instance=instance)
    if prot == "PROT_WRITE":
        mapped = observe.classify(observe.note(outcome, "mapped"), {True: "maps"})
        prediction.observe("anonymous" if anonymous else "file", mapped, claim=WRITE_CLAIMS[1],
                           instance=instance)
        prediction.observe("shared" if flags == "MAP_SHARED" else "private",
                           observe.field(outcome, "usable"), claim=WRITE_CLAIMS[2],
                           instance=instance)
    assert outcome.notes.get("stored") is True, outcome  # the mapping took the store
    if not anonymous:  # only a shared mapping carries it to the file
        expected = "changed" if flags == "MAP_SHARED" else "unchanged"
        assert _file_after(outcome) == expected, outcome
    if X86:  # mmap(2) NOTES: on x86 PROT_WRITE implies PROT_READ
        assert outcome.ok and outcome.value["read_back"] == MARK, outcome


EXEC = "memmap-ipc.prot-exec-executable"


@pytest.mark.claim(EXEC)
@pytest.mark.parametrize(("where", "prot"), [
    ("tempdir", "PROT_READ|PROT_EXEC"), ("tempdir", "PROT_READ"),
    pytest.param("/dev/shm", "PROT_READ|PROT_EXEC", marks=pytest.mark.skipif(
        not os.path.isdir("/dev/shm"), reason="/dev/shm does not exist here")),
])
def test_code_runs_only_with_prot_exec(probe, prediction, sized_file, where, prot):
    directory = None if where == "tempdir" else where
    path = sized_file(PAGE_SIZE, directory=directory)
    noexec = on_noexec_mount(path)
    outcome = probe(call_code, path, prot)
    executable = "PROT_EXEC" in prot
    case = ("exec-on-dev-shm" if where == "/dev/shm" else
            "exec-on-scratch" if executable else "no-exec-on-scratch")
    prediction.observe(case, observe.result(outcome),
                       instance=f"{prot} on {where}" + (" (noexec)" if noexec else ""))
    if executable and noexec:
        assert outcome.errno == "EPERM", outcome
    elif executable:
        assert outcome.ok and outcome.value == 42, outcome
    else:
        assert outcome.signal == "SIGSEGV" and outcome.si_code in ("SEGV_ACCERR", None), outcome
        assert outcome.fault_offset in (0, None), outcome


NONE_CLAIMS = ("memmap-ipc.prot-none-no-access", "mmap-notes.prot-none-inaccessible")


@pytest.mark.claim(*NONE_CLAIMS)
@pytest.mark.parametrize("backing", ["file", "anonymous"])
@pytest.mark.parametrize("access", ["load", "store", "reopen"])
def test_prot_none_faults_on_every_access(probe, prediction, sized_file, backing, access):
    path = sized_file(PAGE_SIZE, fill=ORIGINAL) if backing == "file" else None
    outcome = probe(touch_prot_none, path, access)
    if access == "reopen":  # mprotect(PROT_READ) opens the reserved range later
        # The documents predict nothing of it: the probe's outcome is the evidence.
        assert outcome.ok and outcome.value == (ORIGINAL[0] if path else 0), outcome
        return
    for claim in NONE_CLAIMS:
        prediction.observe(access, observe.result(outcome), claim=claim, instance=backing)
    assert outcome.signal == "SIGSEGV" and outcome.si_code in ("SEGV_ACCERR", None), outcome
    assert outcome.fault_offset in (0, None), outcome
