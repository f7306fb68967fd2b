"""A fixed tour of the model: one deterministic sequence that reaches every rule and call.

The hypothesis search draws its sequences at random, so a small default
budget may miss a rule in one run and reach it in the next.  The tour is the
floor under it: a hand-written program, the same on every run, that makes
every kind of step at least once and drives the model to decide an outcome
by each of its rules (:data:`helpers.model.rules.RULES`), with the faults
(``SIGSEGV``, ``SIGBUS``) taken in a forked child so that the executor lives
on.  The conformance check runs it against the kernel like any sequence and
asserts, from the model's own lists, that nothing was left out: a rule or a
step added to the model and not toured fails it.

Addresses are arena offsets in pages of ``page_size`` bytes; the layout
(pages of the 16-page reservation, the free pages above it) is the session's
default geometry.
"""

from __future__ import annotations

from helpers.model import steps
from helpers.model.steps import (
    Close,
    Exit,
    Fork,
    Ftruncate,
    Load,
    Mmap,
    Mprotect,
    Msync,
    Munmap,
    Open,
    Pwrite,
    ShmOpen,
    ShmUnlink,
    Store,
)


def tour(page_size: int) -> list[steps.Step]:
    """Return the tour for pages of ``page_size`` bytes (handles count from 0 as opened)."""
    p = page_size
    return [
        # Files: a missing one, a new one (handle 0) and a read-only view of it (handle 1).
        Open(name="missing", flags="RDWR"),
        Open(name="f", flags="RDWR|CREAT"),
        Open(name="f", flags="RDONLY"),
        Ftruncate(handle=0, length=-1),
        Ftruncate(handle=1, length=p),
        Ftruncate(handle=0, length=p + 100),
        Pwrite(handle=0, offset=0, length=10, value=0x11),
        Pwrite(handle=1, offset=0, length=1, value=0x12),
        # Mappings of every kind, and the calls mmap refuses.
        Mmap(addr=None, length=0, prot="READ", flags="PRIVATE|ANONYMOUS"),
        Mmap(addr=None, length=p, prot="READ", flags="ANONYMOUS"),
        Mmap(addr=None, length=p, prot="READ|WRITE", flags="SHARED", handle=1),
        Mmap(addr=None, length=p, prot="READ", flags="SHARED", handle=7),
        Mmap(addr=None, length=p, prot="READ", flags="PRIVATE", handle=0, offset=100),
        Mmap(addr=0, length=3 * p, prot="READ|WRITE", flags="SHARED|FIXED", handle=0),
        Mmap(addr=4 * p, length=p, prot="READ|WRITE", flags="PRIVATE|FIXED", handle=0),
        Mmap(addr=6 * p, length=p, prot="READ|WRITE", flags="PRIVATE|ANONYMOUS|FIXED"),
        Mmap(addr=7 * p, length=p, prot="READ|WRITE", flags="SHARED|ANONYMOUS|FIXED"),
        Mmap(addr=16 * p, length=p, prot="READ", flags="PRIVATE|ANONYMOUS"),
        # Loads and stores that succeed: shared file, end of file, private, anonymous.
        Store(addr=5, value=0x22),
        Load(addr=p + 200),
        Load(addr=4 * p),
        Store(addr=4 * p + 1, value=0x33),
        Load(addr=6 * p),
        Store(addr=6 * p + 2, value=0x44),
        Store(addr=7 * p, value=0x55),
        Store(addr=p + 300, value=0x5A),
        Mmap(addr=6 * p, length=p, prot="READ", flags="PRIVATE|ANONYMOUS"),
        Pwrite(handle=0, offset=20, length=4, value=0x66),
        # The range calls, each once refused and once done.
        Munmap(addr=16 * p + 1, length=p),
        Munmap(addr=16 * p, length=p),
        Mprotect(addr=16 * p, length=p, prot="READ"),
        Mprotect(addr=15 * p, length=2 * p, prot="READ"),
        Mprotect(addr=6 * p, length=p, prot="READ"),
        Msync(addr=16 * p, length=p, flags="SYNC"),
        Msync(addr=0, length=p, flags="SYNC"),
        # A child: it inherits everything, diverges in private pages, shares the rest.
        Fork(),
        Store(addr=4 * p + 2, value=0x77, proc=1),
        Store(addr=7 * p + 1, value=0x88, proc=1),
        Load(addr=7 * p + 1),
        Load(addr=4 * p + 2),
        Exit(),
        # Faults, each in a child of its own: past end of file, against the protection,
        # where nothing is mapped.
        Fork(),
        Load(addr=2 * p, proc=1),
        Fork(),
        Store(addr=6 * p, value=0x99, proc=1),
        Fork(),
        Load(addr=17 * p, proc=1),
        # Names and descriptors: a shm object outlives its name; closing keeps mappings.
        ShmOpen(name="s", flags="RDWR|CREAT"),
        ShmOpen(name="s", flags="RDWR|CREAT|EXCL"),
        Ftruncate(handle=2, length=p),
        Mmap(addr=8 * p, length=p, prot="READ|WRITE", flags="SHARED|FIXED", handle=2),
        ShmUnlink(name="s"),
        ShmUnlink(name="s"),
        ShmOpen(name="s", flags="RDWR"),
        Store(addr=8 * p + 3, value=0xAA),
        Close(handle=2),
        Close(handle=2),
        Load(addr=8 * p + 3),
        # The file shrinks under its mappings.
        Ftruncate(handle=0, length=50),
        Load(addr=10),
    ]


__all__ = ["tour"]
