"""``python -m helpers.ipc.bench_ops``: what one ``send`` and one ``recv`` cost, without a peer.

The throughput and latency runs of ``helpers.ipc.bench`` move messages
between two processes, so on a busy machine they measure the scheduler as
much as the channel: the same code measured minutes apart differs by a
factor of two.  This measures the fast paths alone, in one process: bursts
of sends into an empty ring, then as many receives, and keeps the fastest
burst of many.  A burst the scheduler interrupted is slower, never faster,
so the minimum stays close to the cost of the code itself, and a change to
the fast paths shows here even when the two-process figures are noise.

Beside the channel it times, the same way and in turns, the two ends of the bench's
``os.pipe`` transport (``writev`` of the framed message, the buffered
reader) and the bare calls one channel message cannot do without (enter
the side, load the position, copy the payload, write the header, publish,
leave, look for waiters), with no check and no Python logic around them.
In a one-to-one stream the slower end sets the rate, so the ratio of the
slower ends is what the two-process ratio can reach at best; the bare
calls bound what any Python code over these atomics can reach.
The channel is a memfd, so nothing is left behind whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import mmap
import time
from collections.abc import Callable, Iterator

from helpers.ipc import atomic, bench_transports, codec
from helpers.ipc.channel import Channel

#: messages per burst: few enough that a burst usually runs within one time slice.
BURST = 200


Subject = tuple[Callable[[bytes], object], Callable[[], object]]


def fastest(subjects: dict[str, Subject], payload: bytes, bursts: int
            ) -> dict[str, dict[str, float]]:
    """Return the ns of one send and one receive of each subject: the fastest of its bursts.

    The subjects take turns burst by burst, so a slow phase of the machine
    (on a shared host they last seconds) falls on all of them alike.
    """
    for send, recv in subjects.values():
        for _ in range(BURST):  # first use: the peer slot, caches
            send(payload)
            if recv() != payload:  # what is timed must really move the bytes
                raise RuntimeError("a timed round trip did not return the payload it was given")
    clock = time.perf_counter_ns
    best = {name: {"send_ns": float("inf"), "recv_ns": float("inf")} for name in subjects}
    for _ in range(bursts):
        for name, (send, recv) in subjects.items():
            started = clock()
            for _ in range(BURST):
                send(payload)
            sent = clock()
            for _ in range(BURST):
                recv()
            mine = best[name]
            mine["send_ns"] = min(mine["send_ns"], (sent - started) / BURST)
            mine["recv_ns"] = min(mine["recv_ns"], (clock() - sent) / BURST)
    return best


@contextlib.contextmanager
def channel_subject(size: int) -> Iterator[Subject]:
    """Yield ``send`` and ``recv`` of a fresh memfd channel with room for a burst."""
    channel = Channel.create("bench-ops", max(1 << 20, 4 * BURST * (size + 64)),
                             backend="memfd")
    try:
        yield channel.send, channel.recv
    finally:
        channel.close()


@contextlib.contextmanager
def pipe_subject(size: int) -> Iterator[Subject]:
    """Yield the two ends of the bench's ``os.pipe`` transport, used in one process."""
    transport = bench_transports.os_pipe(0)
    try:
        yield transport.sender(), transport.receiver()
    finally:
        transport.close()


@contextlib.contextmanager
def bare_calls_subject(size: int) -> Iterator[Subject]:
    """Yield the calls of one message alone, on a private mapping.

    The send side: compare-and-swap in, position load, payload copy, header
    write, position store, compare-and-swap out, attention load.  The
    receive side: the same lock and loads, header read, payload copy out,
    position store.  No bound is checked and no frame ever wraps.
    """
    frame = codec.size_of(size)
    ring = BURST * frame
    area = mmap.mmap(-1, 4096 + ring)
    control = atomic.Control(area)
    lock, attention, head_cell = control.locks[0], control.attention[0], control.head
    tail_cell = control.tail
    cas, order = lock.cas, atomic.SEQ_CST
    view = memoryview(area)
    data = view[4096:]
    hdr, pack_into, unpack_from = codec.HDR, codec.pack_into, codec.unpack_from

    def send(payload: bytes) -> None:
        cas(0, 1, order)
        head = head_cell.load(atomic.RELAXED)
        off = head % ring
        n = len(payload)
        data[off + hdr:off + hdr + n] = payload
        pack_into(data, off, head, n, n)
        head_cell.store(head + frame, order)
        cas(1, 0, order)
        attention.load(order)

    def recv() -> bytes:
        cas(0, 1, order)
        tail = tail_cell.load(atomic.RELAXED)
        head_cell.load(atomic.ACQUIRE)
        off = tail % ring
        _, n, _ = unpack_from(data, off)
        got = area[4096 + off + hdr:4096 + off + hdr + n]
        tail_cell.store(tail + frame, order)
        cas(1, 0, order)
        attention.load(order)
        return got

    try:
        yield send, recv
    finally:
        control.close()
        data.release()
        view.release()
        area.close()


SUBJECTS = {"channel": channel_subject, "os.pipe": pipe_subject,
            "bare calls": bare_calls_subject}


def costs(size: int = 64, bursts: int = 300, names: tuple[str, ...] = tuple(SUBJECTS)
          ) -> dict[str, dict[str, float]]:
    """Return {subject: {"send_ns", "recv_ns"}} of ``size``-byte messages, measured in turns."""
    with contextlib.ExitStack() as stack:
        subjects = {name: stack.enter_context(SUBJECTS[name](size)) for name in names}
        return fastest(subjects, b"\xa5" * size, bursts)


def fast_path_ns(size: int = 64, bursts: int = 300) -> dict[str, float]:
    """Return the nanoseconds of one ``send`` and one ``recv`` of ``size`` bytes (fastest burst)."""
    return costs(size, bursts, ("channel",))["channel"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.ipc.bench_ops",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    parser.add_argument("--bursts", type=int, default=300, help="bursts whose fastest counts")
    args = parser.parse_args(argv)
    rows = costs(args.size, args.bursts)
    print(f"{args.size} B, ns per message (fastest of {args.bursts} bursts of {BURST}, "
          "the three taking turns):")
    for name, cost in rows.items():
        print(f"  {name:10}  send {cost['send_ns']:6.0f}  recv {cost['recv_ns']:6.0f}")
    slower = {name: max(cost.values()) for name, cost in rows.items()}
    print(f"slower end, os.pipe / channel: {slower['os.pipe'] / slower['channel']:.2f}x; "
          f"os.pipe / bare calls: {slower['os.pipe'] / slower['bare calls']:.2f}x "
          "(in a one-to-one stream the slower end sets the rate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
