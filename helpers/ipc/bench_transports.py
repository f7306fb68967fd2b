"""The transports the benchmark compares, each moving discrete messages the same way.

Every transport gets one send call and one receive call per message, and a
frame (a 4-byte length) where the transport is a byte stream: ``os.pipe``
and the Unix ``socketpair`` send the frame and the payload in one
``writev``/``sendmsg`` and read them back through a buffered reader, the
fastest discrete-message use the standard library offers.  The queues and
``multiprocessing.Pipe`` frame messages themselves.  A transport is set up
in the parent and used in forked children through ``sender()`` and
``receiver()``, which return the two calls.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from helpers.ipc.channel import Channel
from helpers.ipc.naming import fresh_name

_LENGTH = struct.Struct("<I")

Send = Callable[[bytes], object]
Recv = Callable[[], bytes]


@dataclass
class Transport:
    """One configured transport: its name, its two calls, and what to release after."""

    name: str
    sender: Callable[[], Send]
    receiver: Callable[[], Recv]
    close: Callable[[], None]
    multi: bool = False  #: safe for several senders and several receivers at once
    batch_sender: Callable[[], Callable[[list[bytes]], object]] | None = None
    batch_receiver: Callable[[], Callable[[int], list[bytes]]] | None = None
    #: what a sending child must call before it exits so nothing stays buffered
    finish: Callable[[], None] = lambda: None


def channel(capacity: int) -> Transport:
    """Return the channel over POSIX shm, with its batched calls."""
    made = Channel.create(fresh_name("shm", "bench"), capacity)

    def close() -> None:
        made.close()
        made.unlink()

    return Transport(
        "channel", lambda: made.send, lambda: made.recv, close, multi=True,
        batch_sender=lambda: made.send_many,
        batch_receiver=lambda: made.recv_many,
    )


def mp_queue(capacity: int) -> Transport:
    """Return ``multiprocessing.Queue`` (pickled messages, a feeder thread)."""
    queue = multiprocessing.get_context("fork").Queue()

    def close() -> None:
        queue.close()
        queue.join_thread()

    def finish() -> None:  # the feeder thread must flush before the child's os._exit
        queue.close()
        queue.join_thread()

    return Transport("multiprocessing.Queue", lambda: queue.put, lambda: queue.get, close,
                     multi=True, finish=finish)


def mp_pipe(capacity: int) -> Transport:
    """Return ``multiprocessing.Pipe(duplex=False)`` with ``send_bytes``/``recv_bytes``."""
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)

    def close() -> None:
        reader.close()
        writer.close()

    return Transport("multiprocessing.Pipe", lambda: writer.send_bytes,
                     lambda: reader.recv_bytes, close)


def _framed_reader(fd: int) -> Recv:
    stream = open(fd, "rb", buffering=1 << 16, closefd=False)  # noqa: SIM115 - lives with the child
    read = stream.read
    unpack = _LENGTH.unpack

    def recv() -> bytes:
        (length,) = unpack(read(4))
        return read(length)

    return recv


def os_pipe(capacity: int) -> Transport:
    """Return ``os.pipe`` with a 4-byte length frame, ``writev`` and a buffered reader."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 1 << 20)  # as roomy as the channel's ring

    def sender() -> Send:
        pack = _LENGTH.pack
        writev = os.writev
        return lambda data: writev(write_fd, (pack(len(data)), data))

    def close() -> None:
        os.close(read_fd)
        os.close(write_fd)

    return Transport("os.pipe", sender, lambda: _framed_reader(read_fd), close)


def unix_socketpair(capacity: int) -> Transport:
    """Return a Unix stream ``socketpair``: 4-byte frame, ``sendmsg``, buffered reader."""
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for sock in (left, right):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def sender() -> Send:
        pack = _LENGTH.pack
        sendmsg = left.sendmsg

        def send(data: bytes) -> None:
            parts = [pack(len(data)), data]
            total = 4 + len(data)
            sent = sendmsg(parts)
            if sent < total:  # a large message may go out in pieces
                left.sendall(b"".join(parts)[sent:])

        return send

    def close() -> None:
        left.close()
        right.close()

    return Transport("socketpair(AF_UNIX)", sender, lambda: _framed_reader(right.fileno()),
                     close)


def faster_fifo_queue(capacity: int) -> Transport | None:
    """Return ``faster_fifo.Queue`` when the package is installed, else None."""
    try:
        import faster_fifo
    except ImportError:
        return None
    queue = faster_fifo.Queue(max_size_bytes=max(capacity, 1 << 22))
    return Transport("faster_fifo.Queue", lambda: queue.put, lambda: queue.get,
                     lambda: None, multi=True)


def _iceoryx2_leftovers() -> set[str]:
    """Return iceoryx2's files and shm objects as they are now (to remove only new ones)."""
    found = {os.path.join("/dev/shm", e) for e in os.listdir("/dev/shm") if e.startswith("iox2")}
    if os.path.isdir(_ICEORYX2_ROOT):
        found.add(_ICEORYX2_ROOT)
    return found


_ICEORYX2_ROOT = "/tmp/iceoryx2"


def iceoryx2_pubsub(capacity: int) -> Transport | None:
    """Return iceoryx2's Python publish-subscribe (byte slices), when the package is installed.

    The publisher loans a sample, copies the message in and sends it; it
    retries while the subscriber's buffer is full, so nothing is dropped.
    The subscriber polls ``receive`` and copies the payload out into bytes,
    as the other transports hand out bytes.  A sender waits until the
    subscriber exists (publish-subscribe keeps nothing for late joiners).

    A sending child never drops its publisher: dropping it takes back every
    sample the subscriber has not received yet (all of them, in a probe of
    a hundred), so a sender that runs ahead, as it does at 64 B, would leave
    its receiver waiting for messages that no longer exist until the case's
    time limit.  The child ends with ``os._exit``, the subscriber keeps its
    own mapping of the samples, and ``close`` removes the files.
    """
    try:
        import ctypes

        import iceoryx2 as iox
    except ImportError:
        return None
    iox.set_log_level_from_env_or(iox.LogLevel.Error)
    before = _iceoryx2_leftovers()
    name = iox.ServiceName.new(os.path.basename(fresh_name("shm", "iox2")))
    keep: list[object] = []  # the node and ports of this process, alive until it exits

    def service() -> object:
        node = iox.NodeBuilder.new().create(iox.ServiceType.Ipc)
        made = (node.service_builder(name).publish_subscribe(iox.Slice[ctypes.c_uint8])
                .subscriber_max_buffer_size(1024).enable_safe_overflow(False)
                .open_or_create())
        keep.extend((node, made))
        return made

    def sender() -> Send:
        made = service()
        publisher = (made.publisher_builder().initial_max_slice_len(max(capacity // 4, 64))
                     .allocation_strategy(iox.AllocationStrategy.PowerOfTwo)
                     .backpressure_strategy(iox.BackpressureStrategy.RetryUntilDelivered)
                     .create())
        keep.append(publisher)
        deadline = time.monotonic() + 10
        while made.dynamic_config.number_of_subscribers < 1:
            if time.monotonic() >= deadline:
                raise TimeoutError("no iceoryx2 subscriber appeared within 10 s")
            time.sleep(0.001)  # bounded: the subscriber is made before the sender starts
        loan, memmove = publisher.loan_slice_uninit, ctypes.memmove

        def send(data: bytes) -> None:
            sample = loan(len(data))
            memmove(sample.payload_ptr, data, len(data))
            sample.assume_init().send()

        return send

    def receiver() -> Recv:
        subscriber = service().subscriber_builder().buffer_size(1024).create()
        keep.append(subscriber)
        receive = subscriber.receive

        def recv() -> bytes:
            while True:
                sample = receive()
                if sample is not None:
                    return bytes(sample.payload().as_memory_view())

        return recv

    def close() -> None:
        keep.clear()
        for path in _iceoryx2_leftovers() - before:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    return Transport("iceoryx2 publish-subscribe", sender, receiver, close)


BASELINES = (mp_queue, mp_pipe, os_pipe, unix_socketpair, faster_fifo_queue, iceoryx2_pubsub)
