"""Checks of ``prot`` against the mode the file was opened with.

mmap(2), ERRORS: EACCES when the fd is not open for reading (any file
mapping), or when ``MAP_SHARED`` is asked with ``PROT_WRITE`` and the fd is not
open read-write.  A ``MAP_PRIVATE`` writable mapping of a read-only fd is
allowed: its writes never reach the file.  PROT_EXEC on a file of a noexec
mount is EPERM.  Python's mmap module asks for the same through ``access``:
ACCESS_READ is PROT_READ shared, ACCESS_WRITE PROT_READ|PROT_WRITE shared,
ACCESS_COPY PROT_READ|PROT_WRITE private.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.mapping import map_file
from helpers.probes.protections import on_noexec_mount, pymmap_access

MODES = ("O_RDONLY", "O_WRONLY", "O_RDWR")
PROTS = ("PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_READ|PROT_WRITE", "PROT_READ|PROT_EXEC")
FLAGS = ("MAP_SHARED", "MAP_PRIVATE")
RW = "PROT_READ|PROT_WRITE"
ACCESS = {"ACCESS_READ": ("PROT_READ", "MAP_SHARED"), "ACCESS_WRITE": (RW, "MAP_SHARED"),
          "ACCESS_COPY": (RW, "MAP_PRIVATE")}


def spec(mode: str, prot: str, flags: str, *, noexec: bool = False) -> str:
    """Return what mmap(2) says a file mapping with these arguments does."""
    if mode == "O_WRONLY":
        return "EACCES"
    if flags == "MAP_SHARED" and "PROT_WRITE" in prot and mode != "O_RDWR":
        return "EACCES"
    if noexec and "PROT_EXEC" in prot:
        return "EPERM"
    return "maps"


def agrees(mode: str, prot: str) -> bool:
    """Return whether open mode and prot 'agree' in the memmap-ipc document's sense."""
    wants_write = "PROT_WRITE" in prot
    wants_read = "PROT_READ" in prot
    return {"O_RDONLY": wants_read and not wants_write,
            "O_WRONLY": wants_write and not wants_read,
            "O_RDWR": wants_read and wants_write}[mode]


def _compatible(mode: str, prot: str) -> str | None:
    """Return the webserver document's table: PROT_READ needs a readable fd, RW needs O_RDWR."""
    if prot == "PROT_READ":
        ok = mode in ("O_RDONLY", "O_RDWR")
    elif prot == RW:
        ok = mode == "O_RDWR"
    else:
        return None
    return "compatible" if ok else "incompatible"


#: Per claim: the case a (mode, prot) pairing is, without its flags (None: the claim says
#: nothing of it).  The case id is prefixed with ``shared-`` or ``private-``: each document
#: assumes a shared mapping, so the catalogue makes the MAP_PRIVATE cases side cases.
PREDICTORS: dict[str, Callable[[str, str], str | None]] = {
    "memmap-ipc.fd-mode-matches-prot":
        lambda mode, prot: "mode-equals-prot" if agrees(mode, prot) else "mode-differs-from-prot",
    "webserver-mmap.rdonly-open-write-prot-fails":
        lambda mode, prot: "rdonly-rw" if mode == "O_RDONLY" and prot == RW else None,
    "webserver-mmap.open-mode-compatible-with-prot": _compatible,
    "webserver-mmap.rw-prot-needs-rdwr-fd":
        lambda mode, prot: "rw-without-rdwr" if prot == RW and mode != "O_RDWR" else None,
}


def _observe(prediction, outcome, mode: str, prot: str, flags: str, label: str) -> None:
    """Observe whether mmap succeeded, for every claim that predicts this pairing."""
    kind = flags.removeprefix("MAP_").lower()
    for claim, case in PREDICTORS.items():
        if (stem := case(mode, prot)) is not None:
            prediction.observe(f"{kind}-{stem}", observe.succeeded(outcome), claim=claim,
                               instance=label)


@pytest.mark.claim(*PREDICTORS)
@pytest.mark.parametrize(("mode", "prot", "flags"), list(itertools.product(MODES, PROTS, FLAGS)))
def test_prot_against_open_mode(probe, prediction, sized_file, mode, prot, flags):
    path = sized_file(PAGE_SIZE)
    outcome = probe(map_file, path, PAGE_SIZE, mode=mode, prot=prot, flags=flags)
    _observe(prediction, outcome, mode, prot, flags, f"{mode} + {prot} + {flags}")
    observed = "maps" if outcome.ok else outcome.errno
    assert observed == spec(mode, prot, flags, noexec=on_noexec_mount(path)), outcome


@pytest.mark.claim(*PREDICTORS)
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize(("mode", "access"), list(itertools.product(MODES, ACCESS)))
def test_pymmap_access_against_open_mode(probe, prediction, sized_file, mode, access):
    outcome = probe(pymmap_access, sized_file(PAGE_SIZE), mode, access)
    _observe(prediction, outcome, mode, *ACCESS[access], f"{mode} + mmap.{access}")
    observed = "maps" if outcome.ok else outcome.errno
    assert observed == spec(mode, *ACCESS[access]), outcome


PROT_BITS = ("PROT_READ", "PROT_WRITE", "PROT_EXEC")


@pytest.mark.claim("memmap-ipc.fd-mode-matches-prot")
@settings(max_examples=30)
@given(mode=st.sampled_from(MODES), bits=st.sets(st.sampled_from(PROT_BITS)),
       flags=st.sampled_from(FLAGS))
def test_any_mode_prot_and_type_follow_mmap_errors(probe, sized_file, mode, bits, flags):
    prot = "|".join(b for b in PROT_BITS if b in bits) or "PROT_NONE"
    path = sized_file(PAGE_SIZE)
    outcome = probe(map_file, path, PAGE_SIZE, mode=mode, prot=prot, flags=flags)
    expected = spec(mode, prot, flags, noexec=on_noexec_mount(path))
    assert ("maps" if outcome.ok else outcome.errno) == expected, outcome
