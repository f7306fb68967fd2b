"""The one way the channel touches a shared control word: hardware atomics with stated order.

Why a package, and which
------------------------
A ``memoryview`` store of an aligned u64 happens to be one machine store on
the CPUs CPython runs on, but it carries no ordering: on aarch64, POWER or
RISC-V the payload stores of a frame may become visible after the store of
``HEAD`` that publishes it.  Pure Python has no fence and no
compare-and-swap, so the words go through ``atomicshm``: MIT licensed, no
dependencies, one ``cp311-abi3`` wheel per platform (manylinux and
musllinux, x86-64 and aarch64) that serves every CPython from 3.11 on, and
tens of nanoseconds per operation, about what the ``memoryview`` access it
replaces costs.  ``atomics2`` (the maintained fork of ``atomics``) was the other
candidate: its wheels cover the same platforms, but it is GPL-3.0, needs
``cffi`` and goes through dozens of Python calls per operation: measured on
one machine at 15-20 microseconds per load or store against about 50 ns for
``atomicshm``, far more than a whole message may cost here.  ``atomicshm`` refuses to build
where its atomics would be a process-private lock, and holds the mapping
exported while a view is open, so a cell can never point into an unmapped
segment.  Where the package is missing the channel refuses to start
(``ChannelError``) instead of running on plain loads and stores.

Every shared control word is read and written here, through ``Control``;
the self-test ``tests/ipc/test_ipc_atomic.py`` checks that no other module
of the channel casts the mapping to words.  Frame headers and payloads in
the ring are plain bytes: they are published and consumed through ``HEAD``
and ``TAIL`` below.

Ordering edges of the protocol
------------------------------
Each line names the store that releases and the load that acquires it.

1. Publish.  A producer writes a frame's payload and header, then stores
   ``HEAD`` (release).  A consumer loads ``HEAD`` (acquire) before it reads
   any frame below it, so it sees every byte of every published frame.
2. Reuse.  A consumer copies a frame out, then stores ``TAIL`` (release).  A
   producer loads ``TAIL`` (acquire) before it writes into the space below
   it, so it never overwrites bytes a consumer is still copying.
3. Side locks.  Entering a side is a compare-and-swap of its lock word from
   0 to the handle's token (acquire); leaving is a compare-and-swap from the
   token back to 0 (release).  Everything a holder wrote in the side (its
   position store, a frame) is visible to the next holder.  Recovering a
   dead holder's lock is a compare-and-swap from the dead token to one's own
   (acquire): the dead holder's last position store, if it happened, is
   visible; if it did not, the position is the old one and nothing half done
   is ever published (positions move only after the work).
4. Lock waiters.  A waiter adds itself to the side's attention word and then
   retries the lock (both sequentially consistent); the holder releases the
   lock and then loads the attention word (both sequentially consistent).
   Of the two, one sees the other: either the waiter gets the lock or the
   holder sees the waiter and wakes the futex.
5. Sleeping on an empty ring.  A consumer sets ``ASLEEP`` in the send
   attention word and then loads ``HEAD``; a producer stores ``HEAD`` and
   then loads the send attention word; all four are sequentially
   consistent, so at least one side sees the other (the consumer does not
   sleep, or the producer wakes it).  The same holds for a producer waiting
   for room: ``ASLEEP`` in the recv attention word and ``WAKE_TAIL`` against
   ``TAIL``.  One load after each message thus answers both "does anyone
   wait for my lock" and "does anyone sleep for what I just did".
6. Futex counters.  A waker increments the futex word (release) before
   ``FUTEX_WAKE``; the sleeper read the word (acquire) before its positions
   check, and the kernel compares it again before sleeping.
7. Peer slots.  A peer takes its slot's liveness lock in the kernel (OFD
   byte-range lock), then stores its token in the slot (release); a peer that
   judges a lock holder loads the slot (acquire) and asks the kernel whether
   the slot's byte is locked.  Only the slot's live owner ever stores there.

Relaxed loads
-------------
Two loads need no ordering and say so: ``send``'s fast path loads ``HEAD``
and ``recv``'s loads ``TAIL`` relaxed, each inside its own side.  Only a
holder of that side stores the word, and the compare-and-swap that let
this holder in (edge 3) acquired the previous holder's release, so the
value is the latest one whatever the load's own order.  The other side's
position is always loaded with acquire (edges 1 and 2).

Sequentially consistent operations cost the same as acquire/release ones
on x86-64 loads and a few cycles more on stores, far below the Python call
around them, so every cross-variable handshake uses them.
"""

from __future__ import annotations

from helpers.ipc import layout
from helpers.ipc.errors import ChannelError

try:
    import atomicshm
except ImportError as exc:  # pragma: no cover - the dependency is declared
    atomicshm = None
    _MISSING: str | None = f"the atomics package is missing ({exc})"
else:
    _MISSING = None

RELAXED = atomicshm.RELAXED if atomicshm else 0
ACQUIRE = atomicshm.ACQUIRE if atomicshm else 0
RELEASE = atomicshm.RELEASE if atomicshm else 0
SEQ_CST = atomicshm.SEQ_CST if atomicshm else 0


def unavailable_reason() -> str | None:
    """Return why sound shared-memory atomics cannot be had here, or None."""
    return _MISSING


class Control:
    """Atomic cells over the control area of one mapped segment.

    The view keeps the mapping exported while it is open: ``close`` it
    before unmapping.  Attribute names follow ``helpers.ipc.layout``.
    """

    __slots__ = ("_view", "address", "attention", "data_futex", "head", "locks",
                 "space_futex", "tail", "wake_tail")

    def __init__(self, buffer: object) -> None:
        if _MISSING is not None:
            raise ChannelError(f"refusing to run without real atomics: {_MISSING}")
        view = atomicshm.AtomicView(buffer)
        self._view = view
        self.address = view.address
        self.head = view.cell_u64(layout.HEAD)
        self.tail = view.cell_u64(layout.TAIL)
        self.locks = tuple(view.cell_u32(offset) for offset in layout.LOCKS)
        self.attention = tuple(view.cell_u32(offset) for offset in layout.ATTENTION)
        self.wake_tail = view.cell_u64(layout.WAKE_TAIL)
        self.data_futex = view.cell_u32(layout.DATA_FUTEX)
        self.space_futex = view.cell_u32(layout.SPACE_FUTEX)

    def slot(self, index: int) -> object:
        """Return the u64 cell of peer slot ``index`` (the occupant's token)."""
        return self._view.cell_u64(layout.slot_offset(index))

    def word(self, offset: int) -> object:
        """Return the u32 cell at ``offset`` (a lock or futex word)."""
        return self._view.cell_u32(offset)

    def close(self) -> None:
        """Let go of the mapping (every cell of this view stops working)."""
        self._view.close()
