"""Checks of ``prot`` against the mode the file was opened with.

mmap(2), ERRORS: EACCES when the fd is not open for reading (any file
mapping), or when ``MAP_SHARED`` is asked with ``PROT_WRITE`` and the fd is not
open read-write.  A ``MAP_PRIVATE`` writable mapping of a read-only fd is
allowed: its writes never reach the file.
"""

from __future__ import annotations

import itertools

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.mapping import map_file
from helpers.probes.protections import pymmap_access

MODES = ("O_RDONLY", "O_WRONLY", "O_RDWR")
PROTS = ("PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_READ|PROT_WRITE", "PROT_READ|PROT_EXEC")
FLAGS = ("MAP_SHARED", "MAP_PRIVATE")


def spec(mode: str, prot: str, flags: str) -> str:
    """Return what mmap(2) says a file mapping with these arguments does."""
    if mode == "O_WRONLY":
        return "EACCES"
    if flags == "MAP_SHARED" and "PROT_WRITE" in prot and mode != "O_RDWR":
        return "EACCES"
    return "maps"


def agrees(mode: str, prot: str) -> bool:
    """Return whether open mode and prot 'agree' in the memmap-ipc document's sense."""
    wants_write = "PROT_WRITE" in prot
    wants_read = "PROT_READ" in prot
    return {"O_RDONLY": wants_read and not wants_write,
            "O_WRONLY": wants_write and not wants_read,
            "O_RDWR": wants_read and wants_write}[mode]


@pytest.mark.claim("memmap-ipc.fd-mode-matches-prot", "webserver-mmap.rdonly-open-write-prot-fails")
@pytest.mark.parametrize(("mode", "prot", "flags"), list(itertools.product(MODES, PROTS, FLAGS)))
def test_prot_against_open_mode(probe, prediction, sized_file, mode, prot, flags):
    outcome = probe(map_file, sized_file(PAGE_SIZE), PAGE_SIZE, mode=mode, prot=prot, flags=flags)
    observed = "maps" if outcome.ok else outcome.errno
    assert observed == spec(mode, prot, flags), outcome
    label = f"{mode} + {prot} + {flags}"
    ipc_case = flags == "MAP_SHARED" and prot == "PROT_READ|PROT_WRITE"
    prediction.record("maps" if agrees(mode, prot) else "fails",
                      "maps" if outcome.ok else "fails", case=label,
                      claim="memmap-ipc.fd-mode-matches-prot", central=ipc_case,
                      errno=outcome.errno)
    if mode == "O_RDONLY" and prot == "PROT_READ|PROT_WRITE":
        # The document's case names no flag: MAP_SHARED is its subject (IPC);
        # MAP_PRIVATE is the case it leaves out.
        prediction.record("MAP_FAILED", "maps" if outcome.ok else "MAP_FAILED", case=label,
                          claim="webserver-mmap.rdonly-open-write-prot-fails",
                          central=flags == "MAP_SHARED", errno=outcome.errno)


@pytest.mark.claim("webserver-mmap.rdonly-open-write-prot-fails")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize(("mode", "access", "expected"), [
    ("O_RDONLY", "ACCESS_WRITE", "EACCES"),
    ("O_RDONLY", "ACCESS_COPY", "maps"),
    ("O_RDONLY", "ACCESS_READ", "maps"),
    ("O_RDWR", "ACCESS_WRITE", "maps"),
])
def test_pymmap_access_against_open_mode(probe, prediction, sized_file, mode, access, expected):
    outcome = probe(pymmap_access, sized_file(PAGE_SIZE), mode, access)
    observed = "maps" if outcome.ok else outcome.errno
    assert observed == expected, outcome
    if access != "ACCESS_READ":
        prediction.record("MAP_FAILED", "maps" if outcome.ok else "MAP_FAILED",
                          case=f"{mode} + mmap.{access}",
                          central=access == "ACCESS_WRITE" and mode == "O_RDONLY")
