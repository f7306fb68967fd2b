"""Deliberately wrong models: each changes one rule the way a reader might misread it.

The mutation test runs the fixed tour and the state machine (within its own
budget) with each of them in place of the model, and requires a disagreement
every time, and one that the correct model does not share (its sequence
replays clean against :class:`~helpers.model.space.Model`).  A machine that cannot tell
these from the real rules proves nothing.
"""

from __future__ import annotations

from helpers.model import rules
from helpers.model.results import Result
from helpers.model.space import Model
from helpers.model.state import Handle, Obj, Page


class PrivateWritesReachFile(Model):
    """``MAP_PRIVATE`` stores reach the file, as if the mapping were shared."""

    def _store_private(self, page: Page, offset: int, value: int) -> None:
        assert page.obj is not None
        self._store_shared(page.obj, page.pgoff * self.page_size + offset, value)


class UnalignedOffsetAccepted(Model):
    """mmap accepts a file offset that is not a multiple of the page size (rounding it down)."""

    def _offset_accepted(self, offset: int) -> bool:
        return True


class PastEofReadsZeros(Model):
    """Touching a page wholly past end of file reads zeros (and stores vanish) instead of SIGBUS."""

    def _past_eof(self, page: Page) -> bool:
        return False

    def _view(self, page: Page) -> tuple[bytes | bytearray | memoryview, int | None]:
        obj = page.obj
        if page.copy is None and obj is not None and obj.kind != "anon" \
                and page.pgoff * self.page_size >= len(obj.cache):
            return self._zero, None
        return super()._view(page)

    def _store_shared(self, obj: Obj, index: int, value: int) -> None:
        if index < len(obj.cache):
            super()._store_shared(obj, index, value)

    def _store_private(self, page: Page, offset: int, value: int) -> None:
        view, _ = self._view(page)
        page.copy = bytearray(view)
        page.copy[offset] = value


class UnalignedMunmapSucceeds(Model):
    """munmap of an address off a page boundary succeeds, unmapping from the page it is in."""

    def _munmap_aligned(self, addr: int) -> bool:
        return True


class MprotectAllOrNothing(Model):
    """mprotect changes no page at all when any page of the range is unmapped or refused."""

    def _protect_pages(self, proc: int, span: range, prot: frozenset[str]) -> Result:
        pages = self.procs[proc].pages
        for p in span:
            page = pages.get(p) if p < self.window_pages else None
            if page is None:
                return self._fail(rules.MPROTECT, "ENOMEM")
            if ("WRITE" in prot and not page.may_write) or ("EXEC" in prot and not page.may_exec):
                return self._fail(rules.MPROTECT, "EACCES")
        return super()._protect_pages(proc, span, prot)


class ForkSharesPages(Model):
    """A forked child shares the parent's pages instead of getting copies of private ones."""

    def fork(self, s: object) -> Result:
        self._fire(rules.FORK_INHERITS)
        parent = self.procs[0]
        self.procs[1] = type(parent)(pages=dict(parent.pages), fds=dict(parent.fds))
        return Result.returned(None)


class CloseUnmaps(Model):
    """Closing a descriptor removes the mappings made through it."""

    def _closed(self, proc: int, handle: Handle) -> None:
        pages = self.procs[proc].pages
        for p in [p for p, page in pages.items() if page.obj is handle.obj]:
            del pages[p]


class ShrinkKeepsPages(Model):
    """A file cut short keeps its old pages mapped and readable past the new end."""

    def _shrink(self, obj: Obj, new_size: int) -> None:
        self._fire(rules.SHRINK)
        del obj.cache[max(new_size, len(obj.cache)):]
        obj.cache[new_size:] = bytes(len(obj.cache) - new_size)
        obj.size = new_size


class MsyncIgnoresHoles(Model):
    """msync succeeds over a range with unmapped pages."""

    def _msync_hole(self, s: object) -> bool:
        return False


class TailStoreExtendsFile(Model):
    """A store past end of file in the last page makes the file longer."""

    def _store_shared(self, obj: Obj, index: int, value: int) -> None:
        if obj.kind != "anon" and index >= obj.size:
            obj.size = index + 1
        super()._store_shared(obj, index, value)


class SharedWriteOnReadOnlyFd(Model):
    """MAP_SHARED with PROT_WRITE of a descriptor opened read-only succeeds."""

    def _fd_denies(self, handle: Handle, prot: frozenset[str], shared: bool) -> str | None:
        return super()._fd_denies(handle, prot - {"WRITE"}, shared)


class HintReplacesMappings(Model):
    """Without MAP_FIXED the hint is taken even over pages that are mapped."""

    def _map_hint(self, s: object, template: list[Page]) -> Result:
        addr = getattr(s, "addr", None)
        if addr is not None and addr // self.page_size + len(template) <= self.window_pages:
            self._fire(rules.MMAP_HINT)
            return self._place(getattr(s, "proc", 0), addr // self.page_size, template)
        return super()._map_hint(s, template)  # type: ignore[arg-type]


#: Every mutant, in the order the mutation test reports them.
MUTANTS: tuple[type[Model], ...] = (
    PrivateWritesReachFile,
    UnalignedOffsetAccepted,
    PastEofReadsZeros,
    UnalignedMunmapSucceeds,
    MprotectAllOrNothing,
    ForkSharesPages,
    CloseUnmaps,
    ShrinkKeepsPages,
    MsyncIgnoresHoles,
    TailStoreExtendsFile,
    SharedWriteOnReadOnlyFd,
    HintReplacesMappings,
)
