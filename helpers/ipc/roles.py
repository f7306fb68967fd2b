"""What a producer or a consumer process does, for tests, the stress run and chaos.

Producers send self-checking messages (``helpers.ipc.workload``) numbered
from 0 and, when given a progress record, note before each send which
message they attempt and after it how many were committed: a producer killed
at any instant leaves at most one message "in doubt" (sent or not), and
every message below the committed count must be received.  Consumers record
what they get in a ``Tally`` and stop at a stop message (one per consumer),
so they never need to know how many messages are coming.
"""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass

from helpers.ipc import workload
from helpers.ipc.channel import Channel
from helpers.ipc.errors import Empty

#: the producer id of the message that tells one consumer to stop.
STOP_PRODUCER = 0xFFFFFFFF
STOP = workload.make(STOP_PRODUCER, 0, workload.MIN_SIZE)
#: a progress record: [attempting seq, committed count] as native u64.
PROGRESS = struct.Struct("QQ")


@dataclass(frozen=True)
class Peer:
    """How a child process reaches the channel: by name, or by an inherited descriptor."""

    backend: str
    ref: str | int

    def open(self) -> Channel:
        """Return a new handle on the channel in the calling process."""
        if self.backend == "memfd":
            assert isinstance(self.ref, int)
            return Channel.from_fd(self.ref)
        assert isinstance(self.ref, str)
        return Channel.attach(self.ref, backend=self.backend)

    @classmethod
    def of(cls, channel: Channel) -> Peer:
        """Return the reference children use to open ``channel``."""
        if channel.backend == "memfd":
            return cls("memfd", channel.fileno())
        return cls(channel.backend, channel.name)


def message_sizes(seed: int, low: int, high: int) -> random.Random:
    """Return the random source a producer draws its message sizes from."""
    return random.Random(seed * 1_000_003 + low * 31 + high)


def produce(peer: Peer, producer: int, count: int, sizes: tuple[int, int], *,
            batch: int = 1, progress: memoryview | None = None,
            timeout: float = 30.0) -> int:
    """Send ``count`` messages as ``producer``; return how many were sent.

    ``sizes`` bounds the message sizes (drawn per message); ``batch`` > 1
    sends with ``send_many``.  ``progress`` (a u64 view of two words, shared
    with the parent) is updated around every send so a kill can be judged.
    """
    channel = peer.open()
    draw = message_sizes(producer, *sizes)
    low, high = sizes
    try:
        seq = 0
        while seq < count:
            group = [workload.make(producer, s, draw.randint(low, high))
                     for s in range(seq, min(seq + batch, count))]
            if progress is not None:
                progress[0] = seq + len(group) - 1
            if batch == 1:
                channel.send(group[0], timeout=timeout)
            else:
                channel.send_many(group, timeout=timeout)
            seq += len(group)
            if progress is not None:
                progress[1] = seq
        return seq
    finally:
        channel.close()


def consume(peer: Peer, *, batch: int = 1, idle_timeout: float = 30.0,
            keep_order: bool = True) -> workload.Tally:
    """Receive until a stop message; return the tally of everything else received."""
    channel = peer.open()
    tally = workload.Tally()
    try:
        while True:
            try:
                if batch == 1:
                    got = [channel.recv(timeout=idle_timeout)]
                else:
                    got = channel.recv_many(batch, timeout=idle_timeout)
            except Empty:
                return tally
            for index, raw in enumerate(got):
                if raw == STOP:
                    # A batch may hold the stop messages of other consumers: hand them back.
                    for extra in got[index + 1:]:
                        channel.send(extra, timeout=idle_timeout)
                    tally.stopped = True
                    return tally
                tally.record(raw)
    finally:
        channel.close()


def stop_consumers(channel: Channel, consumers: int, timeout: float = 30.0) -> None:
    """Send one stop message per consumer."""
    for _ in range(consumers):
        channel.send(STOP, timeout=timeout)


def wait_until(predicate: object, timeout: float, pause: float = 0.001) -> bool:
    """Return True once ``predicate()`` holds, False if ``timeout`` s pass first (bounded poll)."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
    return True
