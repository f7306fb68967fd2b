"""Kill-and-restart chaos on one channel, with accounting that survives the kills.

Producers and consumers are killed with ``SIGKILL`` (at random instants by
the driver, or at a named fault point they armed themselves) and replaced.
Whatever must be judged afterwards is kept in memory shared with the
driver, so a kill cannot take it along:

* per producer id: the message it was sending and how many it had
  committed (``send`` returned), updated around every send;
* per consumer slot: a bitmap of the messages it received, a scratch buffer
  every message is received into, and counters of torn and out-of-order
  messages.  A consumer killed after its receive returned but before it
  marked the message still has it whole in its scratch buffer; the driver
  marks it in the "taken by a killed consumer" bitmap.  A consumer killed
  while copying leaves a torn scratch (its CRC fails) and the message, not
  consumed, goes to the next receiver.

The bitmaps live in one large anonymous shared mapping; only the pages of
messages actually sent are ever touched.
"""

from __future__ import annotations

import mmap
import os
import random
import struct
from dataclasses import dataclass

from helpers.ipc import faults, workload
from helpers.ipc.errors import Empty, Full
from helpers.ipc.roles import STOP, Peer

#: messages one producer id sends at most (it then leaves and is replaced).
SEQ_LIMIT = 1 << 20
SCRATCH = 4096
_COUNTERS = struct.Struct("QQQ")  # torn, out of order, received


@dataclass
class Ledger:
    """The shared accounting area of one chaos run."""

    producers: int  # producer ids available
    consumers: int  # consumer slots
    area: mmap.mmap

    @classmethod
    def create(cls, producers: int, consumers: int) -> Ledger:
        """Return a zeroed ledger for ``producers`` ids and ``consumers`` slots."""
        size = (16 * producers + 8  # progress words, then the stop flag
                + (consumers + 1) * producers * (SEQ_LIMIT // 8)
                + consumers * (SCRATCH + _COUNTERS.size))
        return cls(producers, consumers, mmap.mmap(-1, size))

    @property
    def _bitmaps_at(self) -> int:
        return 16 * self.producers + 8

    @property
    def _scratch_at(self) -> int:
        return self._bitmaps_at + (self.consumers + 1) * self.producers * (SEQ_LIMIT // 8)

    def progress(self, producer: int) -> memoryview:
        """Return producer ``producer``'s two words: [attempting, committed]."""
        return memoryview(self.area)[16 * producer: 16 * producer + 16].cast("Q")

    def stop_flag(self) -> memoryview:
        """Return the word the driver sets to 1 to stop the producers."""
        start = 16 * self.producers
        return memoryview(self.area)[start:start + 8].cast("Q")

    def bitmap(self, owner: int, producer: int) -> memoryview:
        """Return the bitmap of consumer slot ``owner`` (``consumers``: killed ones)."""
        size = SEQ_LIMIT // 8
        start = self._bitmaps_at + (owner * self.producers + producer) * size
        return memoryview(self.area)[start:start + size]

    def scratch(self, slot: int) -> memoryview:
        """Return the receive buffer of consumer slot ``slot``."""
        start = self._scratch_at + slot * (SCRATCH + _COUNTERS.size)
        return memoryview(self.area)[start:start + SCRATCH]

    def counters(self, slot: int) -> memoryview:
        """Return [torn, out of order, received] of consumer slot ``slot``."""
        start = self._scratch_at + slot * (SCRATCH + _COUNTERS.size) + SCRATCH
        return memoryview(self.area)[start:start + _COUNTERS.size].cast("Q")

    def settle_killed_consumer(self, slot: int) -> bool:
        """Mark the whole message left in a killed consumer's scratch; return if it was new.

        A message states its own length in its header, and a copy the kill
        interrupted fails its CRC, so the scratch needs nothing else.
        """
        scratch = self.scratch(slot)
        body_len = int.from_bytes(scratch[4:8], "little")
        length = workload.HEADER.size + body_len
        if length > SCRATCH:
            return False
        try:
            producer, seq = workload.check(bytes(scratch[:length]))
        except workload.TornMessage:
            return False
        if not 0 <= producer < self.producers or not 0 <= seq < SEQ_LIMIT:
            return False
        if workload.is_marked(self.bitmap(slot, producer), seq):
            return False  # it had marked it itself before the kill
        return not workload.mark(self.bitmap(self.consumers, producer), seq)


def producer_main(peer: Peer, ledger: Ledger, producer: int, sizes: tuple[int, int],
                  arm: tuple[str, int] | None) -> int:
    """Send numbered messages until stopped, killed, or out of numbers; return the count."""
    if arm is not None:
        faults.arm(arm[0], "kill", after=arm[1])
    progress = ledger.progress(producer)
    stop = ledger.stop_flag()
    parent = os.getppid()
    draw = random.Random(producer)
    channel = peer.open()
    low, high = sizes
    seq = 0
    try:
        while seq < SEQ_LIMIT and not stop[0]:
            message = workload.make(producer, seq, draw.randint(low, high))
            progress[0] = seq
            try:
                channel.send(message, timeout=1.0)
            except Full:
                if os.getppid() != parent:
                    break  # the driver is gone: nobody will ever stop us
                continue  # full for a second: look at the stop flag, then retry
            seq += 1
            progress[1] = seq
    finally:
        channel.close()
    return seq


def consumer_main(peer: Peer, ledger: Ledger, slot: int, arm: tuple[str, int] | None) -> int:
    """Receive into the slot's scratch buffer and mark each message; stop at a stop message."""
    if arm is not None:
        faults.arm(arm[0], "kill", after=arm[1])
    scratch = ledger.scratch(slot)
    counters = ledger.counters(slot)
    last: dict[int, int] = {}
    parent = os.getppid()
    channel = peer.open()
    try:
        while True:
            try:
                length = channel.recv_into(scratch, timeout=5.0)
            except Empty:
                if os.getppid() != parent:
                    break  # the driver is gone: no stop message will come
                continue
            raw = bytes(scratch[:length])
            if raw == STOP:
                return counters[2]
            try:
                producer, seq = workload.check(raw)
            except workload.TornMessage:
                counters[0] += 1
                continue
            if seq <= last.get(producer, -1):
                counters[1] += 1
            last[producer] = seq
            workload.mark(ledger.bitmap(slot, producer), seq)
            counters[2] += 1
    finally:
        channel.close()
    return counters[2]


@dataclass(frozen=True)
class Reckoning:
    """The verdict of a chaos run, from the ledger."""

    committed: int
    received: int
    lost: int
    duplicated: int
    redelivered: int
    unexpected: int
    in_doubt: int
    torn: int
    out_of_order: int


def reckon(ledger: Ledger, used_producers: int) -> Reckoning:
    """Judge every producer id used: committed messages received once, in order, whole."""
    lost = duplicated = redelivered = unexpected = in_doubt = received = committed = 0
    killed_owner = ledger.consumers
    for producer in range(used_producers):
        attempting, done = ledger.progress(producer)
        committed += done
        bits_limit = min(max(attempting + 1, done), SEQ_LIMIT)
        union = 0
        killed = workload.as_int(ledger.bitmap(killed_owner, producer), bits_limit + 64)
        for slot in range(ledger.consumers):
            bits = workload.as_int(ledger.bitmap(slot, producer), bits_limit + 64)
            duplicated += (union & bits).bit_count()
            union |= bits
        redelivered += (union & killed).bit_count()  # taken by a killed consumer, then again
        union |= killed
        received += union.bit_count()
        committed_mask = (1 << done) - 1
        lost += (committed_mask & ~union).bit_count()
        doubt = 1 << done
        if done < bits_limit and union & doubt:
            in_doubt += 1
        unexpected += (union & ~(committed_mask | doubt)).bit_count()
    torn = sum(ledger.counters(slot)[0] for slot in range(ledger.consumers))
    disorder = sum(ledger.counters(slot)[1] for slot in range(ledger.consumers))
    return Reckoning(committed, received, lost, duplicated, redelivered, unexpected,
                     in_doubt, torn, disorder)
