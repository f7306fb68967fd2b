"""Probes that time the documents' speed claims: medians of alternating runs, with a margin.

Each probe times every contender once per run, in an order that rotates
from run to run (so drift on a shared machine hits all of them alike), and
returns all durations, the medians and a comparison against a stated
margin.  The loops run in Python: per-access interpreter overhead is part of
every figure, which is stated in the evidence.  What must be right whatever
the timing (the bytes delivered) is returned too, for the checks to assert.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from helpers import libc, names
from helpers.probes.ipc import (
    MessageQueue,
    Semaphore,
    deadline_after,
    read_exactly,
    start_forked,
)
from helpers.probes.pages import PAGE, drop_cached_pages, map_anonymous, map_fd

#: A contender must be faster by this fraction of the other's median to count as faster.
MARGIN = 0.10
NOTE = "medians of alternating runs in one process; Python loops, interpreter overhead included"


def compare(medians: dict[str, float], candidate: str, margin: float = MARGIN) -> str:
    """Return how ``candidate``'s median compares with the other medians.

    Against one other: ``"faster"`` or ``"slower"`` when one median is lower
    than the other by at least ``margin`` (a fraction of the higher one),
    else ``"no clear difference"``.  Against several: ``"fastest"`` or
    ``"slowest"`` when that holds against each of them, else ``"not clearly
    fastest"``.
    """
    others = [value for name, value in medians.items() if name != candidate]
    mine = medians[candidate]
    ahead = all(mine <= other * (1 - margin) for other in others)
    behind = all(other <= mine * (1 - margin) for other in others)
    if len(others) == 1:
        return "faster" if ahead else "slower" if behind else "no clear difference"
    return "fastest" if ahead else "slowest" if behind else "not clearly fastest"


def alternate(contenders: dict[str, Callable[[], None]], runs: int) -> dict[str, Any]:
    """Time each contender ``runs`` times, rotating the order; return durations and medians."""
    order = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in order}
    for run in range(runs):
        shift = run % len(order)
        for name in order[shift:] + order[:shift]:
            start = time.perf_counter()
            contenders[name]()
            seconds[name].append(time.perf_counter() - start)
    return {"runs": runs, "seconds": {k: [round(v, 6) for v in vs] for k, vs in seconds.items()},
            "medians": {name: statistics.median(values) for name, values in seconds.items()}}


# --- file access: mapping versus pread/pwrite ------------------------------------------------

def file_access(path: str, layer: str, runs: int, accesses: int) -> dict[str, Any]:
    """Time three access patterns over warm ``path`` through a mapping and through pread/pwrite.

    Patterns: one sequential pass (the mapping made and removed inside the
    timed run, as a program reading a file once would), random 64-byte
    reads, and random 8-byte reads each followed by an 8-byte write.
    Returns, per pattern, the timings and how the mapping compares.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    os.pread(fd, size, 0)  # warm: every page in the page cache
    rng = random.Random(1)
    offsets = [rng.randrange(0, size - 64) & ~7 for _ in range(accesses)]
    chunk = 1 << 20
    buffer = bytearray(chunk)
    mapping = map_fd(fd, size, layer)
    mapping.touch(range(size // PAGE), write=False)

    def sequential_mapped() -> None:
        fresh = map_fd(fd, size, layer)
        for offset in range(0, size, chunk):
            fresh.read(offset, chunk)
        fresh.close()

    def sequential_pread() -> None:
        for offset in range(0, size, chunk):
            os.preadv(fd, [buffer], offset)

    def random_mapped() -> None:
        read = mapping.read
        for offset in offsets:
            read(offset, 64)

    def random_pread() -> None:
        for offset in offsets:
            os.pread(fd, 64, offset)

    def small_rw_mapped() -> None:
        read, write = mapping.read, mapping.write
        for offset in offsets:
            write(offset, read(offset + 8, 8))

    def small_rw_syscalls() -> None:
        for offset in offsets:
            os.pwrite(fd, os.pread(fd, 8, offset + 8), offset)

    patterns = {
        "sequential pass": {"mapping": sequential_mapped, "pread": sequential_pread},
        "random 64-byte reads": {"mapping": random_mapped, "pread": random_pread},
        "random 8-byte reads and writes": {"mapping": small_rw_mapped,
                                           "pread/pwrite": small_rw_syscalls},
    }
    results: dict[str, Any] = {}
    for pattern, contenders in patterns.items():
        timed = alternate(contenders, runs)
        timed["mapping"] = compare(timed["medians"], "mapping")
        results[pattern] = timed
    return {"file_size": size, "accesses": accesses, "margin": MARGIN, "note": NOTE,
            "layer": layer, "patterns": results}


# --- transports between two processes --------------------------------------------------------

#: Bytes a pipe holds by default (pipe(7)); the shared-memory ring gets as much, and two slots
#: at least, so that neither side of any transport waits for the other on every message.
PIPE_CAPACITY = 16 * PAGE


class _Transport:
    """One way of moving messages from this process to a forked receiver.

    Shared memory is a ring of slots in a shared anonymous mapping with two
    counting semaphores (free slots, filled slots), each side keeping its own
    index; the other transports are the kernel's own.
    """

    def __init__(self, kind: str, size: int, layer: str) -> None:
        self.kind, self.size, self.layer = kind, size, layer
        self.pieces = 1
        self._closers: list[Callable[[], None]] = []
        if kind == "shared memory":
            self.slots = max(2, PIPE_CAPACITY // size)
            self.sent = self.received = 0
            ring = self.slots * size
            self.region = map_anonymous(ring + PAGE, layer, shared=True)
            self.empty = Semaphore.create(self.region.addr + ring, self.slots)
            self.full = Semaphore.create(self.region.addr + ring + 64, 0)
        elif kind in ("pipe", "FIFO"):
            if kind == "pipe":
                self.rx, self.tx = os.pipe()
            else:
                path = os.path.join(tempfile.gettempdir(), names.unique_name("fifo"))
                os.mkfifo(path, 0o600)
                try:  # O_RDWR never blocks on a FIFO; the name goes at once
                    self.tx = os.open(path, os.O_RDWR)
                    self.rx = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                    os.set_blocking(self.rx, True)
                finally:
                    os.unlink(path)
            self._closers += [lambda: os.close(self.rx), lambda: os.close(self.tx)]
        elif kind == "POSIX message queue":
            name = names.shm_name("mq")
            self.piece = min(size, 8192)  # msgsize_max without CAP_SYS_RESOURCE
            self.pieces = size // self.piece
            try:
                self.txq = MessageQueue(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                        maxmsg=10, msgsize=self.piece)
                self.rxq = MessageQueue(name, os.O_RDONLY)
            finally:
                with contextlib.suppress(OSError):
                    MessageQueue.unlink(name)
            self._closers += [self.txq.close, self.rxq.close]
        elif kind == "Unix socket":
            self.txs, self.rxs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._closers += [self.txs.close, self.rxs.close]
        else:
            raise ValueError(f"unknown transport {kind!r}")

    def send(self, message: bytes, deadline: Any) -> None:
        """Send one message, waiting for room until ``deadline`` at most."""
        if self.kind == "shared memory":
            self.empty.wait(deadline)
            self.region.write(self.sent % self.slots * self.size, message)
            self.sent += 1
            self.full.post()
        elif self.kind in ("pipe", "FIFO"):
            view = memoryview(message)
            while view:
                view = view[os.write(self.tx, view):]
        elif self.kind == "POSIX message queue":
            for piece in range(self.pieces):
                self.txq.send(message[piece * self.piece:(piece + 1) * self.piece], deadline)
        else:
            self.txs.sendall(message)

    def receive(self, deadline: Any) -> bytes:
        """Return one message, in the receiving process."""
        if self.kind == "shared memory":
            self.full.wait(deadline)
            data = self.region.read(self.received % self.slots * self.size, self.size)
            self.received += 1
            self.empty.post()
            return data
        if self.kind in ("pipe", "FIFO"):
            return read_exactly(self.rx, self.size, 10.0)
        if self.kind == "POSIX message queue":
            return b"".join(self.rxq.receive(self.piece, deadline) for _ in range(self.pieces))
        data = bytearray()
        while len(data) < self.size:
            data += self.rxs.recv(self.size - len(data))
        return bytes(data)

    def close(self) -> None:
        """Release descriptors and memory."""
        for close in self._closers:
            close()
        if self.kind == "shared memory":
            self.region.close()


def _message(size: int, index: int) -> bytes:
    return index.to_bytes(4, "little") * (size // 4)


def _receive_runs(transport: _Transport, count: int, runs: int, done: int) -> list[int]:
    """Receive ``runs`` batches of ``count`` messages; ack each batch; return intact counts."""
    deadline = deadline_after(30.0)
    intact = []
    for _ in range(runs):
        intact.append(sum(transport.receive(deadline) == _message(transport.size, i)
                          for i in range(count)))
        os.write(done, b"d")
    return intact


def transports(kinds: list[str], sizes: dict[int, int], runs: int, layer: str) -> dict[str, Any]:
    """Time moving batches of messages to a forked receiver, per transport and message size.

    ``sizes`` maps message size to messages per batch.  Each transport has
    one receiver for all its batches; the batches of the transports
    alternate, in an order that rotates from run to run.  Shared memory
    hands each message over through two process-shared semaphores (one
    slot); the others use their own blocking.  Returns per size the
    durations, medians, how shared memory compares with the rest, and how
    many messages of each batch arrived intact (all, or the check fails).
    """
    results: dict[str, Any] = {}
    for size, count in sizes.items():
        timed = _timed_batches(kinds, size, count, runs, layer)
        timed["shared memory"] = compare(timed["medians"], "shared memory")
        timed["messages"] = count
        results[str(size)] = timed
    return {"margin": MARGIN, "layer": layer,
            "note": NOTE + "; each message handed over separately; shared memory is a ring of "
            "max(2, 64 KiB / size) slots with two semaphores; set-up and fork not timed",
            "sizes": results}


def _timed_batches(kinds: list[str], size: int, count: int, runs: int,
                   layer: str) -> dict[str, Any]:
    messages = [_message(size, i) for i in range(count)]
    channels = {kind: _Transport(kind, size, layer) for kind in kinds}
    acks = {kind: os.pipe() for kind in kinds}
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        receivers = {kind: start_forked(_receive_runs, channels[kind], count, runs,
                                        acks[kind][1]) for kind in kinds}
        deadline = deadline_after(30.0)
        for run in range(runs):
            shift = run % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                start = time.perf_counter()
                for message in messages:
                    channels[kind].send(message, deadline)
                read_exactly(acks[kind][0], 1, 20.0, f"{kind} receiver")
                seconds[kind].append(time.perf_counter() - start)
        intact = {kind: receiver.result(timeout=20.0) for kind, receiver in receivers.items()}
    finally:
        for kind in kinds:
            os.close(acks[kind][0])
            os.close(acks[kind][1])
            channels[kind].close()
    return {"runs": runs, "seconds": {k: [round(v, 6) for v in vs] for k, vs in seconds.items()},
            "medians": {kind: statistics.median(values) for kind, values in seconds.items()},
            "intact": intact}


# --- System V segment versus file mapping ----------------------------------------------------

def segment_versus_file(path: str, key: int, runs: int) -> dict[str, Any]:
    """Time load and store passes over a System V segment and a file mapping of ``path``.

    Cold first: the file's cache is dropped and each region's first pass is
    timed (page cache fill from the device versus zero-filled pages).  Then
    warm: alternating passes over both, all pages resident.  Returns both
    comparisons for the segment.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    evicted = not any(drop_cached_pages(fd))
    segment = libc.shmget(key, size, libc.CONSTANTS["IPC_CREAT"] | libc.CONSTANTS["IPC_EXCL"]
                          | 0o600)
    try:
        seg_addr = libc.shmat(segment)
    finally:
        libc.shmctl_rmid(segment)  # removed once detached: at exit at the latest
    file_addr = map_fd(fd, size, "libc").addr
    scratch = ctypes.create_string_buffer(size)

    def one_pass(addr: int) -> Callable[[], None]:
        def run() -> None:
            ctypes.memmove(scratch, addr, size)
            ctypes.memset(addr, 0x5A, size)
        return run

    passes = {"System V segment": one_pass(seg_addr), "file mapping": one_pass(file_addr)}
    cold = {}
    for name, run in passes.items():
        start = time.perf_counter()
        run()
        cold[name] = time.perf_counter() - start
    warm = alternate(passes, runs)
    warm["System V segment"] = compare(warm["medians"], "System V segment")
    return {"size": size, "margin": MARGIN, "cache_dropped": evicted,
            "note": "each pass copies the region out (memmove) and fills it (memset)",
            "cold": {"seconds": cold, "System V segment": compare(cold, "System V segment")},
            "warm": warm}
