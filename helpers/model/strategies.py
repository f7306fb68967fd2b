"""Hypothesis strategies for steps, biased towards the edges the man pages talk about.

Two kinds.  State-free strategies (``mmaps``, ``ranges``, ``ftruncates``,
...) name pages, handles and names whatever exists, so hypothesis can delete
and simplify steps freely while shrinking; a step on something that does
not exist is itself a case the model predicts (``EBADF``, ``ENOENT``,
``SIGSEGV``).  State-aware ones (``sensible_mmap``, ``sensible_range``,
``sensible_resize``, ``touch``), drawn through ``st.data()``, look at the
model to aim at what exists: an open handle, a mapped page, the page that
holds a file's end.  Sizes cluster round page boundaries and the tail of a
short file; addresses are mostly page aligned, sometimes not.  Ranges that
create or remove mappings stay inside the executor's window.
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helpers.model import steps
from helpers.model.flags import UNDEFINED_MS, UNDEFINED_PROT

#: A length no address space holds: mmap says ENOMEM, munmap EINVAL.
HUGE = 1 << 62

PROTS = ("READ", "READ|WRITE", "READ|WRITE", "WRITE", "NONE", "EXEC", "READ|EXEC",
         "READ|WRITE|EXEC")
SHM_FLAGS = ("RDWR|CREAT", "RDWR|CREAT", "RDWR|CREAT|EXCL", "RDWR", "RDONLY", "RDONLY|CREAT")
OPEN_FLAGS = ("RDWR|CREAT", "RDWR|CREAT", "RDWR", "RDONLY", "WRONLY", "RDONLY|CREAT",
              "WRONLY|CREAT")
MS_FLAGS = ("ASYNC", "SYNC", "INVALIDATE", "ASYNC|INVALIDATE", "SYNC|INVALIDATE", "ASYNC|SYNC",
            "NONE", UNDEFINED_MS)
SHM_NAMES = ("a", "b")
FILE_NAMES = ("x", "y")


class Geometry:
    """The strategies for one page size and window size."""

    def __init__(self, page_size: int, window_pages: int) -> None:
        self.page_size = size = page_size
        self.window_pages = window_pages
        self.procs = st.sampled_from((0, 0, 0, 1))
        self.handles = st.integers(0, 3)
        self.values = st.integers(1, 255)
        self.file_sizes = st.one_of(
            st.sampled_from((0, 1, 100, 300, size - 1, size, size + 100, 2 * size,
                             2 * size + 1, 3 * size, 4 * size + 5)),
            st.integers(0, 4 * size))
        self.file_offsets = st.sampled_from((0, 0, 0, size, 2 * size, 1, size // 2, size + 1,
                                             3 * size))
        self.map_lengths = st.one_of(
            st.sampled_from((size, size, 2 * size, 2 * size, 3 * size, 4 * size, 100, size + 1,
                             0, HUGE)),
            st.integers(1, 4 * size))
        self.range_lengths = st.one_of(
            st.sampled_from((size, 2 * size, 3 * size, 1, size + 1, 5 * size, 0, HUGE)),
            st.integers(1, 6 * size))
        #: Loads and stores anywhere mostly go to the child, whose death ends nothing.
        self.touching_procs = st.sampled_from((1, 1, 0))
        self.in_page = st.one_of(
            st.sampled_from((0, 1, 99, 100, 101, 200, 299, 300, size // 2, size - 1)),
            st.integers(0, size - 1))
        self.deltas = st.sampled_from((0,) * 12 + (1, size // 2))
        #: munmap, mprotect and msync say most about an address off a page boundary.
        self.range_deltas = st.sampled_from((0,) * 6 + (1, size // 2))

    def pages(self) -> st.SearchStrategy[int]:
        """Return page indexes of the window, half of them among the first six.

        Crowding calls into a few pages makes mappings overlap, split and
        replace each other, and makes loads and stores find them.
        """
        return st.one_of(st.integers(0, min(5, self.window_pages - 1)),
                         st.integers(0, self.window_pages - 1))

    def byte_addresses(self) -> st.SearchStrategy[int]:
        """Return arena offsets of single bytes anywhere in the window."""
        return st.builds(lambda p, o: p * self.page_size + o, self.pages(), self.in_page)

    def _clamped(self, page: int, delta: int, length: int) -> tuple[int, int]:
        """Return ``(addr, length)`` moved down so that the range ends inside the window."""
        size, window = self.page_size, self.window_pages
        if length >= HUGE:
            return page * size + delta, length
        npages = -(-(length + delta) // size)
        page = max(0, min(page, window - npages))
        addr = page * size + delta
        return addr, min(length, window * size - addr)

    @st.composite
    def mmaps(draw, self: Geometry) -> steps.Mmap:
        """Return mmap steps: fixed or hinted, file or anonymous, shared or private."""
        anonymous = draw(st.booleans())
        kind = draw(st.sampled_from(("SHARED", "PRIVATE") * 4 + ("",)))
        fixed = draw(st.sampled_from((True, True, True, False)))
        flags = "|".join(w for w in (kind, "ANONYMOUS" if anonymous else "",
                                     "FIXED" if fixed else "") if w)
        addr, length = self._clamped(draw(self.pages()), draw(self.deltas),
                                     draw(self.map_lengths))
        if length == 0 and not draw(st.booleans()):
            length = self.page_size
        hint: int | None = addr
        if not fixed and draw(st.sampled_from((False, False, True))):
            hint = None
        return steps.Mmap(addr=hint, length=length, prot=draw(st.sampled_from(PROTS)),
                          flags=flags or "NONE",
                          handle=None if anonymous else draw(self.handles),
                          offset=draw(st.sampled_from((0,) * 6 + (1,))) if anonymous
                          else draw(self.file_offsets),
                          proc=draw(self.procs))

    @st.composite
    def ranges(draw, self: Geometry, kind: type[steps.Munmap | steps.Mprotect | steps.Msync]
               ) -> steps.Munmap | steps.Mprotect | steps.Msync:
        """Return munmap, mprotect or msync steps over ranges of the window."""
        addr, length = self._clamped(draw(self.pages()), draw(self.range_deltas),
                                     draw(self.range_lengths))
        proc = draw(self.procs)
        if kind is steps.Mprotect:
            prot = draw(st.sampled_from((*PROTS, UNDEFINED_PROT)))
            return steps.Mprotect(addr=addr, length=length, prot=prot, proc=proc)
        if kind is steps.Msync:
            return steps.Msync(addr=addr, length=length, flags=draw(st.sampled_from(MS_FLAGS)),
                               proc=proc)
        return steps.Munmap(addr=addr, length=length, proc=proc)

    def ftruncates(self) -> st.SearchStrategy[steps.Ftruncate]:
        """Return ftruncate steps (rarely with a negative length)."""
        lengths = st.one_of(self.file_sizes, st.just(-1))
        return st.builds(steps.Ftruncate, handle=self.handles, length=lengths, proc=self.procs)

    def pwrites(self) -> st.SearchStrategy[steps.Pwrite]:
        """Return pwrite steps at offsets round the end of file."""
        lengths = st.one_of(st.sampled_from((0, 1, 10, 100, self.page_size, self.page_size + 1)),
                            st.integers(1, 2 * self.page_size))
        return st.builds(steps.Pwrite, handle=self.handles, offset=self.file_sizes,
                         length=lengths, value=self.values, proc=self.procs)

    def loads(self) -> st.SearchStrategy[steps.Load]:
        """Return one-byte loads anywhere in the window."""
        return st.builds(steps.Load, addr=self.byte_addresses(), proc=self.touching_procs)

    def stores(self) -> st.SearchStrategy[steps.Store]:
        """Return one-byte stores anywhere in the window."""
        return st.builds(steps.Store, addr=self.byte_addresses(), value=self.values,
                         proc=self.touching_procs)

    def sensible_mmap(self, data: st.DataObject, proc: int, handles: dict[int, Any]) -> steps.Mmap:
        """Return a mapping likely to succeed: of an open handle, or anonymous.

        The general strategy reaches every error; this one makes sure most
        sequences have mappings to touch, split and protect.  Most are
        MAP_FIXED; some give the address as a hint only.  A file mapping is
        often exactly as long as the file, so that it holds the end of file.
        """
        size = self.page_size
        usable = sorted(h for h, handle in handles.items() if handle.readable)
        anonymous = not usable or data.draw(st.sampled_from((False, False, True)),
                                            label="anonymous")
        kind = data.draw(st.sampled_from(("SHARED", "PRIVATE")), label="kind")
        fixed = "|FIXED" if data.draw(st.sampled_from((True, True, True, False)),
                                      label="fixed") else ""
        handle = None if anonymous else data.draw(st.sampled_from(usable), label="handle")
        offset = 0 if anonymous else data.draw(st.sampled_from((0, 0, size)), label="offset")
        npages = data.draw(st.sampled_from((None, 1, 2, 3)), label="pages")
        if npages is None:  # to the end of the file (one page for anonymous memory)
            end = handles[handle].obj.size if handle is not None else 0
            npages = min(max(-(-(end - offset) // size), 1), 4)
        addr, length = self._clamped(data.draw(self.pages(), label="page"), 0, npages * size)
        prot = data.draw(st.sampled_from(("READ|WRITE", "READ|WRITE", "READ", "WRITE")),
                         label="prot")
        if handle is None:
            return steps.Mmap(addr=addr, length=length, prot=prot,
                              flags=f"{kind}|ANONYMOUS{fixed}", proc=proc)
        if kind == "SHARED" and not handles[handle].writable and data.draw(
                st.booleans(), label="respect the mode"):
            prot = "READ"
        return steps.Mmap(addr=addr, length=length, prot=prot, flags=f"{kind}{fixed}",
                          handle=handle, offset=offset, proc=proc)

    def sensible_range(self, data: st.DataObject, proc: int, pages: dict[int, Any]
                       ) -> steps.Munmap | steps.Mprotect | steps.Msync:
        """Return an munmap, mprotect or msync that starts in or next to what is mapped.

        Ranges begin on a page the steps mapped (or the hole after it) and
        run one to four pages, so that they split mappings, cross holes and
        reach past ends, where these calls partly succeed or fail.
        """
        mapped = sorted(p for p, page in pages.items() if page.prot or page.obj is not None)
        starts = sorted({q for p in mapped for q in (p, p + 1)} & set(range(self.window_pages)))
        page = data.draw(st.sampled_from(starts or [0]), label="first page")
        length = data.draw(st.integers(1, 4), label="pages") * self.page_size
        addr, length = self._clamped(page, data.draw(self.deltas, label="off by"), length)
        kind = data.draw(st.sampled_from(("mprotect", "munmap", "msync")), label="call")
        if kind == "mprotect":
            prot = data.draw(st.sampled_from(PROTS), label="prot")
            return steps.Mprotect(addr=addr, length=length, prot=prot, proc=proc)
        if kind == "msync":
            flags = data.draw(st.sampled_from(MS_FLAGS[:5]), label="flags")
            return steps.Msync(addr=addr, length=length, flags=flags, proc=proc)
        return steps.Munmap(addr=addr, length=length, proc=proc)

    def sensible_resize(self, data: st.DataObject, proc: int, handles: dict[int, Any]
                        ) -> steps.Ftruncate | steps.Pwrite:
        """Return an ftruncate or pwrite of an open handle, round its object's end of file.

        New sizes and write offsets are drawn relative to the current size
        (cut by a page, grown past the page, moved by a byte), which is
        where mapped pages start or stop raising SIGBUS.
        """
        handle = data.draw(st.sampled_from(sorted(handles)), label="handle")
        size, page = handles[handle].obj.size, self.page_size
        around = sorted({max(n, 0) for n in (0, 1, size - page, size - 1, size + 1, size // 2,
                                             size + page, size - size % page, page - 1, page,
                                             2 * page + 100)})
        target = data.draw(st.sampled_from(around), label="size or offset")
        if data.draw(st.booleans(), label="write"):
            length = data.draw(st.sampled_from((1, 100, page)), label="length")
            return steps.Pwrite(handle=handle, offset=target, length=length,
                                value=data.draw(self.values, label="value"), proc=proc)
        return steps.Ftruncate(handle=handle, length=target, proc=proc)

    def touch(self, data: st.DataObject, pages: dict[int, Any]) -> int:
        """Return an arena offset drawn inside one of ``pages`` (index -> model page).

        Two accesses in three go to a page that holds a file's end, at an
        offset round the end of file half of the time: the tail of the last
        page is where the man pages have most to say.
        """
        edges = {p: edge for p, page in pages.items() if (edge := self._edge(page)) is not None}
        if edges and data.draw(st.sampled_from((True, True, False)), label="at an end of file"):
            page = data.draw(st.sampled_from(sorted(edges)), label="page")
            edge = edges[page]
            near = sorted({max(edge - 1, 0), edge, min(edge + 1, self.page_size - 1),
                           self.page_size - 1})
            offset = data.draw(st.one_of(st.sampled_from(near), self.in_page), label="offset")
        else:
            page = data.draw(st.sampled_from(sorted(pages)), label="page")
            offset = data.draw(self.in_page, label="offset in page")
        return page * self.page_size + offset

    def _edge(self, page: Any) -> int | None:
        """Return where end of file falls in a model page, None if it does not fall there."""
        obj = getattr(page, "obj", None)
        if obj is None or obj.kind == "anon":
            return None
        start = page.pgoff * self.page_size
        return obj.size - start if start <= obj.size < start + self.page_size else None

    def shm_opens(self) -> st.SearchStrategy[steps.ShmOpen]:
        """Return shm_open steps on two names."""
        return st.builds(steps.ShmOpen, name=st.sampled_from(SHM_NAMES),
                         flags=st.sampled_from(SHM_FLAGS), proc=self.procs)

    def shm_unlinks(self) -> st.SearchStrategy[steps.ShmUnlink]:
        """Return shm_unlink steps on the same two names."""
        return st.builds(steps.ShmUnlink, name=st.sampled_from(SHM_NAMES), proc=self.procs)

    def opens(self) -> st.SearchStrategy[steps.Open]:
        """Return open steps of two regular files."""
        return st.builds(steps.Open, name=st.sampled_from(FILE_NAMES),
                         flags=st.sampled_from(OPEN_FLAGS), proc=self.procs)

    def closes(self) -> st.SearchStrategy[steps.Close]:
        """Return close steps."""
        return st.builds(steps.Close, handle=self.handles, proc=self.procs)

    def setups(self) -> st.SearchStrategy[list[steps.Step]]:
        """Return a short opening: up to two sized objects, each perhaps mapped, or nothing.

        Most interesting sequences start with an object of some size mapped
        somewhere; this saves the search from finding the open, the
        ftruncate and the mmap each time, and shrinks to nothing when the
        object does not matter.
        """
        modes = st.sampled_from(("RDWR|CREAT",) * 3 + ("RDONLY|CREAT",))
        opening = st.one_of(
            st.builds(lambda name, flags: steps.ShmOpen(name=name, flags=flags),
                      st.sampled_from(SHM_NAMES), modes),
            st.builds(lambda name, flags: steps.Open(name=name, flags=flags),
                      st.sampled_from(FILE_NAMES), modes))
        # A mapping of the whole file (npages None) reaches its last page, where the
        # rules about the end of file apply; two in three openings map their object.
        spec = st.tuples(st.sampled_from(("SHARED", "SHARED", "PRIVATE")), st.integers(0, 5),
                         st.sampled_from((None, None, 1, 2, 3)),
                         st.sampled_from(("READ|WRITE", "READ|WRITE", "READ")))
        mapping = st.one_of(st.none(), spec, spec)
        one = st.tuples(opening, self.file_sizes, mapping)
        return st.lists(one, max_size=2).map(self._opening_steps)

    def _opening_steps(self, objects: list[tuple[steps.Step, int, Any]]) -> list[steps.Step]:
        """Return the steps of an opening, each naming the handle its open gets."""
        flat: list[steps.Step] = []
        for handle, (opening, length, mapping) in enumerate(objects):
            flat += [opening, steps.Ftruncate(handle=handle, length=length)]
            if mapping is not None:
                kind, page, npages, prot = mapping
                if npages is None:
                    npages = min(max(-(-length // self.page_size), 1), 4)
                addr, size = self._clamped(page, 0, npages * self.page_size)
                flat.append(steps.Mmap(addr=addr, length=size, prot=prot, flags=f"{kind}|FIXED",
                                       handle=handle))
        return flat
