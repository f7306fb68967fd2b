"""``python -m helpers.ipc.bench_ops``: what one ``send`` and one ``recv`` cost, without a peer.

The throughput and latency runs of ``helpers.ipc.bench`` move messages
between two processes, so on a busy machine they measure the scheduler as
much as the channel: the same code measured minutes apart differs by a
factor of two.  This measures the fast paths alone, in one process: bursts
of sends into an empty ring, then as many receives, and keeps the fastest
burst of many.  A burst the scheduler interrupted is slower, never faster,
so the minimum stays close to the cost of the code itself, and a change to
the fast paths shows here even when the two-process figures are noise.
The channel is a memfd, so nothing is left behind whatever happens.
"""

from __future__ import annotations

import argparse
import time

from helpers.ipc.channel import Channel

#: messages per burst: few enough that a burst usually runs within one time slice.
BURST = 200


def fast_path_ns(size: int = 64, bursts: int = 300) -> dict[str, float]:
    """Return the nanoseconds of one ``send`` and one ``recv`` of ``size`` bytes (fastest burst)."""
    payload = b"\xa5" * size
    channel = Channel.create("bench-ops", max(1 << 20, 4 * BURST * (size + 64)),
                             backend="memfd")
    try:
        send, recv = channel.send, channel.recv
        for _ in range(BURST):  # first use: the peer slot, caches
            send(payload)
            recv()
        clock = time.perf_counter_ns
        best_send = best_recv = float("inf")
        for _ in range(bursts):
            started = clock()
            for _ in range(BURST):
                send(payload)
            sent = clock()
            for _ in range(BURST):
                recv()
            best_send = min(best_send, (sent - started) / BURST)
            best_recv = min(best_recv, (clock() - sent) / BURST)
    finally:
        channel.close()
    return {"send_ns": best_send, "recv_ns": best_recv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.ipc.bench_ops",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    parser.add_argument("--bursts", type=int, default=300, help="bursts whose fastest counts")
    args = parser.parse_args(argv)
    cost = fast_path_ns(args.size, args.bursts)
    print(f"{args.size} B: send {cost['send_ns']:.0f} ns, recv {cost['recv_ns']:.0f} ns "
          f"(fastest of {args.bursts} bursts of {BURST})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
