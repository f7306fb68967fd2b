"""The model of a process's address space, in plain Python.

What it holds: the pages of a small *window* of the address space for the
executor and for the child it may fork (each page mapped or not, with its
protection, shared or private, anonymous or backed by which object at which
page), the objects behind them (regular files, POSIX shm objects and the
hidden object of a shared anonymous mapping: size and bytes, including the
bytes past end of file in the last page, which mappings can see), the private
copies that copy-on-write makes, and each process's open descriptors.

What it does: :meth:`Model.apply` takes one step, predicts exactly one
outcome for it (a value, an errno by name, or a signal with its ``si_code``)
and moves to the state the man pages say follows.  Where the man pages leave
a choice open, the model takes the one Linux documents or has always made,
and the rule's docstring says so; where even that is open (the address of a
mapping without ``MAP_FIXED`` whose hint is taken, the bytes past end of file
in a page the kernel may write back at any moment), the prediction says
:data:`~helpers.model.results.UNSPECIFIED` and nothing is claimed.

Pages are modelled one by one rather than as kernel VMAs: splitting and
merging of VMAs is the kernel's business, and a page-by-page comparison with
``/proc/self/maps`` is immune to it.  Pages ``[0, arena_pages)`` start as the
executor's ``PROT_NONE`` reservation (private anonymous pages like any
other); pages ``[arena_pages, window_pages)`` start unmapped, and everything
past the window is unmapped by construction (the executor checks it).

Rules are methods named after their call; the pieces a deliberately wrong
model would change (see :mod:`helpers.model.mutants`) are small methods of
their own.  The records they change are in :mod:`helpers.model.state`.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from helpers.model import rules
from helpers.model.flags import words
from helpers.model.platform import Platform
from helpers.model.results import UNSPECIFIED, Result
from helpers.model.state import Handle, ModelMisuse, Obj, Page, Proc

if TYPE_CHECKING:
    from helpers.model import steps

#: Default geometry: a 16-page reservation inside a 20-page window.
ARENA_PAGES = 16
WINDOW_PAGES = 20

__all__ = ["ARENA_PAGES", "WINDOW_PAGES", "Handle", "MapsView", "Model", "ModelMisuse", "Obj",
           "Page", "Proc"]


#: The view of a page that /proc/self/maps gives: perms, file offset, object id.
MapsView = tuple[str, int, "str | None"]


class Model:
    """The address space of the executor and its child, as the man pages describe it."""

    def __init__(self, platform: Platform | None = None, *, arena_pages: int = ARENA_PAGES,
                 window_pages: int = WINDOW_PAGES) -> None:
        if not 0 < arena_pages <= window_pages:
            raise ModelMisuse(f"need 0 < arena_pages <= window_pages, got {arena_pages}, "
                              f"{window_pages}")
        self.platform = platform or Platform()
        self.page_size = self.platform.page_size
        self.arena_pages = arena_pages
        self.window_pages = window_pages
        self.procs: dict[int, Proc] = {0: Proc(pages={
            p: Page(prot=frozenset(), shared=False, obj=None) for p in range(arena_pages)})}
        self.objects: dict[str, Obj] = {}
        self.shm_names: dict[str, Obj] = {}
        self.file_names: dict[str, Obj] = {}
        self.next_handle = 0
        self.alive = True
        self.fired: Counter[str] = Counter()
        #: The rules the last step was decided by (what a disagreement there broke).
        self.decided_by: set[str] = set()
        #: (oid, created) of the object the last successful open returned.
        self.opened: tuple[str, bool] | None = None
        #: A mapping the kernel places where it likes: (proc, pages) until settled.
        self.pending: tuple[int, list[Page]] | None = None
        self.outside = 0
        self._zero = bytes(self.page_size)

    # --- driving ---------------------------------------------------------------------------

    def normalise(self, step: steps.Step) -> steps.Step:
        """Return ``step`` made by the executor when the child it names does not exist."""
        if step.proc not in self.procs and step.op not in ("exit", "fork"):
            return replace(step, proc=0)
        return step

    def apply(self, step: steps.Step) -> Result:
        """Return the predicted outcome of ``step`` and move to the state that follows."""
        if not self.alive:
            raise ModelMisuse("the executor died at an earlier step; start a new model")
        if step.proc not in self.procs and step.op != "fork":
            raise ModelMisuse(f"{step!r} names process {step.proc}, which does not exist; "
                              "use Model.normalise first")
        self.opened = None
        self.decided_by = set()
        result: Result = getattr(self, step.op)(step)
        if result.fatal:
            if step.proc == 0:
                self.alive = False
            else:
                del self.procs[step.proc]
        return result

    def _fire(self, rule: str) -> None:
        self.fired[rule] += 1
        self.decided_by.add(rule)

    def _fail(self, rule: str, errno: str) -> Result:
        self._fire(rule)
        return Result.raised(errno)

    def _pages_of(self, addr: int, length: int) -> range:
        """Return the page indexes ``[addr, addr+length)`` touches, cut one page past the window."""
        size = self.page_size
        first, last = addr // size, -(-(addr + length) // size)
        return range(first, min(last, self.window_pages + 1))

    # --- mmap(2) ---------------------------------------------------------------------------

    def mmap(self, s: steps.Mmap) -> Result:
        """Predict mmap(2).

        mmap(2) ERRORS and Linux's order of checks: an offset that is not a
        multiple of the page size is EINVAL; a file mapping needs an open
        descriptor (EBADF); a zero length is EINVAL; a length no address
        space can hold is ENOMEM ("no memory is available"); with MAP_FIXED
        an address off a page boundary is EINVAL; exactly one of MAP_SHARED
        and MAP_PRIVATE is required (EINVAL); the descriptor must be open
        for reading, and for writing when a MAP_SHARED mapping asks for
        PROT_WRITE (EACCES); PROT_EXEC on a noexec mount is EPERM.  The
        length is rounded up to whole pages.
        """
        size, plat = self.page_size, self.platform
        prot, flags = words(s.prot, "prot"), words(s.flags, "map")
        anonymous = "ANONYMOUS" in flags
        if not self._offset_accepted(s.offset):
            return self._fail(rules.MMAP_ARGUMENTS, "EINVAL")
        handle = None
        if not anonymous:
            handle = self.procs[s.proc].fds.get(s.handle) if s.handle is not None else None
            if handle is None:
                return self._fail(rules.MMAP_FD_ACCESS, "EBADF")
        if s.length == 0:
            return self._fail(rules.MMAP_ARGUMENTS, "EINVAL")
        if s.length >= plat.user_space_bytes:
            return self._fail(rules.MMAP_ARGUMENTS, "ENOMEM")
        fixed = "FIXED" in flags
        if fixed and s.addr is None:
            raise ModelMisuse("MAP_FIXED at NULL is outside the window; give an arena offset")
        if fixed and s.addr % size:
            return self._fail(rules.MMAP_ARGUMENTS, "EINVAL")
        shared, private = "SHARED" in flags, "PRIVATE" in flags
        if shared and private:
            raise ModelMisuse("MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE, which the model "
                              "does not cover; use one of them or neither")
        if not shared and not private:
            return self._fail(rules.MMAP_ARGUMENTS, "EINVAL")
        if handle is not None and (denied := self._fd_denies(handle, prot, shared)):
            return self._fail(rules.MMAP_FD_ACCESS, denied)
        npages = -(-s.length // size)
        template = self._new_pages(s, prot, shared, handle, npages)
        if fixed:
            start = s.addr // size
            if start + npages > self.window_pages:
                raise ModelMisuse(f"{s!r} maps past the window of {self.window_pages} pages")
            return self._map_fixed(s.proc, start, template)
        return self._map_hint(s, template)

    def _offset_accepted(self, offset: int) -> bool:
        """mmap(2) EINVAL: the offset must be a multiple of the page size."""
        return offset % self.page_size == 0

    def _fd_denies(self, handle: Handle, prot: frozenset[str], shared: bool) -> str | None:
        """Return the errno mmap(2) gives for a descriptor whose mode forbids the request.

        mmap(2) EACCES: a file mapping needs a descriptor open for reading,
        and MAP_SHARED with PROT_WRITE needs it open for writing too; EPERM:
        PROT_EXEC of a file on a noexec file system.
        """
        if shared and "WRITE" in prot and not handle.writable:
            return "EACCES"
        if not handle.readable:
            return "EACCES"
        if "EXEC" in prot and handle.obj.kind in self.platform.noexec:
            return "EPERM"
        return None

    def _new_pages(self, s: steps.Mmap, prot: frozenset[str], shared: bool,
                   handle: Handle | None, npages: int) -> list[Page]:
        """Return the pages a successful mmap creates, in order."""
        if handle is None and shared:
            # mmap(2) MAP_ANONYMOUS with MAP_SHARED: one zero-filled object that
            # every piece of the mapping (and every forked copy) shares.
            obj = self._new_object("anon", f"shared anonymous mapping #{len(self.objects)}")
            obj.size = npages * self.page_size
            obj.cache = bytearray(obj.size)
            return [Page(prot, True, obj, i) for i in range(npages)]
        if handle is None:
            return [Page(prot, False, None) for _ in range(npages)]
        first = s.offset // self.page_size
        may_write = not shared or handle.writable
        may_exec = handle.obj.kind not in self.platform.noexec
        return [Page(prot, shared, handle.obj, first + i, may_write=may_write, may_exec=may_exec)
                for i in range(npages)]

    def _map_fixed(self, proc: int, start: int, template: list[Page]) -> Result:
        """mmap(2) MAP_FIXED: place the mapping exactly at ``addr``.

        Any pages already mapped in the range are discarded first, as if
        unmapped; the call returns ``addr``.
        """
        self._fire(rules.MMAP_FIXED)
        return self._place(proc, start, template)

    def _map_hint(self, s: steps.Mmap, template: list[Page]) -> Result:
        """mmap(2) without MAP_FIXED: ``addr`` is only a hint.

        On Linux the hint is moved down to a page boundary and taken when
        nothing is mapped there; otherwise (and for NULL) the kernel picks
        a free range of its choosing, which the model learns from the
        result (:meth:`settle`).
        """
        self._fire(rules.MMAP_HINT)
        if s.addr is not None:
            start = s.addr // self.page_size
            pages = self.procs[s.proc].pages
            if start + len(template) <= self.window_pages and not any(
                    start + i in pages for i in range(len(template))):
                return self._place(s.proc, start, template)
        self.pending = (s.proc, template)
        return Result.returned(UNSPECIFIED)

    def _place(self, proc: int, start: int, template: list[Page]) -> Result:
        """Put ``template`` at page ``start`` of ``proc`` and return its address."""
        pages = self.procs[proc].pages
        for i, page in enumerate(template):
            pages[start + i] = page
        return Result.returned(start * self.page_size)

    def settle(self, value: int) -> list[MapsView] | str:
        """Learn where the kernel put the last mapping placed at its choice.

        Return the expected maps view of its pages when it lies outside the
        window (the session checks those once; later steps never reach
        them), an empty list when it lies in the window, or a message when
        the address breaks mmap(2): not page aligned, or over pages that
        were mapped.
        """
        if self.pending is None:
            raise ModelMisuse("settle() without a pending mmap")
        proc, template = self.pending
        self.pending = None
        size = self.page_size
        if value % size:
            return f"mmap returned {value:#x} from the arena base, not on a page boundary"
        start, end = value // size, value // size + len(template)
        if end <= 0 or start >= self.window_pages:
            self.outside += 1
            return [self._maps_entry(page) for page in template]
        pages = self.procs[proc].pages
        if start < 0 or end > self.window_pages:
            return f"mmap placed pages {start}..{end - 1} across the edge of the checked window"
        if taken := [p for p in range(start, end) if p in pages]:
            return f"mmap without MAP_FIXED placed its pages over mapped pages {taken}"
        self._place(proc, start, template)
        return []

    # --- munmap(2), mprotect(2), msync(2) --------------------------------------------------

    def munmap(self, s: steps.Munmap) -> Result:
        """Predict munmap(2).

        munmap(2): ``addr`` must be a multiple of the page size and the
        length non-zero and inside the address space, else EINVAL; every
        page that holds any part of the range is unmapped, whatever mapping
        it belonged to, and a range with nothing mapped is not an error.
        """
        if not self._munmap_aligned(s.addr):
            return self._fail(rules.MUNMAP, "EINVAL")
        if s.length == 0 or s.length >= self.platform.user_space_bytes:
            return self._fail(rules.MUNMAP, "EINVAL")
        self._fire(rules.MUNMAP)
        pages = self.procs[s.proc].pages
        start = s.addr - s.addr % self.page_size
        for p in self._pages_of(start, s.length + s.addr - start):
            pages.pop(p, None)
        return Result.returned(None)

    def _munmap_aligned(self, addr: int) -> bool:
        """munmap(2) EINVAL: the address must be page aligned."""
        return addr % self.page_size == 0

    def mprotect(self, s: steps.Mprotect) -> Result:
        """Predict mprotect(2).

        mprotect(2): EINVAL for an address off a page boundary or an
        undefined protection bit (checked by Linux only when the length is
        not zero: a zero length succeeds at once); ENOMEM when a page of the
        range is not mapped; EACCES when the mapping's descriptor does not
        allow the protection (PROT_WRITE on a MAP_SHARED mapping of a
        descriptor opened read-only).  Linux changes the pages in order and
        stops at the first page it cannot change, so the pages before a hole
        or a refused mapping keep their new protection.
        """
        prot = words(s.prot, "prot")
        if s.addr % self.page_size:
            return self._fail(rules.MPROTECT, "EINVAL")
        if s.length == 0:
            self._fire(rules.MPROTECT)
            return Result.returned(None)
        if any(w.startswith("0x") for w in prot):
            return self._fail(rules.MPROTECT, "EINVAL")
        return self._protect_pages(s.proc, self._pages_of(s.addr, s.length), prot)

    def _protect_pages(self, proc: int, span: range, prot: frozenset[str]) -> Result:
        pages = self.procs[proc].pages
        for p in span:
            page = pages.get(p) if p < self.window_pages else None
            if page is None:
                return self._fail(rules.MPROTECT, "ENOMEM")
            if ("WRITE" in prot and not page.may_write) or ("EXEC" in prot and not page.may_exec):
                return self._fail(rules.MPROTECT, "EACCES")
            page.prot = prot
        self._fire(rules.MPROTECT)
        return Result.returned(None)

    def msync(self, s: steps.Msync) -> Result:
        """Predict msync(2).

        msync(2): EINVAL for an undefined flag bit, an address off a page
        boundary, or MS_ASYNC together with MS_SYNC; ENOMEM when any page of
        the (rounded up) range is not mapped; a zero length succeeds.
        Flags 0 are accepted by Linux.  On Linux the page cache is the
        file's one copy, so msync changes nothing the model can see.
        """
        flags = words(s.flags, "ms")
        if any(w.startswith("0x") for w in flags) or s.addr % self.page_size:
            return self._fail(rules.MSYNC, "EINVAL")
        if {"ASYNC", "SYNC"} <= flags:
            return self._fail(rules.MSYNC, "EINVAL")
        if s.length == 0:
            self._fire(rules.MSYNC)
            return Result.returned(None)
        if self._msync_hole(s):
            return self._fail(rules.MSYNC, "ENOMEM")
        self._fire(rules.MSYNC)
        return Result.returned(None)

    def _msync_hole(self, s: steps.Msync) -> bool:
        """msync(2) ENOMEM: whether a page of the range is not mapped."""
        pages = self.procs[s.proc].pages
        return any(p >= self.window_pages or p not in pages
                   for p in self._pages_of(s.addr, s.length))

    # --- loads and stores ------------------------------------------------------------------

    def _readable(self, prot: frozenset[str]) -> bool:
        """mmap(2) NOTES: whether a page with ``prot`` can be read on this architecture."""
        plat = self.platform
        return ("READ" in prot or ("WRITE" in prot and plat.write_implies_read)
                or ("EXEC" in prot and plat.exec_implies_read))

    def _segv(self, s: steps.Load | steps.Store, page: Page | None, write: bool) -> Result | None:
        """Return the SIGSEGV an access draws, or None when the mapping allows it.

        mmap(2)/signal(7): an address no mapping covers is SEGV_MAPERR; a
        mapped page whose protection forbids the access is SEGV_ACCERR.
        """
        if page is None:
            self._fire(rules.UNMAPPED)
            return Result.signalled("SIGSEGV", "SEGV_MAPERR", s.addr)
        allowed = "WRITE" in page.prot if write else self._readable(page.prot)
        if not allowed:
            self._fire(rules.PROTECTION)
            code = "SEGV_ACCERR"
            if not write and page.prot == frozenset({"EXEC"}):
                code = self.platform.exec_only_si_code
            return Result.signalled("SIGSEGV", code, s.addr)
        return None

    def _past_eof(self, page: Page) -> bool:
        """mmap(2) SIGBUS: whether the page lies wholly past the end of its file.

        Private copies of such pages do not survive either: Linux discards
        them when the file shrinks (see :meth:`_shrink`).
        """
        obj = page.obj
        return (page.copy is None and obj is not None and obj.kind != "anon"
                and page.pgoff * self.page_size >= len(obj.cache))

    def _sigbus(self, s: steps.Load | steps.Store) -> Result:
        self._fire(rules.PAST_EOF)
        return Result.signalled("SIGBUS", "BUS_ADRERR", s.addr)

    def _view(self, page: Page) -> tuple[bytes | bytearray | memoryview, int | None]:
        """Return the bytes a mapped page shows and where its unspecified bytes start."""
        if page.copy is not None:
            return page.copy, page.unknown_from
        obj = page.obj
        if obj is None:
            return self._zero, None
        start = page.pgoff * self.page_size
        view = memoryview(obj.cache)[start:start + self.page_size]
        unknown = None
        if obj.tail_unknown and start <= obj.size < start + self.page_size:
            unknown = obj.size - start
        return view, unknown

    def load(self, s: steps.Load) -> Result:
        """Predict a one-byte read at ``addr``.

        Faults as in :meth:`_segv` and :meth:`_past_eof`; otherwise the byte
        the page shows: zero for anonymous memory never written (mmap(2)
        MAP_ANONYMOUS), the page's own copy once a private page was written,
        else the object's bytes, where the rest of the last page past end of
        file reads as zero (mmap(2): the partial page is zeroed when mapped)
        until a store puts something there.
        """
        page = self.procs[s.proc].pages.get(s.addr // self.page_size)
        if fault := self._segv(s, page, write=False):
            return fault
        assert page is not None
        if self._past_eof(page):
            return self._sigbus(s)
        offset = s.addr % self.page_size
        view, unknown = self._view(page)
        self._fire_view(page, offset)
        if unknown is not None and offset >= unknown:
            return Result.returned(UNSPECIFIED)
        return Result.returned(view[offset])

    def _fire_view(self, page: Page, offset: int) -> None:
        if page.obj is None and page.copy is None:
            self._fire(rules.ANON_ZERO)
        elif page.obj is not None and page.copy is None and not page.shared:
            self._fire(rules.PRIVATE_VIEW)
        elif page.obj is not None and page.obj.kind != "anon" and page.copy is None \
                and page.pgoff * self.page_size + offset >= page.obj.size:
            self._fire(rules.TAIL)

    def store(self, s: steps.Store) -> Result:
        """Predict a one-byte write at ``addr``.

        Faults as for a load (with PROT_WRITE required).  mmap(2): a store
        to a MAP_SHARED page changes the object, so the file and every
        other shared mapping see it; a store to a MAP_PRIVATE page first
        gives the process its own copy of the page (copy-on-write) and the
        file never sees it.
        """
        proc = self.procs[s.proc]
        page = proc.pages.get(s.addr // self.page_size)
        if fault := self._segv(s, page, write=True):
            return fault
        assert page is not None
        if self._past_eof(page):
            return self._sigbus(s)
        if len(self.procs) > 1:
            self._fire(rules.FORK_SHARED if page.shared else rules.FORK_PRIVATE)
        offset = s.addr % self.page_size
        if page.copy is not None:
            page.copy[offset] = s.value
            self._fire(rules.PRIVATE_COW if page.obj is not None else rules.ANON_ZERO)
        elif page.obj is None:
            page.copy = bytearray(self.page_size)
            page.copy[offset] = s.value
            self._fire(rules.ANON_ZERO)
        elif page.shared:
            self._store_shared(page.obj, page.pgoff * self.page_size + offset, s.value)
        else:
            self._store_private(page, offset, s.value)
        return Result.returned(None)

    def _store_shared(self, obj: Obj, index: int, value: int) -> None:
        """Store through a shared mapping into the object's bytes.

        mmap(2): past end of file, in the last page, the store lands in the
        page but is never written to the file; a file system that writes the
        page back zeroes those bytes then, so they become unspecified.
        """
        obj.cache[index] = value
        if obj.kind == "anon":
            self._fire(rules.SHARED_ANON)
        elif index >= obj.size:
            self._fire(rules.TAIL)
            obj.tail_unknown = obj.tail_unknown or obj.writeback
        else:
            self._fire(rules.SHARED_STORE)

    def _store_private(self, page: Page, offset: int, value: int) -> None:
        """Copy a private file page on its first write, then store into the copy."""
        view, unknown = self._view(page)
        page.copy = bytearray(view)
        page.unknown_from = unknown
        page.copy[offset] = value
        self._fire(rules.PRIVATE_COW)

    # --- the objects: ftruncate(2), pwrite(2) ----------------------------------------------

    def _handle(self, proc: int, handle: int | None) -> Handle | None:
        return self.procs[proc].fds.get(handle) if handle is not None else None

    def ftruncate(self, s: steps.Ftruncate) -> Result:
        """Predict ftruncate(2).

        ftruncate(2): a negative length is EINVAL (Linux checks it first);
        a closed descriptor is EBADF; one not open for writing is EINVAL
        (the page allows EBADF or EINVAL; Linux gives EINVAL).  A longer
        file reads as zeros in its new part; a shorter one loses the bytes
        past its new end.
        """
        if s.length < 0:
            return self._fail(rules.FTRUNCATE_FD, "EINVAL")
        handle = self._handle(s.proc, s.handle)
        if handle is None:
            return self._fail(rules.FTRUNCATE_FD, "EBADF")
        if not handle.writable:
            return self._fail(rules.FTRUNCATE_FD, "EINVAL")
        if s.length > handle.obj.size:
            self._grow(handle.obj, s.length)
        else:
            self._shrink(handle.obj, s.length)
        return Result.returned(None)

    def _grow(self, obj: Obj, new_size: int) -> None:
        """Extend an object to ``new_size`` bytes.

        ftruncate(2) and pwrite(2)/POSIX write(): the extended part reads as
        zero bytes.  Past the new end, the last page keeps what it showed.
        """
        self._fire(rules.EXTEND)
        size = self.page_size
        old_end = -(-obj.size // size) * size
        if new_size <= old_end:
            obj.cache[obj.size:new_size] = bytes(new_size - obj.size)
        else:
            obj.cache[obj.size:old_end] = bytes(old_end - obj.size)
            obj.cache.extend(bytes(-(-new_size // size) * size - old_end))
            obj.tail_unknown = False
        obj.size = new_size

    def _shrink(self, obj: Obj, new_size: int) -> None:
        """Cut an object to ``new_size`` bytes (also when the size does not change).

        ftruncate(2): bytes past the new end are lost, and pages wholly past
        it raise SIGBUS again (mmap(2)).  Linux zeroes the rest of the new
        last page, and discards the private copies of the pages it removes
        in every process that maps the file, so those raise SIGBUS too.
        """
        self._fire(rules.SHRINK)
        size = self.page_size
        end = -(-new_size // size) * size
        del obj.cache[end:]
        obj.cache[new_size:end] = bytes(end - new_size)
        obj.size = new_size
        obj.tail_unknown = False
        for proc in self.procs.values():
            for page in proc.pages.values():
                if page.obj is obj and page.copy is not None and page.pgoff * size >= end:
                    page.copy, page.unknown_from = None, None

    def pwrite(self, s: steps.Pwrite) -> Result:
        """Predict pwrite(2).

        pwrite(2)/write(2): EBADF unless the descriptor is open for writing;
        a zero count writes nothing and returns 0; otherwise the bytes land
        at ``offset``, extending the file (a gap reads as zeros), and the
        call returns the count.  Linux has one page cache per file, so
        shared mappings, and private pages not yet written, see the new
        bytes at once.
        """
        handle = self._handle(s.proc, s.handle)
        if handle is None or not handle.writable:
            return self._fail(rules.PWRITE, "EBADF")
        self._fire(rules.PWRITE)
        if s.length == 0:
            return Result.returned(0)
        obj, end = handle.obj, s.offset + s.length
        if end > obj.size:
            self._grow(obj, end)
        obj.cache[s.offset:end] = bytes([s.value]) * s.length
        return Result.returned(s.length)

    # --- processes -------------------------------------------------------------------------

    def fork(self, s: steps.Fork) -> Result:
        """Predict fork(2) by the executor.

        fork(2): the child gets copies of the parent's mappings with the
        same protections and contents and copies of its descriptors;
        MAP_PRIVATE pages are copied on write from then on (each process's
        writes stay its own) and MAP_SHARED pages stay shared.
        """
        if 1 in self.procs or s.proc != 0:
            raise ModelMisuse("the model has one child at most, forked by the executor")
        self._fire(rules.FORK_INHERITS)
        parent = self.procs[0]
        self.procs[1] = Proc(pages={p: page.clone() for p, page in parent.pages.items()},
                             fds=dict(parent.fds))
        return Result.returned(None)

    def exit(self, s: steps.Exit) -> Result:
        """The child exits: its mappings and descriptors go away (exit(2))."""
        if s.proc not in self.procs or s.proc == 0:
            raise ModelMisuse("Exit() ends the child; there is none")
        del self.procs[s.proc]
        return Result.returned(None)

    # --- names and descriptors -------------------------------------------------------------

    def _new_object(self, kind: str, label: str) -> Obj:
        oid = f"o{len(self.objects)}"
        obj = Obj(oid, kind, label, writeback=kind in self.platform.writeback)
        self.objects[oid] = obj
        return obj

    def _open(self, proc: int, obj: Obj, created: bool, readable: bool, writable: bool) -> Result:
        handle = self.next_handle
        self.next_handle += 1
        self.procs[proc].fds[handle] = Handle(obj, readable, writable)
        self.opened = (obj.oid, created)
        return Result.returned(handle)

    def shm_open(self, s: steps.ShmOpen) -> Result:
        """Predict shm_open(3).

        shm_open(3): with O_CREAT|O_EXCL an existing name is EEXIST; without
        O_CREAT a missing name is ENOENT; O_CREAT makes a new object of size
        zero.  The descriptor is open read-only (O_RDONLY) or read-write
        (O_RDWR).
        """
        flags = words(s.flags, "open")
        linked = self.shm_names.get(s.name)
        if linked is not None and {"CREAT", "EXCL"} <= flags:
            return self._fail(rules.SHM_OPEN, "EEXIST")
        if linked is None and "CREAT" not in flags:
            return self._fail(rules.SHM_OPEN, "ENOENT")
        self._fire(rules.SHM_OPEN)
        obj = linked
        if obj is None:
            obj = self._new_object("shm", f"shm {s.name!r}")
            self.shm_names[s.name] = obj
        return self._open(s.proc, obj, linked is None, True, "RDWR" in flags)

    def shm_unlink(self, s: steps.ShmUnlink) -> Result:
        """Predict shm_unlink(3).

        shm_unlink(3): ENOENT for a name that does not exist; otherwise the
        name goes, while descriptors and mappings keep the object and its
        bytes until the last of them goes.
        """
        if s.name not in self.shm_names:
            return self._fail(rules.SHM_UNLINK, "ENOENT")
        self._fire(rules.SHM_UNLINK)
        del self.shm_names[s.name]
        return Result.returned(None)

    def open(self, s: steps.Open) -> Result:
        """Predict open(2) of a regular file in the run's directory.

        open(2): without O_CREAT a missing file is ENOENT; with it, a new
        empty file.  O_RDONLY, O_WRONLY and O_RDWR set what the descriptor
        may do.
        """
        flags = words(s.flags, "open")
        existing = self.file_names.get(s.name)
        if existing is None and "CREAT" not in flags:
            return self._fail(rules.OPEN, "ENOENT")
        self._fire(rules.OPEN)
        obj = existing
        if obj is None:
            obj = self._new_object("file", f"file {s.name!r}")
            self.file_names[s.name] = obj
        return self._open(s.proc, obj, existing is None, "WRONLY" not in flags,
                          "RDONLY" not in flags)

    def close(self, s: steps.Close) -> Result:
        """Predict close(2).

        close(2): EBADF for a descriptor that is not open.  mmap(2): closing
        the descriptor does not unmap the region.
        """
        fds = self.procs[s.proc].fds
        if s.handle not in fds:
            return self._fail(rules.CLOSE, "EBADF")
        self._fire(rules.CLOSE)
        self._closed(s.proc, fds.pop(s.handle))
        return Result.returned(None)

    def _closed(self, proc: int, handle: Handle) -> None:
        """What closing does to the mappings: nothing (mmap(2))."""

    # --- what the invariants compare -------------------------------------------------------

    def _maps_entry(self, page: Page) -> MapsView:
        prot = page.prot
        perms = ("r" if "READ" in prot else "-") + ("w" if "WRITE" in prot else "-") \
            + ("x" if "EXEC" in prot else "-") + ("s" if page.shared else "p")
        if page.obj is None:
            return perms, 0, None
        return perms, page.pgoff * self.page_size, page.obj.oid

    def maps_view(self, proc: int) -> dict[int, MapsView]:
        """Return, per mapped page of the window, what /proc/self/maps should say of it."""
        return {p: self._maps_entry(page) for p, page in self.procs[proc].pages.items()}

    def content(self, proc: int, p: int) -> bytes | bytearray | memoryview | None:
        """Return the bytes page ``p`` shows, or None when reading it is not checkable.

        None for an unmapped or unreadable page, a page past end of file
        (reading it would raise SIGBUS) and a page holding unspecified bytes.
        """
        page = self.procs[proc].pages.get(p)
        if page is None or not self._readable(page.prot) or self._past_eof(page):
            return None
        view, unknown = self._view(page)
        return None if unknown is not None else view

    def page_digests(self, proc: int) -> dict[int, int]:
        """Return the CRC-32 of every checkable page of ``proc``."""
        found = {}
        for p in self.procs[proc].pages:
            view = self.content(proc, p)
            if view is not None:
                found[p] = zlib.crc32(view)
        return found

    def file_digests(self) -> dict[str, tuple[int, int]]:
        """Return ``(size, CRC-32 of the bytes)`` of every file and shm object."""
        return {oid: (obj.size, zlib.crc32(memoryview(obj.cache)[:obj.size]))
                for oid, obj in self.objects.items() if obj.kind != "anon"}
