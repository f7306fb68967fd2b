"""``Channel``: a many-producer, many-consumer message channel over a shared mapping.

Delivery guarantees
-------------------
* A committed message (its ``send`` returned, or its position store was made)
  is delivered exactly once, to one receiver; the messages of one producer
  handle arrive in the order it sent them.
* A message whose ``send`` was killed may be absent; it is never torn: a
  message becomes visible in one release store of ``HEAD`` after all its
  bytes are in the ring (``helpers.ipc.atomic`` states every ordering edge).
* A message whose ``recv`` was killed may be delivered again, at most once
  per kill: ``TAIL`` moves only after the copy.
* An exception raised from a signal handler (``KeyboardInterrupt``, a timer)
  delays one call and nothing else: a side is never left locked
  (``helpers.ipc.locks``), and a message that ``recv`` had already consumed
  when the exception came is kept by the handle and returned by its next
  receive call.  A ``send`` interrupted after its commit point has sent.
* A peer that died inside a side is recovered by the next peer that waits
  for it within milliseconds, through the kernel's liveness lock of its slot
  (``helpers.ipc.liveness``); this works across PID namespaces.

How the sides stay out of each other's way
------------------------------------------
The ring has one producer side (``HEAD``) and one consumer side (``TAIL``).
A handle enters a side with one compare-and-swap of the side's lock word
from 0 to its token and leaves with one back; blocked callers sleep on the
word's futex.  ``send`` and ``recv`` of one message take the lock, move the
bytes and the position, and leave, in one pass with no other call.

A handle is not thread-safe and not re-entrant (do not use it from a signal
handler that may interrupt it): use one handle per thread.  After ``fork``
the child's handles are fresh peers (they claim their own slot on first
use); the parent's handle is untouched.
"""

from __future__ import annotations

import mmap
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from helpers.ipc import arguments, atomic, codec, faults, layout, liveness, opening, peers, waiting
from helpers.ipc.backends import memfd
from helpers.ipc.errors import ChannelClosed, ChannelError, ChannelTypeError
from helpers.ipc.locks import SideLock
from helpers.ipc.sleeping import FutexSleeper, PollSleeper

_SEND, _RECV, _LIMIT = layout.SEND, layout.RECV, layout.POSITION_LIMIT
_SC, _ACQ, _RLX = atomic.SEQ_CST, atomic.ACQUIRE, atomic.RELAXED
_HDR, _TAG, _MASK, _PAD = codec.HDR, codec.TAG, codec.MASK, codec.PAD
_put, _unpack_from = codec.put, codec.unpack_from


@dataclass(frozen=True)
class Statistics:
    """A snapshot of one channel as seen by one handle (``peers``: live handles, this one too)."""

    capacity: int
    used: int
    head: int
    tail: int
    peers: int
    recoveries: int
    recovery_seconds: tuple[float, ...]


def _plain_timeout(timeout: object) -> bool:
    """Return whether ``timeout`` is a valid number of seconds (the fast paths' check)."""
    return type(timeout) in (int, float) and timeout >= 0  # type: ignore[operator]


_live: weakref.WeakSet[Channel] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for channel in list(_live):
        channel._forget_peer_state()
        channel._pending = None  # the parent's to hand out, not the child's


os.register_at_fork(after_in_child=_after_fork_in_child)


class Channel:
    """A message channel over a shared mapping; made by ``create``, ``attach`` or ``from_fd``.

    ``send`` blocks while the ring is full and ``recv`` while it is empty, each
    up to ``timeout`` seconds (None: no limit, 0: do not block), then raise
    ``Full`` or ``Empty``.  The module docstring states what is delivered and
    when.
    """

    __slots__ = (
        "__weakref__", "_backend", "_cap", "_checksum", "_closed", "_control", "_created",
        "_d", "_doff", "_fast", "_fd", "_geometry", "_head", "_lock_fd", "_locks", "_mm",
        "_mv", "_name", "_pending", "_pid", "_rattn", "_rcas", "_recoveries", "_rhead",
        "_sattn", "_scas", "_sleeper", "_slot", "_stail", "_table", "_tail", "_token",
        "_unlink_identity", "_waketail",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise ChannelTypeError("use Channel.create(), Channel.attach() or Channel.from_fd()")

    # ------------------------------------------------------------------ building

    @classmethod
    def create(cls, name: str, capacity: int, backend: str = "shm", mode: int = 0o600, *,
               max_peers: int = layout.DEFAULT_MAX_PEERS, checksum: bool = False,
               wait: str = "auto") -> Channel:
        """Return a new channel whose ring holds ``capacity`` bytes (rounded up to 16).

        ``name`` is a POSIX shm name (``"/x"``) for ``backend="shm"``, a path
        for ``"file"`` and a label for ``"memfd"``.  The object is created with
        ``O_CREAT|O_EXCL`` (an existing one is ``ChannelExists``) and exactly
        ``mode``, which must let the owner read and write and must not let
        group or others write.  Every byte is allocated now, so a full
        filesystem is a ``ChannelError`` here and never a ``SIGBUS`` later.
        ``checksum=True`` adds a CRC-32 of every payload.  ``wait`` is
        ``"auto"``, ``"futex"`` or ``"poll"`` (the portable fallback).
        """
        made = opening.new(name, capacity, backend, mode, max_peers, checksum, wait)
        try:
            return cls._map(made, created=True)
        except BaseException:
            opening.discard(made.fd, made.impl, made.name)
            raise

    @classmethod
    def attach(cls, name: str, backend: str = "shm", *, wait: str = "auto",
               timeout: float = opening.SETUP_TIMEOUT) -> Channel:
        """Return a handle on the existing channel ``name`` after validating its header.

        The object must belong to this user and not be writable by group or
        others (``ChannelPermissionError``), and its header must describe a
        channel of this layout version whose geometry fits the object exactly
        (``CorruptChannel``).  Nothing is mapped before those checks pass.
        Waiting for a creator or another attacher ends after ``timeout`` s.
        """
        found = opening.named(name, backend, wait, timeout)
        try:
            return cls._map(found, created=False)
        except BaseException:
            os.close(found.fd)
            raise

    @classmethod
    def from_fd(cls, fd: int, *, wait: str = "auto",
                timeout: float = opening.SETUP_TIMEOUT) -> Channel:
        """Return a handle on the memfd channel behind descriptor ``fd`` (which is duplicated).

        This is how a ``memfd`` channel is shared with a process that did not
        inherit it (``SCM_RIGHTS``, ``pass_fds``).  The descriptor must be a
        memfd sealed against shrinking, growing and further sealing, or a
        sender could shrink it under this process (``SIGBUS``).  The caller
        keeps and closes its own ``fd``.
        """
        found = opening.descriptor(fd, wait, timeout)
        try:
            return cls._map(found, created=False)
        except BaseException:
            os.close(found.fd)
            raise

    @classmethod
    def _map(cls, opened: opening.Opened, *, created: bool) -> Channel:
        """Map the object, claim a slot under the setup lock; the caller closes on failure."""
        fd, impl, name, geometry = opened.fd, opened.impl, opened.name, opened.geometry
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        try:
            mm = mmap.mmap(fd, geometry.total_size, flags=flags,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            raise ChannelError(f"cannot map {name!r}: {exc}") from exc
        self = cls.__new__(cls)
        self._mm = mm
        self._fd = fd
        self._lock_fd = -1
        self._backend = impl
        self._name = name
        self._created = created
        self._geometry = geometry
        self._cap = geometry.capacity
        self._doff = geometry.data_offset
        self._checksum = geometry.checksum
        self._closed = False
        self._mv = memoryview(mm)
        self._d = self._mv[geometry.data_offset: geometry.total_size]
        if not hasattr(mmap, "MAP_POPULATE"):
            for offset in range(0, geometry.total_size, mmap.PAGESIZE):
                self._mv[offset]  # read-fault every page now rather than mid-message
        control = self._control = atomic.Control(mm)
        self._head, self._tail = control.head, control.tail
        self._waketail = control.wake_tail
        self._sattn, self._rattn = control.attention
        self._scas, self._rcas = (cell.cas for cell in control.locks)
        self._sleeper = FutexSleeper() if opened.use_futex else PollSleeper()
        self._unlink_identity = None
        if impl is not memfd:
            info = os.fstat(fd)
            self._unlink_identity = (info.st_dev, info.st_ino)
        self._recoveries = []
        self._pending = None
        self._forget_peer_state()
        try:
            self._ensure_peer(opened.deadline, fresh=created)
        except BaseException:
            self._release_mapping()
            raise
        _live.add(self)
        return self

    # ------------------------------------------------------------------ peer state

    def _forget_peer_state(self) -> None:
        """Drop everything that belongs to a process (after fork, or before first use)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # a forked child's copy: its locks stay the parent's
        self._lock_fd = -1
        self._pid = 0
        self._stail = self._rhead = 0
        self._slot = -1
        self._token = 0
        self._fast = False
        self._table = None
        self._locks = ()

    def _ensure_peer(self, deadline: float | None = None, *, fresh: bool = False) -> None:
        """Claim a peer slot for this process if it has none (first use, or after fork)."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        if self._token and self._pid == os.getpid():
            return
        with liveness.signals_deferred():
            self._claim(deadline, fresh=fresh)

    def _claim(self, deadline: float | None, *, fresh: bool) -> None:
        """Write or check the segment and claim a slot (``peers.join``; signals held)."""
        self._forget_peer_state()
        use_futex = isinstance(self._sleeper, FutexSleeper)
        self._lock_fd, table, self._slot, self._token = peers.join(
            self._fd, self._mv, self._control, self._geometry, repr(self._name),
            deadline or opening.setup_deadline(None), fresh=fresh)
        self._table = table
        self._locks = tuple(SideLock(self._control, side, table, use_futex)
                            for side in (_SEND, _RECV))
        self._pid = os.getpid()
        self._refresh_fast()

    def _refresh_fast(self) -> None:
        self._fast = bool(self._token) and not (faults.state.armed or self._closed
                                                or self._checksum)

    # ------------------------------------------------------------------ sending

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send one message (any bytes-like object); block while the ring is full.

        Raises ``Full`` if no room appeared within ``timeout`` seconds,
        ``MessageTooLarge`` if the message can never fit, ``ChannelClosed``
        after ``close()``.  When this returns the message is committed: it will
        be received even if this process dies the next instant.
        """
        if self._fast and type(data) is bytes and (timeout is None or _plain_timeout(timeout)):
            cap = self._cap
            size = (len(data) + _PAD) & _MASK
            token = self._token
            cas = self._scas
            sent = entered = False
            try:
                entered = cas(0, token, _SC) == 0
                if entered:
                    head = self._head.load(_RLX)  # written only under this lock
                    tail = self._stail  # TAIL only grows: an old value is a safe bound
                    if not 0 <= head - tail <= cap - size:
                        tail = self._stail = self._tail.load(_ACQ)  # edge 2: space is free
                    if (0 <= head - tail <= cap - size and head <= _LIMIT
                            and not (head | tail) & 15):
                        _put(self._d, cap, head, data, False)
                        self._head.store(head + size, _SC)  # edge 1 and 5: publish
                        sent = True
            finally:
                cas(token, 0, _SC)  # the first call: nothing can come before the release
            if entered:
                attention = self._sattn.load(_SC)  # edges 4 and 5
                if attention:
                    waiting.attend_send(self, attention)
            if sent:
                return
        waiting.send_batch(self, [data], arguments.deadline(timeout), single=True)

    def send_many(self, items: Iterable[bytes], timeout: float | None = None) -> int:
        """Send every item in order; return how many were sent (all of them).

        Items become visible to receivers in batches, with one position store
        per batch.  On timeout raises ``Full`` whose ``sent`` says how many
        items (a prefix) were delivered; the rest were not.
        """
        if isinstance(items, (bytes, bytearray, memoryview, str)):
            raise ChannelTypeError("send_many takes an iterable of messages, not one message")
        try:
            batch = list(items)
        except TypeError:
            raise ChannelTypeError(
                f"send_many takes an iterable of messages, got {type(items).__name__}"
            ) from None
        return waiting.send_batch(self, batch, arguments.deadline(timeout), single=False)

    # ------------------------------------------------------------------ receiving

    def recv(self, timeout: float | None = None) -> bytes:
        """Return the next message; block while the ring is empty.

        Raises ``Empty`` if nothing arrived within ``timeout`` seconds.  A
        message is consumed when this returns; if this process dies while
        copying it out, the message is delivered again to the next receiver.
        """
        if self._pending is not None:
            taken, self._pending = waiting.take_pending(self, 1, None)
            return taken[0]
        spun = False
        if self._fast and (timeout is None or _plain_timeout(timeout)):
            cap = self._cap
            token = self._token
            cas = self._rcas
            for retry in (False, True):  # a second try once a message came while spinning
                data = None
                entered = False
                head = tail = -1
                try:
                    entered = cas(0, token, _SC) == 0
                    if entered:
                        tail = self._tail.load(_RLX)  # written only under this lock
                        head = self._rhead  # HEAD only grows: an old value is a safe bound
                        if not 0 < head - tail <= cap:
                            head = self._rhead = self._head.load(_ACQ)  # edge 1: frames whole
                        if 0 < head - tail <= cap and head <= _LIMIT and not (head | tail) & 15:
                            off = tail % cap
                            pos, n, check = _unpack_from(self._d, off)
                            size = (n + _PAD) & _MASK
                            if (pos == tail and check == n ^ _TAG and off + _HDR + n <= cap
                                    and size <= head - tail):
                                start = self._doff + off + _HDR
                                data = self._pending = self._mm[start:start + n]
                                self._tail.store(tail + size, _SC)  # edge 2 and 5: consume
                finally:
                    cas(token, 0, _SC)  # the first call: nothing can come before the release
                if entered:
                    attention = self._rattn.load(_SC)  # edges 4 and 5
                    if attention:
                        waiting.attend_recv(self, attention, tail)
                if data is not None:
                    self._pending = None  # no call between here and the return
                    return data
                # An empty ring: wait for the producer's next store of HEAD without holding
                # the side; the slow path, told so, sleeps at once if it is still empty.
                if retry or not entered or head != tail or timeout == 0:
                    break
                spun = True
                if not waiting.spin(self._head, tail + 1):
                    break
        got = waiting.recv_batch(self, 1, arguments.deadline(timeout), None, spun=spun)
        self._pending = None  # no call between here and the return
        return got[0]

    def recv_into(self, buffer: bytearray | memoryview, timeout: float | None = None) -> int:
        """Copy the next message into ``buffer``; return its length.

        ``buffer`` must be writable and bytes-like.  If the next message is
        longer than the buffer, ``ChannelValueError`` is raised and the
        message stays in the channel.
        """
        view = arguments.writable(buffer)
        if self._pending is not None:
            taken, self._pending = waiting.take_pending(self, 1, view)
            return taken[0]
        got = waiting.recv_batch(self, 1, arguments.deadline(timeout), view)
        self._pending = None  # no call between here and the return
        return got[0]

    def recv_many(self, max_items: int, timeout: float | None = None) -> list[bytes]:
        """Return between 1 and ``max_items`` messages, waiting only for the first.

        Waits up to ``timeout`` for at least one message (``Empty`` if none),
        then takes those already in the ring without waiting further.
        """
        max_items = arguments.integer(max_items, "max_items", 1, 1 << 30)
        if self._pending is not None:
            taken, self._pending = waiting.take_pending(self, max_items, None)
            return taken
        got = waiting.recv_batch(self, max_items, arguments.deadline(timeout), None)
        self._pending = None  # no call between here and the return
        return got

    # ------------------------------------------------------------------ life cycle

    @property
    def name(self) -> str:
        """Return the name (shm name, path, or memfd label) the channel was opened by."""
        return self._name

    @property
    def capacity(self) -> int:
        """Return the size in bytes of the ring's data area."""
        return self._cap

    @property
    def max_message(self) -> int:
        """Return the largest message, in bytes, that can ever be sent on this channel."""
        return self._cap - _HDR

    @property
    def backend(self) -> str:
        """Return the backend's name: ``"shm"``, ``"file"`` or ``"memfd"``."""
        return self._backend.KIND

    @property
    def closed(self) -> bool:
        """Return whether ``close()`` was called on this handle."""
        return self._closed

    def fileno(self) -> int:
        """Return the descriptor of the backing object (to pass a memfd channel on)."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        return self._fd

    def statistics(self) -> Statistics:
        """Return a snapshot of positions, live peers and this handle's recoveries."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        self._ensure_peer()
        head, tail = self._head.load(_ACQ), self._tail.load(_ACQ)
        return Statistics(
            capacity=self._cap, used=head - tail, head=head, tail=tail,
            peers=self._table.live_peers() + 1, recoveries=len(self._recoveries),
            recovery_seconds=tuple(self._recoveries),
        )

    def close(self) -> None:
        """Give up this handle: its peer slot goes back, the mapping is unmapped.

        Other handles, in this process or others, are not affected, and the
        name stays: ``unlink()`` removes it.  Closing twice does nothing.  A
        message an interrupted receive had consumed and not handed out yet
        (module docstring) is dropped with the handle.
        """
        if self._closed:
            return
        try:
            if self._token and self._pid == os.getpid():
                self._table.release(self._slot)
        finally:
            self._closed = True
            self._forget_peer_state()
            _live.discard(self)
            self._release_mapping()
            os.close(self._fd)

    def _release_mapping(self) -> None:
        self._fast = False
        self._locks = ()
        self._table = None
        self._control.close()
        for view in (self._d, self._mv):
            view.release()
        self._mm.close()

    def unlink(self) -> bool:
        """Remove the channel's name; return whether this call removed it.

        Only the object this handle created or attached is removed: if the
        name now refers to something else, it is left alone.  Processes that
        have the channel open keep using it; only new ``attach`` calls fail.
        A ``memfd`` channel has no name and this does nothing.
        """
        if self._backend is memfd:
            return False
        current = self._backend.stat_name(self._name)
        if current is None or self._unlink_identity is None:
            return False
        if (current.st_dev, current.st_ino) != self._unlink_identity:
            return False
        self._backend.unlink(self._name)
        return True

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close; a handle that created the channel also removes its name."""
        created = self._created
        try:
            self.close()
        finally:
            if created:
                self.unlink()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"capacity={self._cap}"
        return f"<Channel {self._backend.KIND} {self._name!r} {state}>"

    def __reduce__(self) -> object:
        raise ChannelTypeError(
            "a Channel cannot be pickled; attach by name in the other process, or pass "
            "the descriptor of a memfd channel and use Channel.from_fd()"
        )


faults.add_listener(lambda: [channel._refresh_fast() for channel in list(_live)])
