"""Kills timed by an interval timer, so that some land inside the C-level copy of a message.

``helpers.ipc.anywhere`` stops a victim between two bytecodes, which never
happens in the middle of one C call; the copy of a large payload is one
such call (a ``memmove`` of a mebibyte).  Here the victim arms
``setitimer(ITIMER_REAL)`` at a random microsecond offset with ``SIGALRM``
left at its default action (the process ends, no handler runs, like a
``SIGKILL``), then sends, or receives into a shared buffer, a few messages
of 1 MiB built beforehand.  Wherever the signal finds the process, it dies
there: often inside the copy.

Where a kill landed is read from the copy's destination.  The sender copies
the payload into the ring before it writes the frame header and moves
``HEAD``, so after its death the ring at ``HEAD`` shows how much of the
message in doubt had been written; the receiver copies into a buffer the
parent shares, and ``TAIL`` moves only after the copy.  The destination is
compared with the expected message in chunks (each round uses a producer id
of its own, so stale bytes never match): some chunks but not all means the
kill landed inside the copy.

The parent then checks the guarantees: nothing torn, no committed message
lost, a message in doubt there at most once more, a message the dead
receiver consumed only after its copy was whole, and both sides usable
again within a bounded time.
"""

from __future__ import annotations

import mmap
import random
import signal
import time
from dataclasses import dataclass

from helpers.ipc import anywhere, codec, procs, roles, workload
from helpers.ipc.channel import Channel
from helpers.ipc.errors import ChannelError
from helpers.ipc.naming import fresh_name

MESSAGE = 1 << 20
#: messages per victim; the ring holds them all, so a sender never waits for room.
PER_ROUND = 6
CAPACITY = 8 << 20
#: bytes compared at a time when telling how much of a copy was done.
CHUNK = 1024
RECOVERY_LIMIT = 2.0
#: victims' timers fire up to this factor past the measured length of their work.
SPREAD = 1.2
SIDES = ("send", "recv_into")
#: producer ids of the rounds start here, clear of ids other tests use.
FIRST_PRODUCER = 1000


@dataclass
class Outcome(anywhere.Damage):
    """What the timed kills of one side did, and where they landed."""

    side: str
    rounds: int = 0
    #: the victim was inside a send or receive call of one message when it died
    in_doubt: int = 0
    before_copy: int = 0
    inside_copy: int = 0
    after_copy: int = 0
    work_us: float = 0.0


def written(expected: bytes, actual: bytes) -> float:
    """Return the share of ``CHUNK``-byte pieces of ``actual`` equal to ``expected``'s."""
    starts = range(0, len(expected), CHUNK)
    same = sum(expected[i:i + CHUNK] == actual[i:i + CHUNK] for i in starts)
    return same / len(starts)


def _arm(offset: float) -> None:
    """Leave ``SIGALRM`` at its default action (terminate) and fire it after ``offset`` s."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
    if offset > 0:
        signal.setitimer(signal.ITIMER_REAL, offset)


def _victim(peer: roles.Peer, side: str, producer: int, offset: float,
            progress: memoryview, buffer: mmap.mmap) -> float:
    """Send or receive ``PER_ROUND`` messages under a timer; return the seconds they took.

    ``progress`` holds [message attempted, messages done], written around
    every call, so the parent knows which message was in doubt at the kill.
    """
    channel = peer.open()
    channel.statistics()  # the slot is claimed before the timer runs
    sending = side == "send"
    messages = [workload.make(producer, seq, MESSAGE) for seq in range(PER_ROUND * sending)]
    _arm(offset)
    started = time.perf_counter()
    for seq in range(PER_ROUND):
        progress[0] = seq
        if sending:
            channel.send(messages[seq], timeout=10)
        else:
            channel.recv_into(buffer, timeout=10)
        progress[1] = seq + 1
    took = time.perf_counter() - started
    signal.setitimer(signal.ITIMER_REAL, 0)
    channel.close()
    return took


def _ring_at(channel: Channel, position: int, length: int) -> bytes:
    """Return the ``length`` payload bytes of the frame at ``position`` (unpublished or not).

    Reads the ring through the handle's own view: the harness looks where
    the dead sender was writing, which no public call shows.
    """
    ring, cap = channel._d, channel.capacity
    start = position % cap + codec.HDR
    if start >= cap:
        start -= cap
    first = min(length, cap - start)
    return bytes(ring[start:start + first]) + bytes(ring[0:length - first])


class _Harness:
    """The parent's side of the rounds of one side: the channel, shared records, tallies."""

    def __init__(self, channel: Channel, side: str) -> None:
        self.channel = channel
        self.side = side
        self.outcome = Outcome(side)
        self.area = mmap.mmap(-1, 16)
        self.progress = memoryview(self.area)[:16].cast("Q")
        self.buffer = mmap.mmap(-1, MESSAGE)

    def close(self) -> None:
        self.progress.release()
        self.area.close()
        self.buffer.close()

    def play(self, offset: float) -> float | None:
        """Run one victim whose timer fires after ``offset`` s (0: never); judge the ring."""
        outcome = self.outcome
        producer = FIRST_PRODUCER + outcome.rounds
        outcome.rounds += 1
        self.progress[0] = self.progress[1] = 0
        self.buffer[:] = bytes(MESSAGE)
        if self.side != "send":
            for seq in range(PER_ROUND):
                self.channel.send(workload.make(producer, seq, MESSAGE), timeout=RECOVERY_LIMIT)
        child = procs.spawn(_victim, roles.Peer.of(self.channel), self.side, producer, offset,
                            self.progress, self.buffer)
        try:
            status = child.wait(timeout=30)
            took = child.join(timeout=1) if status == "exit 0" else None
        except procs.ChildFailed as exc:
            status, took = "failed", None
            outcome.problems.append(f"round {producer}: {str(exc).strip().splitlines()[-1]}")
        finally:
            child.close()
        if status not in ("exit 0", "SIGALRM", "failed"):
            outcome.problems.append(f"round {producer}: victim ended with {status}")
        killed = status == "SIGALRM"
        outcome.kills += killed
        attempted, done = self.progress[0], self.progress[1]
        doubt = killed and attempted == done
        outcome.in_doubt += doubt
        got = anywhere.drain(self.channel)  # the receive side first: the send side may be held
        published = self.side == "send" and (producer, done) in got
        share = self._copied(producer, done, published) if doubt else None
        self._judge(producer, got, done, share)
        self._check_usable(producer)
        return took

    def _copied(self, producer: int, seq: int, published: bool) -> float:
        """Return how much of message ``seq`` the dead victim had copied; count where it died.

        A sender's message that was ``published`` (``HEAD`` moved past it)
        was whole; one that was not lies at ``HEAD``, as far as it got.
        """
        expected = workload.make(producer, seq, MESSAGE)
        if published:
            share = 1.0
        elif self.side == "send":
            head = self.channel.statistics().head
            share = written(expected, _ring_at(self.channel, head, MESSAGE))
        else:
            share = written(expected, bytes(self.buffer))
        outcome = self.outcome
        if share == 0:
            outcome.before_copy += 1
        elif share < 1:
            outcome.inside_copy += 1
        else:
            outcome.after_copy += 1
        return share

    def _judge(self, producer: int, got: list, done: int, share: float | None) -> None:
        """Count torn, lost and duplicated messages of one round from what was left."""
        outcome = self.outcome
        outcome.torn += got.count(None)
        mine = [seq for item in got if item is not None for who, seq in [item]
                if who == producer]
        if len(mine) != len(got) - got.count(None):
            outcome.problems.append(f"round {producer}: a message of another round was left")
        outcome.duplicated += len(mine) - len(set(mine))
        doubt = share is not None
        if self.side == "send":
            # Every committed message is there; the one in doubt is there at most once.
            outcome.lost += sum(1 for seq in range(done) if seq not in mine)
            allowed = [list(range(done))] + ([list(range(done + 1))] if doubt else [])
            if sorted(set(mine)) not in allowed:
                outcome.problems.append(f"round {producer}: sender left {mine}, done {done}")
            return
        left = list(range(done, PER_ROUND))
        taken_by_the_dead = doubt and mine == left[1:]
        if taken_by_the_dead:
            outcome.consumed_by_the_dead += 1
            if share != 1:
                outcome.problems.append(f"round {producer}: message {done} was consumed with "
                                        f"{share:.0%} of its copy done")
        elif doubt and mine == left and share:
            outcome.duplicated += 1  # seen in part by the dead, delivered again
        elif mine != left:
            outcome.problems.append(f"round {producer}: receiver left {mine}, done {done}")
        accounted = set(range(done)) | set(mine) | ({done} if taken_by_the_dead else set())
        outcome.lost += PER_ROUND - len(accounted & set(range(PER_ROUND)))

    def _check_usable(self, producer: int) -> None:
        """Both sides must work again (the dead victim's lock recovered) within the limit."""
        started = time.monotonic()
        try:
            self.channel.send(workload.make(producer, PER_ROUND, 64), timeout=RECOVERY_LIMIT)
            back = workload.check(self.channel.recv(timeout=RECOVERY_LIMIT))
        except (ChannelError, workload.TornMessage) as exc:
            self.outcome.stalls += 1
            self.outcome.problems.append(f"round {producer}: channel stayed held: {exc!r}")
            return
        if back != (producer, PER_ROUND) or time.monotonic() - started > RECOVERY_LIMIT:
            self.outcome.stalls += 1


def run(side: str, rounds: int, seed: int, *, inside_wanted: int = 0,
        deadline: float | None = None) -> Outcome:
    """Run up to ``rounds`` timed kills of ``side`` (``"send"`` or ``"recv_into"``).

    The first round runs untimed and measures how long the victim's work
    takes; every later timer fires at a uniform offset up to ``SPREAD``
    times that.  Stops early once ``inside_wanted`` kills (if > 0) landed
    inside a copy, or when ``deadline`` (monotonic) passes.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    rng = random.Random(seed)
    with Channel.create(fresh_name("shm", "timed"), CAPACITY) as channel:
        harness = _Harness(channel, side)
        try:
            work = harness.play(0.0)
            outcome = harness.outcome
            if work is None:
                outcome.problems.append("the untimed round did not finish")
                return outcome
            outcome.work_us = round(work * 1e6, 1)
            while outcome.rounds < rounds:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if inside_wanted and outcome.inside_copy >= inside_wanted:
                    break
                offset = rng.uniform(1e-6, work * SPREAD)
                harness.play(round(offset, 6))
            return outcome
        finally:
            harness.close()
