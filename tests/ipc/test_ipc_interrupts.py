"""Asynchronous exceptions inside send and recv delay one call; they never wedge or lose.

A timer signal fires every few dozen microseconds in producers and consumers,
and its handler raises whenever it runs inside the channel's own code (the
frame it interrupts belongs to ``helpers/ipc``): that is where a
``KeyboardInterrupt`` can do harm.  Outside, it does nothing, so the test's
own bookkeeping is never interrupted between a call returning and its value
being recorded.  A ``send`` that raised is in doubt (it may have committed);
a ``recv`` that raised returned nothing, and its message must come with the
next call.  Afterwards fresh peers must find both sides free at once.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from helpers.ipc import Channel, Empty, procs, roles, workload
from helpers.ipc.naming import fresh_name

PACKAGE = Path(roles.__file__).parent
#: the files of the channel itself (the workload and roles are the test's own tools).
CHANNEL_CODE = frozenset(str(PACKAGE / f"{module}.py") for module in (
    "channel", "codec", "locks", "peers", "segment", "layout", "sleeping", "liveness",
    "futex", "native", "atomic", "arguments", "faults", "errors", "waiting", "opening"))
MESSAGES = 3000


class Interrupted(Exception):
    """What the timer raises inside the channel (a stand-in for KeyboardInterrupt)."""


def _interrupt_inside_the_channel(seed: int) -> dict[str, int]:
    """Arm a random repeating timer whose handler raises inside channel code."""
    rng = random.Random(seed)
    counts = {"signals": 0, "raised": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        counts["signals"] += 1
        signal.setitimer(signal.ITIMER_REAL, rng.uniform(20e-6, 300e-6))
        if frame is not None and frame.f_code.co_filename in CHANNEL_CODE:
            counts["raised"] += 1
            raise Interrupted

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 100e-6)
    return counts


def _quiet() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def _producer(peer: roles.Peer, producer: int, batch: int) -> dict:
    channel = peer.open()
    counts = _interrupt_inside_the_channel(producer)
    doubt = []
    seq = 0
    while seq < MESSAGES:
        group = [workload.make(producer, s, 24 + s % 200)
                 for s in range(seq, min(seq + batch, MESSAGES))]
        try:
            if batch == 1:
                channel.send(group[0], timeout=20)
            else:
                channel.send_many(group, timeout=20)
        except Interrupted:
            doubt.extend(range(seq, seq + len(group)))
        seq += len(group)
    _quiet()
    channel.close()
    return {"doubt": doubt, **counts}


def _consumer(peer: roles.Peer, seed: int, how: str) -> dict:
    channel = peer.open()
    counts = _interrupt_inside_the_channel(seed)
    tally = workload.Tally()
    buffer = bytearray(4096)
    interrupted = 0
    got: list = []
    while True:
        try:
            if how == "recv":
                got = [channel.recv(timeout=20)]
            elif how == "recv_many":
                got = channel.recv_many(16, timeout=20)
            else:
                got = [bytes(buffer[:channel.recv_into(buffer, timeout=20)])]
        except Interrupted:
            interrupted += 1
            continue
        except Empty:
            break
        for raw in got:
            if raw == roles.STOP:
                tally.stopped = True
            else:
                tally.record(raw)
        if tally.stopped:
            break
    _quiet()
    for _ in range(got.count(roles.STOP) - 1):  # a batch took another consumer's stop too
        channel.send(roles.STOP, timeout=20)
    channel.close()
    return {"tally": tally, "interrupted": interrupted, **counts}


@pytest.fixture
def channel() -> Iterator[Channel]:
    with Channel.create(fresh_name("shm", "intr"), 1 << 14) as made:
        yield made


@pytest.mark.parametrize(("batch", "how"), [(1, "recv"), (8, "recv_many"), (1, "recv_into")])
def test_interrupts_never_wedge_lose_or_duplicate(channel: Channel, batch: int,
                                                  how: str) -> None:
    peer = roles.Peer.of(channel)
    consumers = [procs.spawn(_consumer, peer, 100 + i, how) for i in range(2)]
    producers = [procs.spawn(_producer, peer, i, batch) for i in range(2)]
    try:
        sent = [p.join(timeout=50) for p in producers]
        # Only one consumer may take the first stop: stop messages go one by one.
        roles.stop_consumers(channel, len(consumers), timeout=20)
        got = [c.join(timeout=50) for c in consumers]
    finally:
        for child in producers + consumers:
            child.close()
    raised = sum(r["raised"] for r in sent + got)
    assert raised > 50, f"too few interrupts landed inside the channel ({raised})"
    tallies = [g["tally"] for g in got]
    assert all(t.stopped for t in tallies), "a consumer never got its stop message"
    verdict = workload.verify(tallies, {p: MESSAGES for p in range(len(producers))})
    doubt = {(p, s) for p, result in enumerate(sent) for s in result["doubt"]}
    assert verdict.torn == 0 and verdict.duplicated == 0 and verdict.out_of_order == 0
    assert verdict.unexpected == 0
    assert verdict.lost <= len(doubt), "a committed message was lost"

    started = time.monotonic()
    fresh = Channel.attach(channel.name)
    try:
        fresh.send(b"fresh", timeout=2)
        assert fresh.recv(timeout=2) == b"fresh"
    finally:
        fresh.close()
    assert time.monotonic() - started < 1.0, "a side was left held"
    assert channel.statistics().used == 0


@pytest.mark.parametrize("module", ["channel", "waiting"])
def test_no_loop_inside_a_try_that_leaves_a_side(module: str) -> None:
    """CPython 3.13 leaves a loop's backward jump out of the try's exception table.

    An exception a signal handler raises at that jump skips the ``finally``,
    and with it the release of the side: the loops live in functions of
    their own, called from inside the ``try``.
    """
    import ast

    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    offenders = [node.lineno for node in ast.walk(tree)
                 if isinstance(node, ast.Try) and node.finalbody
                 for inner in node.body for sub in ast.walk(inner)
                 if isinstance(sub, (ast.While, ast.For))]
    assert offenders == [], f"{module}.py: a loop inside a try with finally at {offenders}"
