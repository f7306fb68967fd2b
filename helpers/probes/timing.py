"""Probes that time the documents' speed claims: every duration of alternating runs.

Each probe times every contender once per run, in an order that rotates
from run to run (so drift on a shared machine hits all of them alike), and
returns all durations and their medians.  Which side is faster is decided by
:func:`helpers.observe.faster` from those samples (a bootstrap interval of
the ratio of each run against :data:`MARGIN`), never here.  The loops run in
Python: per-access interpreter overhead is part of every figure, which is
stated in the evidence.  What must be right whatever the timing (the bytes
delivered) is returned too, for the checks to assert.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import socket
import statistics
import struct
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
from helpers.probes.sysv_shm import require_segment_size

#: A contender counts as faster when the other's median is above its own by more than this
#: fraction, with 95 % confidence (the catalogue's methods state it as "10 percent").
MARGIN = 0.10
NOTE = ("alternating runs, each the fastest of BEST_OF repetitions, in CPU time; Python loops, "
        "interpreter overhead included")


#: Each sample is the fastest of this many back-to-back repetitions, so that a run which another
#: process preempted (the machine is shared) does not count as the contender's own time.
BEST_OF = 3


_SCHEDSTAT = "/proc/thread-self/schedstat"


def own_time() -> float:
    """Return wall-clock seconds minus the time this thread waited for a CPU while runnable.

    What remains is the time it ran or was blocked (on the device, say), which
    is what a cold pass costs it; the time other processes of a busy machine
    held the CPUs is taken out, from the run delay of ``/proc/thread-self/
    schedstat`` (sched_debug(8)).  Where the kernel keeps no such figure,
    plain wall-clock time.
    """
    now = time.perf_counter()
    try:
        with open(_SCHEDSTAT, "rb") as stat:
            waited_ns = int(stat.read().split()[1])
    except (OSError, IndexError, ValueError):
        return now
    return now - waited_ns / 1e9


def _timed(run: Callable[[], None], clock: Callable[[], float]) -> float:
    start = clock()
    run()
    return clock() - start


def alternate(contenders: dict[str, Callable[[], None]], runs: int, *,
              clock: Callable[[], float] = time.process_time,
              best_of: int = BEST_OF) -> dict[str, Any]:
    """Time each contender ``runs`` times, rotating the order; return durations and medians.

    The default clock is this process's CPU time (user and system): work done
    in one process is then measured without the time other processes of a
    busy machine held the CPU.  Each sample is the fastest of ``best_of``
    back-to-back repetitions.
    """
    order = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in order}
    for run in range(runs):
        shift = run % len(order)
        for name in order[shift:] + order[:shift]:
            seconds[name].append(min(_timed(contenders[name], clock) for _ in range(best_of)))
    return {"runs": runs, "best_of": best_of, "clock": getattr(clock, "__name__", str(clock)),
            "seconds": {k: [round(v, 7) for v in vs] for k, vs in seconds.items()},
            "medians": {name: statistics.median(values) for name, values in seconds.items()}}


# --- file access: mapping versus pread/pwrite ------------------------------------------------

#: ``ssize_t pread(int, void *, size_t, off_t)`` and ``pwrite`` with the same arguments.
_PREAD_TYPE = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                               ctypes.c_int64)


def _foreign(name: str) -> Any:
    """Return the C library's ``name`` (pread or pwrite) as the same kind of call as memmove.

    ``ctypes.memmove`` is a ``CFUNCTYPE`` prototype over the C function's
    address: it converts its integer arguments, releases the GIL and keeps
    no errno.  Binding pread and pwrite the same way (not through a ``CDLL``
    with ``use_errno``, which saves and restores errno around every call)
    leaves the kernel's work as the difference between the two sides.
    """
    address = ctypes.cast(getattr(ctypes.CDLL(None), name), ctypes.c_void_p).value
    return _PREAD_TYPE(address)


def file_access(path: str, layer: str, runs: dict[str, int], accesses: int) -> dict[str, Any]:
    """Time three access patterns over warm ``path`` through a mapping and through pread/pwrite.

    Patterns: one sequential pass into a 1 MiB buffer (the mapping made and
    removed inside the timed run, as a program reading a file once would),
    random 64-byte reads, and random 8-byte reads each followed by an 8-byte
    write.  The two sides of a pattern make the same number of calls of the
    same kind per access, so that what differs is the access the claims are
    about (a load or store through the mapping against a system call on a
    cached file), not the cost of reaching it from Python:

    * libc: one ctypes foreign call per read or write on either side,
      ``memmove`` between the mapping and a preallocated 64-byte buffer
      against ``pread``/``pwrite`` (:func:`_foreign`) into and out of the
      same buffer; addresses and offsets are worked out before the timed
      loops.  A foreign call costs several times a 64-byte copy, and more so
      when the machine is in a slow phase, while a system call grows less:
      with the call overhead on one side only the ratio followed the phase
      (1.34 in a fast phase, 0.97 in a slow one, for ``string_at``, which
      also allocates a new bytes object, against ``os.pread``).
    * pymmap: one slice of the ``mmap`` object per read (a new bytes object)
      against one ``os.pread`` (a new bytes object too); a write is a slice
      assignment against ``os.pwrite``.

    No wrapper of this suite sits in a timed loop.  ``runs`` gives the runs
    per pattern; a pattern it leaves out is not timed.  Returns, per
    pattern, the timings, and whether an untimed pass of each side's random
    reads delivered the bytes of the file at every offset (``reads_agree``; None when
    random reads were not timed).
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

    target = (ctypes.c_char * chunk).from_buffer(buffer)
    memmove, pread, pwrite = ctypes.memmove, os.pread, os.pwrite
    c_pread, c_pwrite = _foreign("pread"), _foreign("pwrite")
    handle = mapping.handle
    small = ctypes.create_string_buffer(64)
    dst = ctypes.addressof(small)
    addresses = [mapping.addr + offset for offset in offsets]
    after = [offset + 8 for offset in offsets]
    pairs = list(zip(addresses, [a + 8 for a in addresses], strict=True))
    positions = list(zip(offsets, after, strict=True))

    def sequential_mapped() -> None:
        fresh = map_fd(fd, size, layer)
        if fresh.handle is None:
            for offset in range(0, size, chunk):
                memmove(target, fresh.addr + offset, chunk)
        else:
            view = memoryview(fresh.handle)
            for offset in range(0, size, chunk):
                buffer[:] = view[offset:offset + chunk]
            view.release()
        fresh.close()

    def sequential_pread() -> None:
        for offset in range(0, size, chunk):
            os.preadv(fd, [buffer], offset)

    def random_mapped() -> None:
        if handle is None:
            for address in addresses:
                memmove(dst, address, 64)
        else:
            for offset in offsets:
                handle[offset:offset + 64]

    def random_pread() -> None:
        if handle is None:
            for offset in offsets:
                c_pread(fd, dst, 64, offset)
        else:
            for offset in offsets:
                pread(fd, 64, offset)

    def small_rw_mapped() -> None:
        if handle is None:
            for address, source in pairs:
                memmove(dst, source, 8)
                memmove(address, dst, 8)
        else:
            for offset in offsets:
                handle[offset:offset + 8] = handle[offset + 8:offset + 16]

    def small_rw_syscalls() -> None:
        if handle is None:
            for offset, source in positions:
                c_pread(fd, dst, 8, source)
                c_pwrite(fd, dst, 8, offset)
        else:
            for offset in offsets:
                pwrite(fd, pread(fd, 8, offset + 8), offset)

    patterns = {
        "sequential pass": {"mapping": sequential_mapped, "pread": sequential_pread},
        "random 64-byte reads": {"mapping": random_mapped, "pread": random_pread},
        "random 8-byte reads and writes": {"mapping": small_rw_mapped,
                                           "pread/pwrite": small_rw_syscalls},
    }
    results = {pattern: alternate(contenders, runs[pattern])
               for pattern, contenders in patterns.items() if pattern in runs}
    agree = None
    if "random 64-byte reads" in runs:
        agree = all(mapping.read(offset, 64) == os.pread(fd, 64, offset) for offset in offsets)
        if handle is None:
            agree = agree and all(c_pread(fd, dst, 64, o) == 64 and small.raw == mapping.read(o, 64)
                                  for o in offsets)
    mapping.close()
    os.close(fd)
    return {"file_size": size, "accesses": accesses, "note": NOTE, "layer": layer,
            "calls": "libc: one ctypes call per read or write on either side (memmove against "
                     "pread/pwrite), into one preallocated buffer; pymmap: one slice of the mmap "
                     "object against one os.pread/os.pwrite",
            "reads_agree": agree, "patterns": results}


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


_CPU = struct.Struct("d")


def _receive_runs(transport: _Transport, count: int, runs: int, done: int) -> list[int]:
    """Receive ``runs`` batches of ``count`` messages; return how many of each arrived intact.

    Each batch is acknowledged with the CPU time the receiving took here
    (checking the bytes is not part of it).
    """
    deadline = deadline_after(30.0)
    expected = [_message(transport.size, i) for i in range(count)]
    intact = []
    for _ in range(runs):
        start = time.process_time()
        received = [transport.receive(deadline) for _ in range(count)]
        os.write(done, _CPU.pack(time.process_time() - start))
        intact.append(sum(got == want for got, want in zip(received, expected, strict=True)))
    return intact


def transports(kinds: list[str], sizes: dict[int, tuple[int, int]],
               layer: str) -> dict[str, Any]:
    """Time moving batches of messages to a forked receiver, per transport and message size.

    ``sizes`` maps message size to (messages per batch, runs).  Each transport has
    one receiver for all its batches; the batches of the transports
    alternate, in an order that rotates from run to run.  A batch's time is
    the CPU time the sender and the receiver spent on it (so the time other
    processes of a busy machine held the CPUs does not count), the fastest
    of :data:`BEST_OF` batches per run.  Shared memory
    hands each message over through two process-shared semaphores (one
    slot); the others use their own blocking.  Returns per size the
    durations, medians, and how many messages of each batch arrived intact
    (all, or the check fails).
    """
    results: dict[str, Any] = {}
    for size, (count, runs) in sizes.items():
        timed = _timed_batches(kinds, int(size), count, runs, layer)
        timed["messages"] = count
        results[str(size)] = timed
    return {"layer": layer,
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
        receivers = {kind: start_forked(_receive_runs, channels[kind], count,
                                        runs * BEST_OF, acks[kind][1]) for kind in kinds}
        deadline = deadline_after(30.0)

        def batch(kind: str) -> float:
            """Return the CPU time both processes spent moving one batch."""
            start = time.process_time()
            for message in messages:
                channels[kind].send(message, deadline)
            sent = time.process_time() - start
            (received,) = _CPU.unpack(read_exactly(acks[kind][0], _CPU.size, 20.0,
                                                   f"{kind} receiver"))
            return sent + received

        for run in range(runs):
            shift = run % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                seconds[kind].append(min(batch(kind) for _ in range(BEST_OF)))
        intact = {kind: receiver.result(timeout=20.0) for kind, receiver in receivers.items()}
    finally:
        for kind in kinds:
            os.close(acks[kind][0])
            os.close(acks[kind][1])
            channels[kind].close()
    return {"runs": runs, "best_of": BEST_OF, "batches": runs * BEST_OF,
            "seconds": {k: [round(v, 7) for v in vs] for k, vs in seconds.items()},
            "medians": {kind: statistics.median(values) for kind, values in seconds.items()},
            "intact": intact}


# --- System V segment versus file mapping ----------------------------------------------------

def segment_versus_file(path: str, key: int, runs: int, cold_runs: int) -> dict[str, Any]:
    """Time load and store passes over a System V segment and a file mapping of ``path``.

    Cold first, ``cold_runs`` times: the file's cached pages are dropped and
    a fresh mapping's first pass is timed (filling the page cache from the
    device), beside a fresh segment's first pass (zero-filled pages), in
    :func:`own_time`.  Then
    warm: ``runs`` alternating passes over one of each, all pages resident.
    A phase with no runs is left out (a further round may need only one).
    Returns the durations of both, and whether every drop emptied the cache
    (on a filesystem without a separate page cache it cannot).  Raises
    :class:`helpers.libc.Unsupported` when ``kernel.shmmax`` or ``shmall``
    refuse a segment the size of the file.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    require_segment_size(size)  # small System V limits are a setting, not a timing
    scratch = ctypes.create_string_buffer(size)
    create = libc.CONSTANTS["IPC_CREAT"] | libc.CONSTANTS["IPC_EXCL"] | 0o600

    def segment() -> int:
        ident = libc.shmget(key, size, create)
        try:
            return libc.shmat(ident)
        finally:
            libc.shmctl_rmid(ident)  # removed once detached: at exit at the latest

    def one_pass(addr: int) -> None:
        ctypes.memmove(scratch, addr, size)
        ctypes.memset(addr, 0x5A, size)

    cold: dict[str, list[float]] = {"System V segment": [], "file mapping": []}
    evicted = []
    for _ in range(cold_runs):
        evicted.append(not any(drop_cached_pages(fd)))
        mapping = map_fd(fd, size, "libc")
        fresh = {"System V segment": segment(), "file mapping": mapping.addr}
        for name, addr in fresh.items():
            # Waiting for the device is the point of a cold pass: not CPU time.
            cold[name].append(round(_timed(lambda a=addr: one_pass(a), own_time), 7))
        libc.shmdt(fresh["System V segment"])
        mapping.close()
    found: dict[str, Any] = {
        "size": size, "cache_dropped": all(evicted),
        "note": "each pass copies the region out (memmove) and fills it (memset)"}
    if cold_runs:
        found["cold"] = {"runs": cold_runs, "seconds": cold}
    if runs:
        seg_addr, file_addr = segment(), map_fd(fd, size, "libc").addr
        found["warm"] = alternate({"System V segment": lambda: one_pass(seg_addr),
                                   "file mapping": lambda: one_pass(file_addr)}, runs)
    return found
