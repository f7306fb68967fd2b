"""The channel's API on all three backends: round trips, life cycle, bad arguments."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import stat
import time
from collections.abc import Callable, Iterator

import pytest

from helpers.ipc import (
    Channel,
    ChannelClosed,
    ChannelError,
    ChannelExists,
    ChannelNotFound,
    ChannelTypeError,
    ChannelValueError,
    Empty,
    Full,
    MessageTooLarge,
    procs,
)
from helpers.ipc.backends import memfd
from helpers.ipc.naming import BACKENDS, fresh_name

Factory = Callable[..., Channel]


@pytest.fixture
def make_channel() -> Iterator[Factory]:
    """Return ``make(backend="shm", capacity=4096, **kw)``; every channel is removed after."""
    made: list[Channel] = []

    def make(backend: str = "shm", capacity: int = 4096, **options: object) -> Channel:
        channel = Channel.create(fresh_name(backend), capacity, backend=backend, **options)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()
        channel.unlink()


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_keeps_bytes_and_order(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend)
    messages = [b"", b"a", bytes(range(256)), b"z" * 1000]
    for message in messages:
        channel.send(message)
    assert [channel.recv(timeout=1) for _ in messages] == messages


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrap_around_keeps_every_message_whole(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend, capacity=256)
    for round_ in range(200):
        message = bytes([round_ % 251]) * (round_ % 97)
        channel.send(message, timeout=1)
        assert channel.recv(timeout=1) == message
    assert channel.statistics().head > 10 * channel.capacity


def test_bytes_like_inputs_are_accepted(make_channel: Factory) -> None:
    import array

    channel = make_channel()
    channel.send(bytearray(b"ab"))
    channel.send(memoryview(b"xcdx")[1:3])
    channel.send(array.array("H", [1, 2]))
    assert channel.recv() == b"ab"
    assert channel.recv() == b"cd"
    assert channel.recv() == array.array("H", [1, 2]).tobytes()


def test_recv_into_copies_and_reports_length(make_channel: Factory) -> None:
    channel = make_channel()
    channel.send(b"hello")
    buffer = bytearray(16)
    assert channel.recv_into(buffer, timeout=1) == 5
    assert buffer[:5] == b"hello"


def test_recv_into_small_buffer_leaves_message_queued(make_channel: Factory) -> None:
    channel = make_channel()
    channel.send(b"0123456789")
    with pytest.raises(ChannelValueError, match="stays queued"):
        channel.recv_into(bytearray(4), timeout=1)
    assert channel.recv(timeout=1) == b"0123456789"


def test_recv_into_refuses_read_only_buffer(make_channel: Factory) -> None:
    channel = make_channel()
    channel.send(b"x")
    with pytest.raises(ChannelTypeError):
        channel.recv_into(b"immutable")


def test_send_many_and_recv_many_batch(make_channel: Factory) -> None:
    channel = make_channel(capacity=1 << 16)
    items = [str(i).encode() for i in range(300)]
    assert channel.send_many(items, timeout=1) == 300
    got: list[bytes] = []
    while len(got) < 300:
        got += channel.recv_many(64, timeout=1)
    assert got == items


def test_recv_many_returns_what_is_there_without_waiting(make_channel: Factory) -> None:
    channel = make_channel()
    channel.send_many([b"a", b"b"])
    started = time.monotonic()
    assert channel.recv_many(10, timeout=5) == [b"a", b"b"]
    assert time.monotonic() - started < 1


def test_send_many_timeout_reports_the_prefix_sent(make_channel: Factory) -> None:
    channel = make_channel(capacity=256)  # room for 4 frames of 48 bytes
    with pytest.raises(Full) as raised:
        channel.send_many([b"x" * 40] * 10, timeout=0.05)
    assert raised.value.sent == 4
    assert len(channel.recv_many(100, timeout=1)) == 4


def test_recv_times_out_with_empty(make_channel: Factory) -> None:
    channel = make_channel()
    started = time.monotonic()
    with pytest.raises(Empty):
        channel.recv(timeout=0.05)
    assert 0.04 <= time.monotonic() - started < 2


def test_send_times_out_with_full(make_channel: Factory) -> None:
    channel = make_channel(capacity=64)
    channel.send(b"x" * 48)
    with pytest.raises(Full):
        channel.send(b"y", timeout=0.05)
    with pytest.raises(Full):
        channel.send(b"y", timeout=0)


def test_message_larger_than_ring_is_refused(make_channel: Factory) -> None:
    channel = make_channel(capacity=128)
    channel.send(b"x" * channel.max_message)
    assert channel.recv() == b"x" * channel.max_message
    with pytest.raises(MessageTooLarge):
        channel.send(b"x" * (channel.max_message + 1))


def test_capacity_is_rounded_to_frame_alignment(make_channel: Factory) -> None:
    assert make_channel(capacity=1000).capacity == 1008


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ch: ch.send("text"), ChannelTypeError),
        (lambda ch: ch.send(12), ChannelTypeError),
        (lambda ch: ch.send(b"x", timeout=-1), ChannelValueError),
        (lambda ch: ch.send(b"x", timeout=float("nan")), ChannelValueError),
        (lambda ch: ch.send(b"x", timeout="1"), ChannelTypeError),
        (lambda ch: ch.recv(timeout=True), ChannelTypeError),
        (lambda ch: ch.recv_many(0), ChannelValueError),
        (lambda ch: ch.recv_many(1.5), ChannelTypeError),
        (lambda ch: ch.send_many(b"abc"), ChannelTypeError),
        (lambda ch: ch.send_many(5), ChannelTypeError),
        (lambda ch: ch.send_many([b"ok", "bad"]), ChannelTypeError),
        (lambda ch: ch.recv_into(5), ChannelTypeError),
    ],
)
def test_bad_call_arguments_raise_clear_errors(make_channel: Factory, call: Callable,
                                                error: type[Exception]) -> None:
    channel = make_channel()
    with pytest.raises(error):
        call(channel)
    channel.send(b"queued")  # a waiting message (and the fast path) changes nothing
    with pytest.raises(error):
        call(channel)
    assert channel.recv(timeout=0) == b"queued"
    assert issubclass(error, ChannelError)
    with pytest.raises(Empty):
        channel.recv(timeout=0)  # a refused batch sent nothing


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "", "capacity": 4096}, ChannelValueError),
        ({"name": "no-slash", "capacity": 4096}, ChannelValueError),
        ({"name": "/a/b", "capacity": 4096}, ChannelValueError),
        ({"name": "/" + "x" * 300, "capacity": 4096}, ChannelValueError),
        ({"name": b"/bytes", "capacity": 4096}, ChannelTypeError),
        ({"name": None, "capacity": 4096}, ChannelTypeError),
        ({"capacity": 0}, ChannelValueError),
        ({"capacity": -1}, ChannelValueError),
        ({"capacity": 1 << 50}, ChannelValueError),
        ({"capacity": 4096.0}, ChannelTypeError),
        ({"capacity": True}, ChannelTypeError),
        ({"capacity": 4096, "backend": "tcp"}, ChannelValueError),
        ({"capacity": 4096, "mode": 0o400}, ChannelValueError),
        ({"capacity": 4096, "mode": 0o10000}, ChannelValueError),
        ({"capacity": 4096, "max_peers": 0}, ChannelValueError),
        ({"capacity": 4096, "wait": "spin"}, ChannelValueError),
        ({"name": "/lone-surrogate-\udcff", "capacity": 4096}, ChannelValueError),
        ({"name": "lone-surrogate-\udcff", "capacity": 4096, "backend": "memfd"},
         ChannelValueError),
    ],
)
def test_bad_create_arguments_raise_clear_errors(kwargs: dict, error: type[Exception]) -> None:
    kwargs.setdefault("name", fresh_name("shm"))
    with pytest.raises(error):
        Channel.create(**kwargs)


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_create_is_exclusive(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend)
    with pytest.raises(ChannelExists):
        Channel.create(channel.name, 4096, backend=backend)


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_attach_to_missing_name_is_not_found(backend: str) -> None:
    with pytest.raises(ChannelNotFound):
        Channel.attach(fresh_name(backend), backend=backend)


def test_memfd_has_no_name_to_attach() -> None:
    with pytest.raises(ChannelValueError, match="from_fd"):
        Channel.attach("label", backend="memfd")


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_default_mode_is_owner_only(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend)
    assert stat.S_IMODE(os.fstat(channel.fileno()).st_mode) == 0o600


def test_explicit_mode_is_applied_despite_umask(make_channel: Factory) -> None:
    old = os.umask(0o077)
    try:
        channel = make_channel("file", mode=0o640)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.fstat(channel.fileno()).st_mode) == 0o640


def test_file_backend_refuses_a_symlink(tmp_path: os.PathLike) -> None:
    target = os.path.join(tmp_path, "target")
    link = os.path.join(tmp_path, "link")
    with open(target, "wb"):
        pass
    os.symlink(target, link)
    with pytest.raises(ChannelExists):
        Channel.create(link, 4096, backend="file")
    with pytest.raises(ChannelError, match="ELOOP"):
        Channel.attach(link, backend="file")
    assert os.path.getsize(target) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_backing_store_is_allocated_up_front(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend, capacity=1 << 20)
    info = os.fstat(channel.fileno())
    assert info.st_blocks * 512 >= info.st_size >= (1 << 20)


def test_memfd_is_sealed_against_resizing(make_channel: Factory) -> None:
    channel = make_channel("memfd")
    assert memfd.seals(channel.fileno()) & memfd.SEALS == memfd.SEALS
    size = os.fstat(channel.fileno()).st_size
    for new_size in (0, size - 4096, size + 4096):
        with pytest.raises(OSError) as raised:
            os.ftruncate(channel.fileno(), new_size)
        assert raised.value.errno == errno.EPERM
    channel.send(b"still works")
    assert channel.recv(timeout=1) == b"still works"


def test_memfd_unlink_does_nothing(make_channel: Factory) -> None:
    channel = make_channel("memfd")
    assert channel.unlink() is False
    channel.send(b"x")
    assert channel.recv(timeout=1) == b"x"


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_attach_shares_messages_both_ways(make_channel: Factory, backend: str) -> None:
    channel = make_channel(backend)
    other = Channel.attach(channel.name, backend=backend)
    try:
        other.send(b"from other")
        channel.send(b"from creator")
        assert channel.recv(timeout=1) == b"from other"
        assert other.recv(timeout=1) == b"from creator"
        assert channel.statistics().peers == 2
    finally:
        other.close()


def test_from_fd_shares_a_memfd_channel(make_channel: Factory) -> None:
    channel = make_channel("memfd")
    other = Channel.from_fd(channel.fileno())
    try:
        other.send(b"via fd")
        assert channel.recv(timeout=1) == b"via fd"
    finally:
        other.close()
    channel.send(b"after close")  # the original handle is not affected
    assert channel.recv(timeout=1) == b"after close"


def test_memfd_channel_is_shared_by_fork(make_channel: Factory) -> None:
    channel = make_channel("memfd")
    channel.send(b"from parent")
    # The child only receives, then only sends: it never competes for its own message.
    worker = procs.spawn(lambda: (channel.recv(timeout=5), channel.send(b"from child"))[0])
    try:
        assert worker.join(timeout=10) == b"from parent"
        assert channel.recv(timeout=5) == b"from child"
    finally:
        worker.close()


def test_from_fd_rejects_a_bad_descriptor() -> None:
    with pytest.raises(ChannelValueError):
        Channel.from_fd(10_000)
    with pytest.raises(ChannelTypeError):
        Channel.from_fd("3")
    for beyond_a_c_int in (1 << 31, 1 << 64):
        with pytest.raises(ChannelValueError, match=r"0\.\.2147483647"):
            Channel.from_fd(beyond_a_c_int)


def test_a_timeout_too_large_for_a_float_means_no_limit(make_channel: Factory) -> None:
    channel = make_channel()
    endless = 10 ** 400
    channel.send(b"one", timeout=endless)
    channel.send_many([b"two"], timeout=endless)
    assert channel.recv_many(2, timeout=endless) == [b"one", b"two"]
    if channel.backend != "memfd":
        Channel.attach(channel.name, backend=channel.backend, timeout=endless).close()


def test_the_constructor_says_how_to_make_a_channel() -> None:
    for args in ((), ("/name", 4096)):
        with pytest.raises(ChannelTypeError, match=r"Channel\.create"):
            Channel(*args)


def test_attaching_what_is_no_channel_is_a_channel_error() -> None:
    """/proc/self/mem is a regular file of this user whose read fails (EIO)."""
    with pytest.raises(ChannelError):
        Channel.attach("/proc/self/mem", backend="file", timeout=1)


def test_closed_handle_refuses_every_call(make_channel: Factory) -> None:
    channel = make_channel()
    channel.send(b"x")
    channel.close()
    channel.close()  # twice is fine
    for call in (lambda: channel.send(b"x"), lambda: channel.recv(timeout=0),
                 lambda: channel.send_many([b"x"]), lambda: channel.recv_many(1),
                 lambda: channel.recv_into(bytearray(4)), channel.fileno,
                 channel.statistics):
        with pytest.raises(ChannelClosed):
            call()
    assert channel.closed


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_context_manager_of_creator_removes_the_name(backend: str) -> None:
    name = fresh_name(backend)
    with Channel.create(name, 4096, backend=backend) as channel:
        channel.send(b"x")
    with pytest.raises(ChannelNotFound):
        Channel.attach(name, backend=backend)


def test_context_manager_of_attacher_keeps_the_name(make_channel: Factory) -> None:
    channel = make_channel()
    with Channel.attach(channel.name) as other:
        other.send(b"x")
    assert channel.recv(timeout=1) == b"x"
    Channel.attach(channel.name).close()  # still there


def test_unlink_spares_an_object_that_replaced_the_name(make_channel: Factory) -> None:
    first = make_channel()
    first.unlink()
    second = Channel.create(first.name, 4096)
    try:
        assert first.unlink() is False  # the name is someone else's now
        Channel.attach(first.name).close()
    finally:
        second.close()
        second.unlink()


def test_attached_channel_keeps_working_after_unlink(make_channel: Factory) -> None:
    channel = make_channel()
    other = Channel.attach(channel.name)
    try:
        assert channel.unlink() is True
        other.send(b"after unlink")
        assert channel.recv(timeout=1) == b"after unlink"
    finally:
        other.close()


def test_checksum_channel_round_trips(make_channel: Factory) -> None:
    channel = make_channel(checksum=True, capacity=512)
    for size in (0, 1, 100, 300):
        channel.send(b"c" * size)
        assert channel.recv(timeout=1) == b"c" * size


def test_poll_fallback_delivers_across_processes(make_channel: Factory) -> None:
    channel = make_channel(wait="poll")

    def child() -> int:
        other = Channel.attach(channel.name, wait="poll")
        try:
            for i in range(200):
                other.send(i.to_bytes(2, "little"), timeout=5)
        finally:
            other.close()
        return 200

    worker = procs.spawn(child)
    try:
        got = [int.from_bytes(channel.recv(timeout=5), "little") for _ in range(200)]
        assert got == list(range(200))
        assert worker.join(timeout=10) == 200
    finally:
        worker.close()


def test_blocked_receiver_burns_no_cpu(make_channel: Factory) -> None:
    channel = make_channel()
    before = resource.getrusage(resource.RUSAGE_SELF)
    with pytest.raises(Empty):
        channel.recv(timeout=0.5)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert used < 0.05, f"a 0.5 s blocked recv used {used:.3f} s of CPU"


def test_blocked_receiver_wakes_when_a_message_arrives(make_channel: Factory) -> None:
    channel = make_channel()

    def child() -> float:
        other = Channel.attach(channel.name)
        try:
            started = time.monotonic()
            message = other.recv(timeout=10)
            assert message == b"wake"
            return time.monotonic() - started
        finally:
            other.close()

    worker = procs.spawn(child)
    try:
        # Give the child time to block: the send must wake it, not find it early.
        with contextlib.suppress(Empty):
            channel.recv(timeout=0.2)
        channel.send(b"wake")
        waited = worker.join(timeout=10)
    finally:
        worker.close()
    assert 0.1 < waited < 5


def test_too_many_peers_is_a_clear_error(make_channel: Factory) -> None:
    channel = make_channel(max_peers=2)
    other = Channel.attach(channel.name)
    try:
        with pytest.raises(ChannelError, match="peer slots"):
            Channel.attach(channel.name)
    finally:
        other.close()
    Channel.attach(channel.name).close()  # the slot came back


def test_pickling_is_refused_with_advice(make_channel: Factory) -> None:
    import pickle

    with pytest.raises(ChannelTypeError, match="attach by name"):
        pickle.dumps(make_channel())
