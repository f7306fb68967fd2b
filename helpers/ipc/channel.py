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

import contextlib
import fcntl
import mmap
import os
import stat
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from helpers.ipc import (
    arguments,
    atomic,
    backends,
    codec,
    faults,
    futex,
    layout,
    liveness,
    segment,
)
from helpers.ipc.backends import memfd, storage
from helpers.ipc.errors import (
    ChannelClosed,
    ChannelError,
    ChannelPermissionError,
    ChannelTypeError,
    ChannelValueError,
    CorruptChannel,
    Empty,
    Full,
    MessageTooLarge,
)
from helpers.ipc.locks import SideLock
from helpers.ipc.peers import PeerTable
from helpers.ipc.sleeping import FutexSleeper, PollSleeper

_SEND = 0
_RECV = 1
_SC = atomic.SEQ_CST
_ACQ = atomic.ACQUIRE
_RLX = atomic.RELAXED
_LIMIT = layout.POSITION_LIMIT
_HDR = codec.HDR
_TAG = codec.TAG
_MASK = codec.MASK
_PAD = codec.PAD
_put = codec.put
_unpack_from = codec.unpack_from

#: how long a blocked caller spins (re-reading the other side's position)
#: before it registers as a sleeper: a peer on another core usually makes
#: progress well within this, and a futex round trip costs more.
SPIN = 50e-6
#: producers publish a batch every this many messages so receivers can start.
PUBLISH_EVERY = 32
#: how long attach, from_fd and create wait for the setup lock by default.
SETUP_TIMEOUT = 5.0


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
        "_mv", "_name", "_pending", "_pid", "_rcas", "_recoveries", "_rhead", "_rsleep",
        "_rwait",
        "_scas", "_sleeper", "_slot", "_ssleep", "_stail", "_swait", "_table", "_tail",
        "_token",
        "_unlink_identity", "_waketail",
    )

    def __init__(self) -> None:
        raise TypeError("use Channel.create(), Channel.attach() or Channel.from_fd()")

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
        impl = backends.get(backend)
        name = impl.check_name(name)
        capacity = layout.round_capacity(
            arguments.integer(capacity, "capacity", 1, layout.MAX_CAPACITY)
        )
        capacity = max(capacity, layout.MIN_CAPACITY)
        mode = arguments.integer(mode, "mode", 0, 0o777)
        if mode & 0o600 != 0o600:
            raise ChannelValueError(f"mode {mode:#o} must let the owner read and write (0o600)")
        if mode & 0o022:
            raise ChannelValueError(f"mode {mode:#o} lets group or others write the channel")
        max_peers = arguments.integer(max_peers, "max_peers", 1, layout.MAX_PEERS)
        if not isinstance(checksum, bool):
            raise ChannelTypeError(f"checksum must be a bool, got {type(checksum).__name__}")
        use_futex = cls._check_wait(wait)
        data_offset = layout.data_offset_for(max_peers)
        total = data_offset + capacity
        fd = impl.create(name, mode)
        channel = None
        try:
            storage.allocate(fd, total, f"{impl.KIND} channel {name!r}")
            if impl is memfd:
                memfd.seal(fd)
            geometry = layout.Geometry(
                capacity=capacity, max_peers=max_peers,
                flags=layout.FLAG_CHECKSUM if checksum else 0,
                data_offset=data_offset, total_size=total, owner_uid=os.fstat(fd).st_uid,
                lock_protocol=layout.LOCK_PROTOCOL, created_ns=time.time_ns(),
                creator_pid=os.getpid(), boot_id=segment.boot_id(),
            )
            channel = cls._map(fd, impl, name, geometry, created=True, use_futex=use_futex)
            channel._setup(time.monotonic() + SETUP_TIMEOUT, fresh=True)
            return channel
        except BaseException:
            if channel is not None:
                channel._release_mapping()
            os.close(fd)
            if impl is not memfd:
                with contextlib.suppress(ChannelError):
                    impl.unlink(name)
            raise

    @classmethod
    def attach(cls, name: str, backend: str = "shm", *, wait: str = "auto",
               timeout: float = SETUP_TIMEOUT) -> Channel:
        """Return a handle on the existing channel ``name`` after validating its header.

        The object must belong to this user and not be writable by group or
        others (``ChannelPermissionError``), and its header must describe a
        channel of this layout version whose geometry fits the object exactly
        (``CorruptChannel``).  Nothing is mapped before those checks pass.
        Waiting for a creator or another attacher ends after ``timeout`` s.
        """
        impl = backends.get(backend)
        name = impl.check_name(name)
        use_futex = cls._check_wait(wait)
        deadline = arguments.deadline(timeout) or time.monotonic() + SETUP_TIMEOUT
        fd = impl.open_existing(name)
        try:
            return cls._attach_fd(fd, impl, name, use_futex, deadline)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def from_fd(cls, fd: int, *, wait: str = "auto", timeout: float = SETUP_TIMEOUT) -> Channel:
        """Return a handle on the memfd channel behind descriptor ``fd`` (which is duplicated).

        This is how a ``memfd`` channel is shared with a process that did not
        inherit it (``SCM_RIGHTS``, ``pass_fds``).  The descriptor must be a
        memfd sealed against shrinking, growing and further sealing, or a
        sender could shrink it under this process (``SIGBUS``).  The caller
        keeps and closes its own ``fd``.
        """
        fd = arguments.integer(fd, "fd", 0, 1 << 31)
        use_futex = cls._check_wait(wait)
        deadline = arguments.deadline(timeout) or time.monotonic() + SETUP_TIMEOUT
        try:
            own = os.dup(fd)
        except OSError as exc:
            raise ChannelValueError(f"fd {fd} is not an open descriptor") from exc
        try:
            try:
                seals = memfd.seals(own)
            except OSError:
                seals = 0
            if seals & memfd.SEALS != memfd.SEALS:
                raise ChannelPermissionError(
                    f"fd {fd} is not a memfd sealed against shrink, grow and seal "
                    f"(seals {seals:#x}): its size could change under this process"
                )
            return cls._attach_fd(own, memfd, f"fd:{fd}", use_futex, deadline)
        except BaseException:
            os.close(own)
            raise

    @staticmethod
    def _check_wait(wait: object) -> bool:
        if wait not in ("auto", "futex", "poll"):
            raise ChannelValueError(f"wait must be 'auto', 'futex' or 'poll', got {wait!r}")
        if wait == "futex" and not futex.AVAILABLE:
            raise ChannelError(f"futex waits unavailable: {futex.unavailable_reason()}")
        reason = atomic.unavailable_reason()
        if reason is not None:
            raise ChannelError(f"refusing to run without real atomics: {reason}")
        return wait != "poll" and futex.AVAILABLE

    @classmethod
    def _attach_fd(cls, fd: int, impl: ModuleType, name: str, use_futex: bool,
                   deadline: float) -> Channel:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptChannel(f"{name!r} is not a regular file or shm object")
        if info.st_uid != os.geteuid():
            raise ChannelPermissionError(
                f"{name!r} belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()}); "
                "a channel is only shared between processes of its owner"
            )
        if info.st_mode & 0o022:
            raise ChannelPermissionError(
                f"{name!r} has mode {stat.S_IMODE(info.st_mode):#o}: anyone may write it"
            )
        lock_fd = liveness.open_private(fd)
        try:
            segment.lock_setup(lock_fd, deadline, repr(name))
            geometry = segment.read_geometry(fd, name, info, deadline, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise
        os.close(lock_fd)  # the flock goes with it; _setup takes it again once mapped
        channel = cls._map(fd, impl, name, geometry, created=False, use_futex=use_futex)
        try:
            channel._setup(deadline, fresh=False)
        except BaseException:
            channel._release_mapping()
            raise
        return channel

    @classmethod
    def _map(cls, fd: int, impl: ModuleType, name: str, geometry: layout.Geometry, *,
             created: bool, use_futex: bool) -> Channel:
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
        self._rsleep, self._ssleep = control.recv_sleep, control.send_sleep
        self._waketail = control.wake_tail
        self._swait, self._rwait = control.waiters
        self._scas, self._rcas = (cell.cas for cell in control.locks)
        self._sleeper = FutexSleeper() if use_futex else PollSleeper()
        self._unlink_identity = None
        if impl is not memfd:
            info = os.fstat(fd)
            self._unlink_identity = (info.st_dev, info.st_ino)
        self._recoveries = []
        self._pending = None
        self._forget_peer_state()
        return self

    def _setup(self, deadline: float, *, fresh: bool) -> None:
        """Under the setup lock: write or check the segment, then claim a slot."""
        self._ensure_peer(deadline, fresh=fresh)
        _live.add(self)

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
        self._forget_peer_state()
        use_futex = isinstance(self._sleeper, FutexSleeper)
        lock_fd = liveness.open_private(self._fd)
        try:
            segment.lock_setup(lock_fd, deadline or time.monotonic() + SETUP_TIMEOUT,
                               repr(self._name))
            if fresh:
                segment.initialise(self._mv, self._geometry)
            else:
                segment.validate(self._control, self._geometry, lock_fd)
            table = PeerTable(self._control, lock_fd, self._geometry.max_peers)
            self._slot, self._token = table.claim()
        except BaseException:
            os.close(lock_fd)
            raise
        with contextlib.suppress(OSError):
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
        self._lock_fd = lock_fd
        self._table = table
        self._locks = tuple(SideLock(self._control, side, table, use_futex)
                            for side in (_SEND, _RECV))
        self._pid = os.getpid()
        self._refresh_fast()

    def _refresh_fast(self) -> None:
        self._fast = bool(self._token) and not (faults.state.armed or self._closed
                                                or self._checksum)

    def _positions(self) -> tuple[int, int]:
        """Return (HEAD, TAIL) after checking they describe a possible ring state."""
        head, tail = self._head.load(_ACQ), self._tail.load(_ACQ)
        problem = layout.check_positions(head, tail, self._cap)
        if problem:
            raise CorruptChannel(problem)
        return head, tail

    def _entered(self, side: int, deadline: float | None) -> bool:
        """Enter ``side`` (inside the caller's try); False if ``deadline`` passed first."""
        outcome = self._locks[side].acquire(self._token, deadline)
        if outcome is None:
            return True
        if outcome < 0:
            return False
        # The holder died inside the side.  Positions only move by one store after
        # the work, so there is nothing to undo; it may have died between publishing
        # and waking the sleepers, so wake them.
        self._recoveries.append(outcome)
        self._sleeper.wake(self._control.data_futex)
        self._sleeper.wake(self._control.space_futex)
        return True

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
            sent = False
            try:
                if cas(0, token, _SC) == 0:
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
                if cas(token, 0, _SC) == token and self._swait.load(_SC):
                    self._locks[_SEND].wake()
            if sent:
                if self._rsleep.load(_SC):
                    self._wake(self._rsleep, self._control.data_futex)
                return
        self._send_batch([data], arguments.deadline(timeout), single=True)

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
        return self._send_batch(batch, arguments.deadline(timeout), single=False)

    def _wake(self, flag: object, futex_cell: object) -> None:
        flag.store(0, _SC)  # type: ignore[attr-defined]
        self._sleeper.wake(futex_cell)

    def _send_batch(self, items: list, deadline: float | None, single: bool) -> int:
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        cap = self._cap
        payloads = [arguments.payload(item) for item in items]
        for payload in payloads:
            if len(payload) + _HDR > cap:
                raise MessageTooLarge(
                    f"message of {len(payload)} bytes can never fit: this channel takes at "
                    f"most {cap - _HDR} bytes per message (capacity {cap})"
                )
        self._ensure_peer(deadline)
        control = self._control
        token = self._token
        total = len(payloads)
        sent = 0
        spun = False
        while sent < total:
            armed = faults.state.armed
            need = expected = 0
            head = pending = -1
            try:
                if not self._entered(_SEND, deadline):
                    raise self._full(sent, single)
                if armed:
                    faults.hit("send.entered")
                head, tail = self._positions()
                pending = published = head
                while sent < total:
                    payload = payloads[sent]
                    size = codec.size_of(len(payload))
                    if pending + size - tail > cap:
                        tail = self._positions()[1]
                        if pending + size - tail > cap:
                            need = pending + size - cap
                            break
                    _put(self._d, cap, pending, payload, self._checksum, armed)
                    pending += size
                    sent += 1
                    if sent % PUBLISH_EVERY == 0:
                        self._head.store(pending, _SC)
                        published = pending
                        if self._rsleep.load(_SC):
                            self._wake(self._rsleep, control.data_futex)
                if pending != published:
                    self._head.store(pending, _SC)
                    if armed:
                        faults.hit("send.committed")
                if need and spun:
                    expected = control.space_futex.load(_ACQ)
                    waiting = self._waketail.load(_SC)
                    if self._ssleep.load(_SC) and waiting < need:
                        need = waiting
                    self._waketail.store(need, _SC)
                    self._ssleep.store(1, _SC)
            finally:  # the release is the first call: nothing can come before it
                if self._scas(token, 0, _SC) == token and self._swait.load(_SC):
                    self._locks[_SEND].wake()
            if pending != head and self._rsleep.load(_SC):
                self._wake(self._rsleep, control.data_futex)
            if not need:
                continue
            if pending != head:
                spun = False
            if deadline is not None and time.monotonic() >= deadline:
                raise self._full(sent, single)
            if not spun:
                spun = True
                self._spin(self._tail, need)
                continue
            if armed:
                faults.hit("send.sleeping")
            if self._tail.load(_SC) < need and not self._sleeper.sleep(
                    control.space_futex, expected, deadline):
                raise self._full(sent, single)
            spun = (control.space_futex.load(_ACQ) == expected
                    and self._tail.load(_ACQ) < need)
        return sent

    @staticmethod
    def _full(sent: int, single: bool) -> Full:
        what = "message" if single else f"batch ({sent} items sent, the rest not)"
        return Full(f"{what} not sent before the timeout: the ring stayed full", sent)

    @staticmethod
    def _spin(cell: object, target: int) -> None:
        """Re-read ``cell`` until it reaches ``target`` (>=), for at most ``SPIN`` s.

        After a few plain re-reads each round yields the CPU: on a busy
        machine the peer that would make progress may be waiting for this core.
        """
        load = cell.load  # type: ignore[attr-defined]
        stop = time.perf_counter() + SPIN
        rounds = 0
        while load(_ACQ) < target:
            rounds += 1
            if rounds > 32:
                if time.perf_counter() >= stop:
                    return
                os.sched_yield()

    # ------------------------------------------------------------------ receiving

    def recv(self, timeout: float | None = None) -> bytes:
        """Return the next message; block while the ring is empty.

        Raises ``Empty`` if nothing arrived within ``timeout`` seconds.  A
        message is consumed when this returns; if this process dies while
        copying it out, the message is delivered again to the next receiver.
        """
        if self._pending is not None:
            return self._take_pending(1, None)[0]
        if self._fast and (timeout is None or _plain_timeout(timeout)):
            cap = self._cap
            token = self._token
            cas = self._rcas
            data = None
            try:
                if cas(0, token, _SC) == 0:
                    tail = self._tail.load(_RLX)  # written only under this lock
                    head = self._rhead  # HEAD only grows: an old value is a safe bound
                    if not 0 < head - tail <= cap:
                        head = self._rhead = self._head.load(_ACQ)  # edge 1: frames are whole
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
                if cas(token, 0, _SC) == token and self._rwait.load(_SC):
                    self._locks[_RECV].wake()
            if data is not None:
                if self._ssleep.load(_SC) and tail + size >= self._waketail.load(_SC):
                    self._wake(self._ssleep, self._control.space_futex)
                self._pending = None  # no call between here and the return
                return data
        return self._recv_batch(1, arguments.deadline(timeout), None)[0]

    def recv_into(self, buffer: bytearray | memoryview, timeout: float | None = None) -> int:
        """Copy the next message into ``buffer``; return its length.

        ``buffer`` must be writable and bytes-like.  If the next message is
        longer than the buffer, ``ChannelValueError`` is raised and the
        message stays in the channel.
        """
        try:
            view = memoryview(buffer)
        except TypeError:
            raise ChannelTypeError(
                f"recv_into needs a writable bytes-like buffer, got {type(buffer).__name__}"
            ) from None
        if view.readonly:
            raise ChannelTypeError("recv_into needs a writable buffer, this one is read-only")
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        if self._pending is not None:
            return self._take_pending(1, view)[0]
        return self._recv_batch(1, arguments.deadline(timeout), view)[0]

    def recv_many(self, max_items: int, timeout: float | None = None) -> list[bytes]:
        """Return between 1 and ``max_items`` messages, waiting only for the first.

        Waits up to ``timeout`` for at least one message (``Empty`` if none),
        then takes those already in the ring without waiting further.
        """
        max_items = arguments.integer(max_items, "max_items", 1, 1 << 30)
        if self._pending is not None:
            return self._take_pending(max_items, None)
        return self._recv_batch(max_items, arguments.deadline(timeout), None)

    def _take_pending(self, max_items: int, into: memoryview | None) -> list:
        """Hand out messages an interrupted receive had consumed, in order."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        held = self._pending
        items = held if isinstance(held, list) else [held]
        if into is not None:
            if len(items[0]) > len(into):
                raise ChannelValueError(f"next message is {len(items[0])} bytes, the buffer "
                                        f"only {len(into)}; it stays queued")
            into[:len(items[0])] = items[0]
            taken = [len(items[0])]
            count = 1
        else:
            count = min(max_items, len(items))
            taken = items[:count]
        rest = items[count:]
        self._pending = rest or None  # no call between here and the return
        return taken

    def _recv_batch(self, max_items: int, deadline: float | None,
                    into: memoryview | None) -> list:
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        self._ensure_peer(deadline)
        control = self._control
        token = self._token
        spun = False
        while True:
            armed = faults.state.armed
            out: list = []
            expected = 0
            start_tail = -1
            try:
                if not self._entered(_RECV, deadline):
                    raise Empty("no message arrived before the timeout")
                if armed:
                    faults.hit("recv.entered")
                head, tail = self._positions()
                start_tail = tail
                if into is None and not (armed or self._checksum):
                    tail = codec.take_plain(self._d, self._mm, self._doff, self._cap,
                                            tail, head, max_items, out)
                while tail != head and len(out) < max_items:
                    item, size = codec.take(self._d, self._cap, tail, head, self._checksum,
                                            into, armed)
                    out.append(item)
                    tail += size
                if out:
                    self._pending = out if into is None else bytes(into[:out[0]])
                    self._tail.store(tail, _SC)
                    if armed:
                        faults.hit("recv.released")
                elif spun:
                    expected = control.data_futex.load(_ACQ)
                    self._rsleep.store(1, _SC)
            finally:  # the release is the first call: nothing can come before it
                if self._rcas(token, 0, _SC) == token and self._rwait.load(_SC):
                    self._locks[_RECV].wake()
            if out:
                if self._ssleep.load(_SC) and tail >= self._waketail.load(_SC):
                    self._wake(self._ssleep, control.space_futex)
                self._pending = None  # no call between here and the return
                return out
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty("no message arrived before the timeout")
            if not spun:
                spun = True
                self._spin(self._head, start_tail + 1)
                continue
            if armed:
                faults.hit("recv.sleeping")
            if self._head.load(_SC) == start_tail and not self._sleeper.sleep(
                    control.data_futex, expected, deadline):
                raise Empty("no message arrived before the timeout")
            # Spin again only if something happened; after a quiet slice, go back to sleep.
            spun = (control.data_futex.load(_ACQ) == expected
                    and self._head.load(_ACQ) == start_tail)

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
