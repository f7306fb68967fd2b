"""``Channel``: a many-producer, many-consumer message channel over a shared mapping.

Delivery guarantees
-------------------
* While no participant crashes, every message whose ``send`` returned is
  received exactly once, by one receiver, and the messages of one producer
  handle are received in the order it sent them.  Messages of different
  producers interleave in no promised order.
* A participant killed at any instant (``SIGKILL`` included) never causes a
  torn or half-written message to be delivered, and never loses a message
  whose ``send`` returned: a message becomes visible in one aligned 8-byte
  store of ``HEAD`` after its bytes are all in the ring.
* A receiver killed while it was copying a message out had not yet advanced
  ``TAIL``: that message is delivered again, to the next receiver.  This is
  the only way a message is ever delivered twice.
* A dead lock holder is recovered at once (robust mutex, ``EOWNERDEAD``); a
  dead fast-path owner is recognised within milliseconds by the next peer
  that needs its side; a peer that died between publishing and waking the
  sleepers delays them by at most one re-check slice (20 ms).

How the sides stay out of each other's way
------------------------------------------
The ring has one producer side (``HEAD``) and one consumer side (``TAIL``);
each side is entered by one handle at a time.  Pure Python has no atomic
read-modify-write, so a side is normally entered by locking a process-shared
robust mutex.  When a handle is the only sender (or the only receiver) of
the channel it takes that side's *bias* instead: it then enters by raising a
busy flag in its own peer slot and checking that it still owns the bias, with
no lock and no system call per message.  A handle that wants the side later
clears the bias, forces a memory barrier on every peer's CPU
(``membarrier``) and waits for the owner's busy flag to drop (or for the
owner to be found dead), so the two never run in the side at once.

A handle is not thread-safe: use one handle per thread, or a lock.  After
``fork`` the child's handles are fresh peers of the channel (they claim their
own slot on first use); the parent's handle is untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import mmap
import os
import stat
import time
import weakref
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from helpers.ipc import arguments, backends, faults, fence, futex, layout, liveness, segment
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
from helpers.ipc.peers import PeerTable
from helpers.ipc.robust_mutex import OWNER_DIED, TIMED_OUT, RobustMutex
from helpers.ipc.sleeping import FutexSleeper, PollSleeper

_SEND = 0
_RECV = 1
_BIASED = 1
_LOCKED = 2
_OWNER = (layout.SEND_OWNER, layout.RECV_OWNER)
_COUNT = (layout.SENDERS, layout.RECEIVERS)
_ROLE = (layout.ROLE_SEND, layout.ROLE_RECV)
_BUSY_FIELD = (layout.SLOT_BUSY_SEND, layout.SLOT_BUSY_RECV)
_SIDE_NAME = ("send", "recv")

_FRAME = layout.FRAME
_HDR = layout.FRAME_HEADER
_TAG = layout.FRAME_TAG
_MASK = -layout.FRAME_ALIGN
_PAD = layout.FRAME_HEADER + layout.FRAME_ALIGN - 1

#: how long a blocked caller spins (re-reading the other side's position)
#: before it registers as a sleeper: a peer on another core usually makes
#: progress well within this, and a futex round trip costs more.
SPIN = 50e-6
#: producers publish a batch every this many messages so receivers can start.
PUBLISH_EVERY = 32
#: locked entries between two scans for dead peers (so a lone survivor regains the bias).
RESCAN_EVERY = 4096

_pack_into = _FRAME.pack_into
_unpack_from = _FRAME.unpack_from
# Word indices bound as globals: the fast paths read them on every message.
_HEAD_W = layout.HEAD
_TAIL_W = layout.TAIL
_SEND_OWNER_W = layout.SEND_OWNER
_RECV_OWNER_W = layout.RECV_OWNER
_RECV_SLEEP_W = layout.RECV_SLEEP
_SEND_SLEEP_W = layout.SEND_SLEEP
_WAKE_TAIL_W = layout.WAKE_TAIL


@dataclass(frozen=True)
class Statistics:
    """A snapshot of one channel as seen by one handle.

    ``*_biased`` say whether this handle holds a side's bias; ``*_owner_slot``
    which peer slot does (-1: none, the side is entered by locking).
    """

    capacity: int
    used: int
    head: int
    tail: int
    senders: int
    receivers: int
    send_biased: bool
    recv_biased: bool
    send_owner_slot: int
    recv_owner_slot: int
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
        "__weakref__",
        "_anchor",
        "_backend",
        "_base",
        "_busy",
        "_cap",
        "_checksum",
        "_closed",
        "_created",
        "_d",
        "_doff",
        "_f32",
        "_fd",
        "_fenced",
        "_geometry",
        "_head",
        "_ident",
        "_locked_entries",
        "_mm",
        "_mutex",
        "_mv",
        "_name",
        "_pid",
        "_rbias",
        "_rbusy",
        "_recoveries",
        "_rfast",
        "_rhead",
        "_roles",
        "_rtail",
        "_sbias",
        "_sbusy",
        "_sfast",
        "_sleeper",
        "_stail",
        "_table",
        "_unlink_identity",
        "_w",
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
        ``mode``; every byte is allocated now, so a full filesystem is a
        ``ChannelError`` here and never a ``SIGBUS`` later.  ``checksum=True``
        adds a CRC-32 of every payload (a cost on every message; the commit
        protocol already prevents torn messages).  ``wait`` is ``"auto"``,
        ``"futex"`` or ``"poll"`` (the portable fallback).
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
        max_peers = arguments.integer(max_peers, "max_peers", 1, layout.MAX_PEERS)
        if not isinstance(checksum, bool):
            raise ChannelTypeError(f"checksum must be a bool, got {type(checksum).__name__}")
        use_futex = cls._check_wait(wait)
        data_offset = layout.data_offset_for(max_peers)
        total = data_offset + capacity
        fd = impl.create(name, mode)
        channel = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # attachers wait until the header is complete
            storage.allocate(fd, total, f"{impl.KIND} channel {name!r}")
            if impl is memfd:
                memfd.seal(fd)
            geometry = layout.Geometry(
                capacity=capacity, max_peers=max_peers,
                flags=layout.FLAG_CHECKSUM if checksum else 0,
                data_offset=data_offset, total_size=total, owner_uid=os.fstat(fd).st_uid,
                mutex_kind=0, created_ns=time.time_ns(), creator_pid=os.getpid(),
                boot_id=segment.boot_id(),
            )
            channel = cls._map(fd, impl, name, geometry, created=True, use_futex=use_futex)
            channel._geometry = segment.initialise(channel._mv, channel._base, geometry)
            fcntl.flock(fd, fcntl.LOCK_UN)
            channel._join()
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
    def attach(cls, name: str, backend: str = "shm", *, wait: str = "auto") -> Channel:
        """Return a handle on the existing channel ``name`` after validating its header.

        The object must belong to this user and not be writable by others
        (``ChannelPermissionError``), and its header must describe a channel
        of this layout version whose geometry fits the object exactly
        (``CorruptChannel``).  Nothing is mapped before those checks pass.
        """
        impl = backends.get(backend)
        name = impl.check_name(name)
        use_futex = cls._check_wait(wait)
        fd = impl.open_existing(name)
        try:
            return cls._attach_fd(fd, impl, name, use_futex)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def from_fd(cls, fd: int, *, wait: str = "auto") -> Channel:
        """Return a handle on the channel behind descriptor ``fd`` (which is duplicated).

        This is how a ``memfd`` channel is shared with a process that did not
        inherit it: pass the descriptor (``SCM_RIGHTS``, ``pass_fds``) and call
        this there.  The caller keeps and closes its own ``fd``.
        """
        fd = arguments.integer(fd, "fd", 0, 1 << 31)
        use_futex = cls._check_wait(wait)
        try:
            own = os.dup(fd)
        except OSError as exc:
            raise ChannelValueError(f"fd {fd} is not an open descriptor") from exc
        try:
            return cls._attach_fd(own, memfd, f"fd:{fd}", use_futex)
        except BaseException:
            os.close(own)
            raise

    @staticmethod
    def _check_wait(wait: object) -> bool:
        if wait not in ("auto", "futex", "poll"):
            raise ChannelValueError(f"wait must be 'auto', 'futex' or 'poll', got {wait!r}")
        if wait == "futex" and not futex.AVAILABLE:
            raise ChannelError(f"futex waits unavailable: {futex.unavailable_reason()}")
        return wait != "poll" and futex.AVAILABLE

    @classmethod
    def _attach_fd(cls, fd: int, impl: ModuleType, name: str, use_futex: bool) -> Channel:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptChannel(f"{name!r} is not a regular file or shm object")
        if info.st_uid != os.geteuid():
            raise ChannelPermissionError(
                f"{name!r} belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()}); "
                "a channel is only shared between processes of its owner"
            )
        if info.st_mode & 0o002:
            raise ChannelPermissionError(
                f"{name!r} has mode {stat.S_IMODE(info.st_mode):#o}: anyone may write it"
            )
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            geometry = segment.read_geometry(fd, name, info)
            channel = cls._map(fd, impl, name, geometry, created=False, use_futex=use_futex)
            try:
                channel._geometry = segment.validate(channel._mv, channel._w, channel._base,
                                                     geometry, info)
            except BaseException:
                channel._release_mapping()
                raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        try:
            channel._join()
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
        self._backend = impl
        self._name = name
        self._created = created
        self._geometry = geometry
        self._cap = geometry.capacity
        self._doff = geometry.data_offset
        self._checksum = geometry.checksum
        self._closed = False
        self._mv = memoryview(mm)
        control = self._mv[: geometry.data_offset]
        self._w = control.cast("Q")
        self._f32 = control.cast("I")
        control.release()
        self._d = self._mv[geometry.data_offset: geometry.total_size]
        if not hasattr(mmap, "MAP_POPULATE"):
            for offset in range(0, geometry.total_size, mmap.PAGESIZE):
                self._mv[offset]  # read-fault every page now rather than mid-message
        self._anchor = (ctypes.c_char * geometry.total_size).from_buffer(mm)
        self._base = ctypes.addressof(self._anchor)
        self._mutex = tuple(
            RobustMutex(self._base + offset)
            for offset in (layout.SEND_MUTEX, layout.RECV_MUTEX, layout.TABLE_MUTEX)
        )
        self._table = PeerTable(self._w, geometry.max_peers, self._mutex[2])
        self._sleeper = (FutexSleeper(self._f32, self._base, fenced=True) if use_futex
                         else PollSleeper(self._f32))
        self._unlink_identity = None
        if impl is not memfd:
            info = os.fstat(fd)
            self._unlink_identity = (info.st_dev, info.st_ino)
        self._recoveries = []
        self._forget_peer_state()
        return self

    def _join(self) -> None:
        """Make this handle a live channel: register for barriers, claim a slot."""
        self._ensure_peer()
        _live.add(self)

    # ------------------------------------------------------------------ peer state

    def _forget_peer_state(self) -> None:
        """Drop everything that belongs to a process (after fork, or before first use)."""
        self._pid = 0
        self._ident = 0
        self._roles = 0
        self._busy = (0, 0)
        self._sbusy = self._rbusy = 0
        self._sbias = self._rbias = False
        self._sfast = self._rfast = False
        self._fenced = False
        self._head = self._stail = self._rtail = self._rhead = 0
        self._locked_entries = 0

    def _ensure_peer(self) -> None:
        """Claim a peer slot for this process if it has none (first use, or after fork)."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        if self._pid == os.getpid() and self._ident:
            return
        self._forget_peer_state()
        reason = fence.unavailable_reason()
        if reason is not None:
            self._w[layout.NO_FENCE] = 1
        me = liveness.current()
        self._ident = self._table.claim(me)
        self._pid = me.pid
        slot = layout.ident_slot(self._ident)
        self._busy = (layout.slot_word(slot, layout.SLOT_BUSY_SEND),
                      layout.slot_word(slot, layout.SLOT_BUSY_RECV))
        self._sbusy, self._rbusy = self._busy
        self._update_fenced()

    def _update_fenced(self) -> bool:
        fenced = self._w[layout.NO_FENCE] == 0 and fence.unavailable_reason() is None
        self._fenced = fenced
        self._sleeper.set_fenced(fenced)
        return fenced

    def _refresh_fast(self) -> None:
        usable = not faults.state.armed and not self._closed and not self._checksum
        self._sfast = self._sbias and usable
        self._rfast = self._rbias and usable

    # ------------------------------------------------------------------ entering a side

    def _enter(self, side: int, deadline: float | None) -> int:
        """Enter ``side`` alone; return ``_BIASED``, ``_LOCKED`` or 0 if ``deadline`` passed."""
        self._ensure_peer()
        w = self._w
        if not self._roles & _ROLE[side]:
            self._table.add_role(self._ident, _ROLE[side])
            self._roles |= _ROLE[side]
        busy = self._busy[side]
        if self._sbias if side == _SEND else self._rbias:
            w[busy] = 1
            if w[_OWNER[side]] == self._ident:
                return _BIASED
            w[busy] = 0
            self._drop_bias(side)
        mutex = self._mutex[side]
        started = time.monotonic()
        outcome = mutex.acquire(deadline)
        if outcome == TIMED_OUT:
            return 0
        try:
            if outcome == OWNER_DIED:
                # The holder died inside the side.  Positions are only ever moved by one
                # aligned store after the work is done, so there is nothing to undo; wake
                # the sleepers in case it died between publishing and waking them.
                self._sleeper.wake(layout.DATA_FUTEX)
                self._sleeper.wake(layout.SPACE_FUTEX)
                mutex.consistent()
                self._recoveries.append(time.monotonic() - started)
            owner = w[_OWNER[side]]
            if owner and owner != self._ident and not self._revoke(side, owner, deadline):
                mutex.release()
                return 0
            self._locked_entries += 1
            if self._locked_entries % RESCAN_EVERY == 0 and w[_COUNT[side]] > 1:
                self._table.rescan()
            if w[_COUNT[side]] == 1 and self._fenced and self._update_fenced():
                # The lone handle of this side: take the bias, busy flag raised first so
                # a revoker that comes after the unlock waits for this entry to end.
                w[_OWNER[side]] = self._ident
                w[busy] = 1
                self._take_bias(side)
                mutex.release()
                return _BIASED
        except BaseException:
            mutex.release()
            raise
        return _LOCKED

    def _leave(self, side: int, mode: int) -> None:
        if mode == _BIASED:
            self._w[self._busy[side]] = 0
        else:
            self._mutex[side].release()

    def _take_bias(self, side: int) -> None:
        w = self._w
        if side == _SEND:
            self._sbias = True
            self._head = w[layout.HEAD]
            self._stail = w[layout.TAIL]
        else:
            self._rbias = True
            self._rtail = w[layout.TAIL]
            self._rhead = w[layout.HEAD]
        self._refresh_fast()

    def _drop_bias(self, side: int) -> None:
        if side == _SEND:
            self._sbias = False
        else:
            self._rbias = False
        self._refresh_fast()

    def _revoke(self, side: int, owner: int, deadline: float | None) -> bool:
        """Take the bias away from handle ``owner``; False if it stayed busy past ``deadline``.

        The caller holds the side's mutex, so no other handle can take the
        bias meanwhile.  After the barrier, the owner either sees that it lost
        the bias before entering, or its busy flag is visible here.
        """
        w = self._w
        w[_OWNER[side]] = 0
        if self._fenced:
            fence.barrier()
        if faults.state.armed:
            faults.hit("bias.revoking")
        slot = layout.ident_slot(owner)
        if not 0 <= slot < self._geometry.max_peers:
            return True
        busy = layout.slot_word(slot, _BUSY_FIELD[side])
        ident_word = layout.slot_word(slot, layout.SLOT_IDENT)
        started = time.monotonic()
        next_check = started + 0.001
        pause = 20e-6
        while w[busy] and w[ident_word] == owner:
            now = time.monotonic()
            if now >= next_check:
                if not self._table.holder_alive(owner):
                    w[busy] = 0
                    self._sleeper.wake(layout.DATA_FUTEX)
                    self._sleeper.wake(layout.SPACE_FUTEX)
                    self._recoveries.append(time.monotonic() - started)
                    break
                next_check = now + 0.002
            if deadline is not None and now >= deadline:
                return False
            time.sleep(pause)  # the owner is inside one copy: back off, bounded
            pause = min(pause * 2, 0.0005)
        return True

    # ------------------------------------------------------------------ sending

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send one message (any bytes-like object); block while the ring is full.

        Raises ``Full`` if no room appeared within ``timeout`` seconds,
        ``MessageTooLarge`` if the message can never fit, ``ChannelClosed``
        after ``close()``.  When this returns the message is committed: it will
        be received even if this process dies the next instant.
        """
        if self._sfast and type(data) is bytes and (timeout is None or _plain_timeout(timeout)):
            n = len(data)
            cap = self._cap
            head = self._head
            size = (n + _PAD) & _MASK
            off = head % cap
            end = off + _HDR + n
            if end <= cap and head + size - self._stail <= cap:
                w = self._w
                busy = self._sbusy
                w[busy] = 1
                if w[_SEND_OWNER_W] == self._ident:
                    d = self._d
                    d[off + _HDR:end] = data
                    _pack_into(d, off, head, n, n ^ _TAG)
                    head += size
                    w[_HEAD_W] = head
                    w[busy] = 0
                    self._head = head
                    if w[_RECV_SLEEP_W]:
                        self._sleeper_wake_receivers()
                    return
                w[busy] = 0
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

    def _sleeper_wake_receivers(self) -> None:
        self._w[layout.RECV_SLEEP] = 0
        self._sleeper.wake(layout.DATA_FUTEX)

    def _sleeper_wake_senders(self) -> None:
        self._w[layout.SEND_SLEEP] = 0
        self._sleeper.wake(layout.SPACE_FUTEX)

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
        w = self._w
        total = len(payloads)
        sent = 0
        spun = False
        while sent < total:
            mode = self._enter(_SEND, deadline)
            if not mode:
                raise self._full(sent, single)
            armed = faults.state.armed
            need = 0
            expected = 0
            try:
                if armed:
                    faults.hit("send.entered")
                head, tail = self._positions()
                pending = head
                published = head
                plain = not (armed or self._checksum)
                d = self._d
                while sent < total:
                    payload = payloads[sent]
                    n = len(payload)
                    size = (n + _PAD) & _MASK
                    if pending + size - tail > cap:
                        tail = self._positions()[1]
                        if pending + size - tail > cap:
                            need = pending + size - cap
                            break
                    off = pending % cap
                    if plain and off + _HDR + n <= cap:  # the common case, inline
                        d[off + _HDR:off + _HDR + n] = payload
                        _pack_into(d, off, pending, n, n ^ _TAG)
                    else:
                        self._write_frame(pending, payload, armed)
                    pending += size
                    sent += 1
                    if sent % PUBLISH_EVERY == 0:
                        w[layout.HEAD] = published = pending
                        if w[layout.RECV_SLEEP]:
                            self._sleeper_wake_receivers()
                if pending != published:
                    w[layout.HEAD] = pending
                    if armed:
                        faults.hit("send.committed")
                if mode == _BIASED:
                    self._head = pending
                    self._stail = tail
                if need and spun:
                    expected = self._f32[layout.SPACE_FUTEX]
                    if w[layout.SEND_SLEEP] and w[layout.WAKE_TAIL] < need:
                        need = w[layout.WAKE_TAIL]
                    w[layout.WAKE_TAIL] = need
                    w[layout.SEND_SLEEP] = 1
            finally:
                self._leave(_SEND, mode)
            if pending != head and w[layout.RECV_SLEEP]:
                self._sleeper_wake_receivers()
            if not need:
                continue
            if pending != head:
                spun = False
            if deadline is not None and time.monotonic() >= deadline:
                raise self._full(sent, single)
            if not spun:
                spun = True
                self._spin(layout.TAIL, need)
                continue
            if armed:
                faults.hit("send.sleeping")
            if self._fenced:
                fence.barrier()
            if w[layout.TAIL] < need and not self._sleeper.sleep(
                    layout.SPACE_FUTEX, expected, deadline):
                raise self._full(sent, single)
            spun = self._f32[layout.SPACE_FUTEX] == expected and w[layout.TAIL] < need
        return sent

    @staticmethod
    def _full(sent: int, single: bool) -> Full:
        what = "message" if single else f"batch ({sent} items sent, the rest not)"
        return Full(f"{what} not sent before the timeout: the ring stayed full", sent)

    def _spin(self, index: int, target: int) -> None:
        """Re-read word ``index`` until it reaches ``target`` (>=), for at most ``SPIN`` s.

        After a few plain re-reads each round yields the CPU: on a busy
        machine the peer that would make progress may be waiting for this core.
        """
        w = self._w
        stop = time.perf_counter() + SPIN
        rounds = 0
        while w[index] < target:
            rounds += 1
            if rounds > 32:
                if time.perf_counter() >= stop:
                    return
                os.sched_yield()

    def _positions(self) -> tuple[int, int]:
        """Return (HEAD, TAIL) after checking they describe a possible ring state."""
        w = self._w
        head, tail = w[layout.HEAD], w[layout.TAIL]
        if not 0 <= head - tail <= self._cap or (head | tail) % layout.FRAME_ALIGN:
            raise CorruptChannel(
                f"HEAD {head} and TAIL {tail} do not describe a ring of {self._cap} bytes"
            )
        return head, tail

    def _write_frame(self, position: int, payload: bytes | memoryview, armed: bool) -> None:
        """Write one frame at absolute ``position``; nothing is published here."""
        d = self._d
        cap = self._cap
        n = len(payload)
        off = position % cap
        start = off + _HDR
        if start >= cap:
            start -= cap
        first = min(n, cap - start)
        half = first if not armed else min(first, n // 2)
        d[start:start + half] = payload[:half]
        if armed:
            faults.hit("send.payload")
            d[start + half:start + first] = payload[half:first]
        if first < n:
            d[0:n - first] = payload[first:]
        check = zlib.crc32(payload) if self._checksum else n ^ _TAG
        _pack_into(d, off, position, n, check)
        if armed:
            faults.hit("send.written")

    # ------------------------------------------------------------------ receiving

    def recv(self, timeout: float | None = None) -> bytes:
        """Return the next message; block while the ring is empty.

        Raises ``Empty`` if nothing arrived within ``timeout`` seconds.  A
        message is consumed when this returns; if this process dies while
        copying it out, the message is delivered again to the next receiver.
        """
        if self._rfast and (timeout is None or _plain_timeout(timeout)):
            tail = self._rtail
            head = self._rhead
            if tail == head:
                head = self._rhead = self._w[_HEAD_W]
            if tail != head:
                w = self._w
                busy = self._rbusy
                w[busy] = 1
                if w[_RECV_OWNER_W] == self._ident:
                    cap = self._cap
                    d = self._d
                    off = tail % cap
                    pos, n, check = _unpack_from(d, off)
                    end = off + _HDR + n
                    size = (n + _PAD) & _MASK
                    if (pos == tail and check == n ^ _TAG and end <= cap
                            and tail + size <= head):
                        start = self._doff + off + _HDR  # slicing the mmap makes bytes at once
                        data = self._mm[start:start + n]
                        tail += size
                        w[_TAIL_W] = tail
                        w[busy] = 0
                        self._rtail = tail
                        if w[_SEND_SLEEP_W] and tail >= w[_WAKE_TAIL_W]:
                            self._sleeper_wake_senders()
                        return data
                w[busy] = 0
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
        return self._recv_batch(1, arguments.deadline(timeout), view)[0]

    def recv_many(self, max_items: int, timeout: float | None = None) -> list[bytes]:
        """Return between 1 and ``max_items`` messages, waiting only for the first.

        Waits up to ``timeout`` for at least one message (``Empty`` if none),
        then takes those already in the ring without waiting further.
        """
        max_items = arguments.integer(max_items, "max_items", 1, 1 << 30)
        return self._recv_batch(max_items, arguments.deadline(timeout), None)

    def _recv_batch(self, max_items: int, deadline: float | None,
                    into: memoryview | None) -> list:
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        w = self._w
        spun = False
        while True:
            mode = self._enter(_RECV, deadline)
            if not mode:
                raise Empty("no message arrived before the timeout")
            armed = faults.state.armed
            out: list = []
            expected = 0
            try:
                if armed:
                    faults.hit("recv.entered")
                head, tail = self._positions()
                start_tail = tail
                if into is None and not (armed or self._checksum):
                    tail = self._read_plain(tail, head, max_items, out)
                while tail != head and len(out) < max_items:
                    item, size = self._read_frame(tail, head, into, armed)
                    out.append(item)
                    tail += size
                if out:
                    w[layout.TAIL] = tail
                    if armed:
                        faults.hit("recv.released")
                    if mode == _BIASED:
                        self._rtail = tail
                        self._rhead = head
                elif spun:
                    expected = self._f32[layout.DATA_FUTEX]
                    w[layout.RECV_SLEEP] = 1
            finally:
                self._leave(_RECV, mode)
            if out:
                if w[layout.SEND_SLEEP] and tail >= w[layout.WAKE_TAIL]:
                    self._sleeper_wake_senders()
                return out
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty("no message arrived before the timeout")
            if not spun:
                spun = True
                self._spin(layout.HEAD, start_tail + 1)
                continue
            if armed:
                faults.hit("recv.sleeping")
            if self._fenced:
                fence.barrier()
            if w[layout.HEAD] == start_tail and not self._sleeper.sleep(
                    layout.DATA_FUTEX, expected, deadline):
                raise Empty("no message arrived before the timeout")
            # Spin again only if something happened; after a quiet slice, go back to sleep.
            spun = self._f32[layout.DATA_FUTEX] == expected and w[layout.HEAD] == start_tail

    def _read_plain(self, tail: int, head: int, max_items: int, out: list) -> int:
        """Copy whole, unwrapped frames from ``tail`` into ``out``; return the new tail.

        Stops at the first frame that wraps or fails a check, leaving it to
        ``_read_frame`` (which raises for a bad one).
        """
        d = self._d
        mm = self._mm
        doff = self._doff
        cap = self._cap
        append = out.append
        while tail != head and len(out) < max_items:
            off = tail % cap
            pos, n, check = _unpack_from(d, off)
            size = (n + _PAD) & _MASK
            end = off + _HDR + n
            if pos != tail or check != n ^ _TAG or end > cap or size > head - tail:
                break
            start = doff + off + _HDR
            append(mm[start:start + n])
            tail += size
        return tail

    def _read_frame(self, tail: int, head: int, into: memoryview | None,
                    armed: bool) -> tuple[bytes | int, int]:
        """Return (payload or its length, frame size) of the frame at ``tail``, checked first."""
        d = self._d
        cap = self._cap
        off = tail % cap
        pos, n, check = _unpack_from(d, off)
        size = (n + _PAD) & _MASK
        if pos != tail or size > head - tail:
            raise CorruptChannel(
                f"frame at position {tail} claims position {pos} and length {n}, "
                f"with {head - tail} bytes published"
            )
        if not self._checksum and check != n ^ _TAG:
            raise CorruptChannel(f"frame at position {tail} has a bad check word {check:#x}")
        if armed:
            faults.hit("recv.header")
        start = off + _HDR
        if start >= cap:
            start -= cap
        first = min(n, cap - start)
        if into is not None:
            if n > len(into):
                raise ChannelValueError(
                    f"next message is {n} bytes, the buffer only {len(into)}; it stays queued"
                )
            into[:first] = d[start:start + first]
            if first < n:
                into[first:n] = d[0:n - first]
            payload: bytes | int = n
            if self._checksum and zlib.crc32(into[:n]) != check:
                raise CorruptChannel(f"frame at position {tail}: payload CRC-32 mismatch")
        else:
            if first < n:  # wrapped: one allocation, one copy of each piece
                payload = b"".join((d[start:start + first], d[0:n - first]))
            else:
                payload = bytes(d[start:start + first])
            if self._checksum and zlib.crc32(payload) != check:
                raise CorruptChannel(f"frame at position {tail}: payload CRC-32 mismatch")
        if armed:
            faults.hit("recv.copied")
        return payload, size

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
        """Return a snapshot of positions, peers and this handle's recoveries."""
        if self._closed:
            raise ChannelClosed(f"channel {self._name!r} was closed by this process")
        w = self._w
        head, tail = w[layout.HEAD], w[layout.TAIL]
        return Statistics(
            capacity=self._cap, used=head - tail, head=head, tail=tail,
            senders=w[layout.SENDERS], receivers=w[layout.RECEIVERS],
            send_biased=self._sbias and w[layout.SEND_OWNER] == self._ident,
            recv_biased=self._rbias and w[layout.RECV_OWNER] == self._ident,
            send_owner_slot=layout.ident_slot(w[layout.SEND_OWNER]),
            recv_owner_slot=layout.ident_slot(w[layout.RECV_OWNER]),
            recoveries=len(self._recoveries), recovery_seconds=tuple(self._recoveries),
        )

    def close(self) -> None:
        """Give up this handle: its bias and peer slot go back, the mapping is unmapped.

        Other handles, in this process or others, are not affected, and the
        name stays: ``unlink()`` removes it.  Closing twice does nothing.
        """
        if self._closed:
            return
        try:
            if self._pid == os.getpid() and self._ident:
                self._step_down()
        finally:
            self._closed = True
            self._refresh_fast()
            _live.discard(self)
            self._release_mapping()
            os.close(self._fd)

    def _step_down(self) -> None:
        """Hand back the bias of both sides and the peer slot (best effort, bounded)."""
        w = self._w
        for side in (_SEND, _RECV):
            if w[_OWNER[side]] == self._ident:
                mutex = self._mutex[side]
                if mutex.acquire(time.monotonic() + 1.0) != TIMED_OUT:
                    if w[_OWNER[side]] == self._ident:
                        w[_OWNER[side]] = 0
                    mutex.release()
        self._sbias = self._rbias = False
        self._table.release(self._ident)

    def _release_mapping(self) -> None:
        self._sfast = self._rfast = False
        self._mutex = ()
        self._table = None
        self._sleeper = None
        for view in (self._w, self._f32, self._d, self._mv):
            view.release()
        self._anchor = None
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
