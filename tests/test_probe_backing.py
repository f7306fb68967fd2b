"""Self-test: a probe asked for a file backing really maps the file.

The address, locking and unmapping checks observe each prediction on
anonymous memory and on a private mapping of a scratch file, so that the
platform mutants, which change file mappings only, can reach those claims.
A backing that silently fell back to anonymous memory would leave every
such mutant without effect and the claims unproven for a wrong reason.
"""

from __future__ import annotations

import os

import pytest

from helpers import libc
from helpers.probes.mapping import backing


def _maps_inode(addr: int) -> int:
    """Return the inode ``/proc/self/maps`` names for the mapping that holds ``addr``."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, _, hi = fields[0].partition("-")
            if int(lo, 16) <= addr < int(hi, 16):
                return int(fields[4])
    raise LookupError(f"{addr:#x} is not mapped")


@pytest.mark.parametrize("with_file", [True, False], ids=["file", "anonymous"])
def test_backing_maps_the_file_privately_or_anonymous_memory(tmp_path, with_file):
    path = tmp_path / "backing"
    path.write_bytes(b"B" * libc.PAGE_SIZE)
    with backing(str(path) if with_file else None) as (flags, fd):
        addr = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ | libc.PROT_WRITE, flags, fd)
    try:
        assert flags & libc.MAP_PRIVATE and bool(flags & libc.MAP_ANONYMOUS) != with_file
        expected = os.stat(path).st_ino if with_file else 0
        assert _maps_inode(addr) == expected
        libc.write_bytes(addr, b"private")  # a private store never reaches the file
        assert path.read_bytes()[:7] == b"BBBBBBB"
        assert libc.read_bytes(addr, 8) == (b"privateB" if with_file else b"private\0")
    finally:
        libc.munmap(addr, libc.PAGE_SIZE)
