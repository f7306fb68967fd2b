"""Known places where this platform breaks its own man page.

A deviation is the model with one rule changed to what the platform does,
plus a test of when it can matter and the minimal sequence that shows it.
When a step disagrees with the model, the session replays that step on a
copy of the model taken just before it, changed as each applicable
deviation says; if one of them agrees with the platform, the disagreement is
recorded as a *finding* (counted and reported, with the sequence) and the
run carries on in the platform's state.  The model itself is never weakened:
the strict expected-failure check in the conformance suite replays
:attr:`Deviation.example` against the unchanged model, and turns red the day
the platform follows its man page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from helpers.model import rules, steps
from helpers.model.platform import Platform
from helpers.model.space import Model
from helpers.model.state import Obj


class TailKeptOnGrowth(Model):
    """What tmpfs does: growing a file exposes what mappings stored past its old end.

    ftruncate(2) and write(2) say the extended part reads as zeros; tmpfs
    (POSIX shm objects live there) keeps the bytes that stores through a
    shared mapping left in the rest of the old last page, and they become
    file data.  File systems that write pages back zero those bytes first.
    """

    def _grow(self, obj: Obj, new_size: int) -> None:
        if obj.writeback:
            super()._grow(obj, new_size)
            return
        old_size = obj.size
        old_end = -(-old_size // self.page_size) * self.page_size
        kept = bytes(obj.cache[old_size:min(new_size, old_end)])
        super()._grow(obj, new_size)
        obj.cache[old_size:old_size + len(kept)] = kept


def _grows_dirty_tail(model: Model, step: steps.Step) -> bool:
    """Return whether ``step`` grows an object without writeback whose tail holds stores."""
    if not isinstance(step, steps.Ftruncate | steps.Pwrite):
        return False
    proc = model.procs.get(step.proc)
    handle = proc.fds.get(step.handle) if proc else None
    if handle is None or handle.obj.writeback or not handle.writable:
        return False
    obj = handle.obj
    end = step.length if isinstance(step, steps.Ftruncate) else step.offset + step.length
    return end > obj.size and any(obj.cache[obj.size:])


@dataclass(frozen=True)
class Deviation:
    """A documented rule this platform breaks, with the model of what it does instead."""

    id: str
    entry: str
    summary: str
    variant: type[Model]
    applies: Callable[[Model, steps.Step], bool]
    example: tuple[steps.Step, ...]
    #: Whether :attr:`example` deviates on a platform with these facts: the
    #: deviation belongs to some filesystems, and elsewhere the example follows
    #: the man page (an expected failure there would pass, and turn red).
    shows_on: Callable[[Platform], bool] = lambda platform: True
    #: Where it shows, in words, for the report and the check's reason.
    where: str = "everywhere"

    def finding(self) -> dict[str, object]:
        """Return the deviation as a report finding (the count is added by the session)."""
        from helpers.model.replay import snippet

        return {"id": self.id, "entry": self.entry, "summary": self.summary,
                "replay": snippet(list(self.example)), "count": 0}


TMPFS_TAIL = Deviation(
    id="tmpfs-growth-exposes-tail",
    entry=rules.EXTEND,
    summary="On tmpfs (POSIX shm objects), bytes stored through a MAP_SHARED mapping past end "
            "of file in the last page become file data when the object grows by ftruncate or "
            "pwrite, where ftruncate(2) and write(2) say the new part reads as zeros.",
    variant=TailKeptOnGrowth,
    applies=_grows_dirty_tail,
    example=(
        steps.ShmOpen(name="a", flags="RDWR|CREAT"),
        steps.Ftruncate(handle=0, length=100),
        steps.Mmap(addr=0, length=4096, prot="READ|WRITE", flags="SHARED|FIXED", handle=0),
        steps.Store(addr=200, value=0x2A),
        steps.Ftruncate(handle=0, length=300),
    ),
    # The example grows a POSIX shm object: it deviates only where /dev/shm keeps pages
    # in memory (tmpfs, ramfs); a /dev/shm on a disk filesystem zeroes the tail.
    shows_on=lambda platform: "shm" not in platform.writeback,
    where="where /dev/shm has no writeback (tmpfs, ramfs)",
)

#: The deviations the session knows how to recognise.
KNOWN: tuple[Deviation, ...] = (TMPFS_TAIL,)
