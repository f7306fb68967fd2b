"""The slow paths of ``Channel``: batches, waiting for room or for messages, sleeping.

``Channel.send`` and ``Channel.recv`` move one message in one pass when the
side is free and the ring has room or a message; everything else comes here:
batches, the checksum and fault-point paths, a side held by another handle
(``helpers.ipc.locks`` waits and recovers), a full or empty ring (spin
briefly, then sleep on the futex word the other side bumps, in slices).
The side is entered as the first call inside a ``try`` whose ``finally``
starts with the releasing compare-and-swap (interrupt safety, see
``helpers.ipc.locks``).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from helpers.ipc import arguments, atomic, codec, faults, layout
from helpers.ipc.errors import (
    ChannelClosed,
    ChannelValueError,
    CorruptChannel,
    Empty,
    Full,
    MessageTooLarge,
)

if TYPE_CHECKING:
    from helpers.ipc.channel import Channel

_SC, _ACQ = atomic.SEQ_CST, atomic.ACQUIRE

#: how long a blocked caller spins (re-reading the other side's position)
#: before it registers as a sleeper: a peer on another core usually makes
#: progress well within this, and a futex round trip costs more.
SPIN = 50e-6
#: producers publish a batch every this many messages so receivers can start.
PUBLISH_EVERY = 32


def positions(channel: Channel) -> tuple[int, int]:
    """Return (HEAD, TAIL) after checking they describe a possible ring state."""
    head, tail = channel._head.load(_ACQ), channel._tail.load(_ACQ)
    problem = layout.check_positions(head, tail, channel._cap)
    if problem:
        raise CorruptChannel(problem)
    return head, tail

def entered(channel: Channel, side: int, deadline: float | None) -> bool:
    """Enter ``side`` (inside the caller's try); False if ``deadline`` passed first."""
    outcome = channel._locks[side].acquire(channel._token, deadline)
    if outcome is None:
        return True
    if outcome < 0:
        return False
    # The holder died inside the side.  Positions only move by one store after
    # the work, so there is nothing to undo; it may have died between publishing
    # and waking the sleepers, so wake them.
    channel._recoveries.append(outcome)
    channel._sleeper.wake(channel._control.data_futex)
    channel._sleeper.wake(channel._control.space_futex)
    return True


def send_batch(channel: Channel, items: list, deadline: float | None, single: bool) -> int:
    if channel._closed:
        raise ChannelClosed(f"channel {channel._name!r} was closed by this process")
    cap = channel._cap
    payloads = [arguments.payload(item) for item in items]
    for payload in payloads:
        if len(payload) + codec.HDR > cap:
            raise MessageTooLarge(
                f"message of {len(payload)} bytes can never fit: this channel takes at "
                f"most {cap - codec.HDR} bytes per message (capacity {cap})"
            )
    channel._ensure_peer(deadline)
    control = channel._control
    token = channel._token
    total = len(payloads)
    sent = 0
    spun = False
    while sent < total:
        armed = faults.state.armed
        need = expected = 0
        head = pending = -1
        try:
            if not entered(channel, layout.SEND, deadline):
                raise full(sent, single, "the send side stayed held by another handle")
            if armed:
                faults.hit("send.entered")
            head, tail = positions(channel)
            sent, pending, need = _write(channel, payloads, sent, head, tail, armed)
            if need and spun:
                expected = control.space_futex.load(_ACQ)
                # Wake at the earliest TAIL any sleeping sender waits for.  The word is
                # shared, so it only moves the wake-up: what this call waits for stays
                # ``need`` whatever another peer stored there.
                wake_at = need
                waiting = channel._waketail.load(_SC)
                if channel._rattn.load(_SC) & layout.ASLEEP and waiting < need:
                    wake_at = waiting
                channel._waketail.store(wake_at, _SC)
                channel._rattn.fetch_or(layout.ASLEEP, _SC)
        finally:  # the release is the first call: nothing can come before it
            channel._scas(token, 0, _SC)
        attention = channel._sattn.load(_SC)
        if attention:
            attend_send(channel, attention)
        if not need:
            continue
        if pending != head:
            spun = False
        if deadline is not None and time.monotonic() >= deadline:
            raise full(sent, single)
        if not spun:
            spun = True
            spin(channel._tail, need)
            continue
        if armed:
            faults.hit("send.sleeping")
        if channel._tail.load(_SC) < need and not channel._sleeper.sleep(
                control.space_futex, expected, deadline):
            raise full(sent, single)
        spun = (control.space_futex.load(_ACQ) == expected
                and channel._tail.load(_ACQ) < need)
    return sent

def _write(channel: Channel, payloads: list, sent: int, head: int, tail: int,
           armed: bool) -> tuple[int, int, int]:
    """Write and publish frames from ``payloads[sent]`` on; return (sent, HEAD, room needed).

    A function of its own because its loop must not sit inside the caller's
    ``try``: CPython 3.13 leaves a loop's backward jump out of the ``try``'s
    exception table, so an exception raised there by a signal handler would
    skip the ``finally`` that leaves the side.
    """
    cap = channel._cap
    pending = published = head
    need = 0
    while sent < len(payloads):
        payload = payloads[sent]
        size = codec.size_of(len(payload))
        if pending + size - tail > cap:
            tail = positions(channel)[1]
            if pending + size - tail > cap:
                need = pending + size - cap
                break
        codec.put(channel._d, cap, pending, payload, channel._checksum, armed)
        pending += size
        sent += 1
        if sent % PUBLISH_EVERY == 0:
            channel._head.store(pending, _SC)
            published = pending
            if channel._sattn.load(_SC) & layout.ASLEEP:
                attend_send(channel, layout.ASLEEP)
    if pending != published:
        channel._head.store(pending, _SC)
        if armed:
            faults.hit("send.committed")
    return sent, pending, need


def _read(channel: Channel, tail: int, head: int, max_items: int, into: memoryview | None,
          armed: bool, out: list) -> int:
    """Take frames from ``tail`` into ``out``; return the new tail (a loop: see ``_write``)."""
    if into is None and not (armed or channel._checksum):
        tail = codec.take_plain(channel._d, channel._mm, channel._doff, channel._cap,
                                tail, head, max_items, out)
    while tail != head and len(out) < max_items:
        item, size = codec.take(channel._d, channel._cap, tail, head, channel._checksum,
                                into, armed)
        out.append(item)
        tail += size
    return tail


def full(sent: int, single: bool, why: str = "the ring stayed full") -> Full:
    what = "message" if single else f"batch ({sent} items sent, the rest not)"
    return Full(f"{what} not sent before the timeout: {why}", sent)

def spin(cell: object, target: int) -> bool:
    """Re-read ``cell`` until it reaches ``target`` (>=), for at most ``SPIN`` s; return if it did.

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
                return False
            os.sched_yield()
    return True



def recv_batch(channel: Channel, max_items: int, deadline: float | None,
               into: memoryview | None, *, spun: bool = False) -> list:
    """Take up to ``max_items`` messages, waiting for the first; ``spun``: the caller just spun."""
    if channel._closed:
        raise ChannelClosed(f"channel {channel._name!r} was closed by this process")
    channel._ensure_peer(deadline)
    control = channel._control
    token = channel._token
    while True:
        armed = faults.state.armed
        out: list = []
        expected = 0
        start_tail = -1
        try:
            if not entered(channel, layout.RECV, deadline):
                raise Empty("no message taken before the timeout: the receive side stayed "
                            "held by another handle")
            if armed:
                faults.hit("recv.entered")
            head, tail = positions(channel)
            start_tail = tail
            tail = _read(channel, tail, head, max_items, into, armed, out)
            if out:
                channel._pending = out if into is None else bytes(into[:out[0]])
                channel._tail.store(tail, _SC)
                if armed:
                    faults.hit("recv.released")
            elif spun:
                expected = control.data_futex.load(_ACQ)
                channel._sattn.fetch_or(layout.ASLEEP, _SC)
        finally:  # the release is the first call: nothing can come before it
            channel._rcas(token, 0, _SC)
        attention = channel._rattn.load(_SC)
        if attention:
            attend_recv(channel, attention, tail if out else -1)
        if out:
            return out  # still held: the public caller lets go right before returning
        if deadline is not None and time.monotonic() >= deadline:
            raise Empty("no message arrived before the timeout")
        if not spun:
            spun = True
            spin(channel._head, start_tail + 1)
            continue
        if armed:
            faults.hit("recv.sleeping")
        if channel._head.load(_SC) == start_tail and not channel._sleeper.sleep(
                control.data_futex, expected, deadline):
            raise Empty("no message arrived before the timeout")
        # Spin again only if something happened; after a quiet slice, go back to sleep.
        spun = (control.data_futex.load(_ACQ) == expected
                and channel._head.load(_ACQ) == start_tail)


def attend_send(channel: Channel, attention: int) -> None:
    """After leaving the send side: wake a lock waiter, and receivers asleep for data."""
    if attention & layout.WAITER_MASK:
        channel._locks[layout.SEND].wake()
    if attention & layout.ASLEEP:
        channel._sattn.fetch_and(layout.WAITER_MASK, _SC)
        channel._sleeper.wake(channel._control.data_futex)

def attend_recv(channel: Channel, attention: int, tail: int) -> None:
    """After leaving the recv side: wake a lock waiter, and senders asleep for room."""
    if attention & layout.WAITER_MASK:
        channel._locks[layout.RECV].wake()
    if attention & layout.ASLEEP and tail >= channel._waketail.load(_SC):
        channel._rattn.fetch_and(layout.WAITER_MASK, _SC)
        channel._sleeper.wake(channel._control.space_futex)


def take_pending(channel: Channel, max_items: int, into: memoryview | None
                 ) -> tuple[list, list | None]:
    """Return (messages to hand out, what stays held) of what an interrupted receive kept.

    Changes nothing: the caller stores what stays held and returns at once,
    with no call in between (``helpers.ipc.locks`` says why).
    """
    if channel._closed:
        raise ChannelClosed(f"channel {channel._name!r} was closed by this process")
    held = channel._pending
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
    return taken, items[count:] or None
