"""Hostile segments: corrupt headers, truncation by a third party, foreign owners and modes."""

from __future__ import annotations

import errno
import itertools
import os
import time
from collections.abc import Iterator

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.ipc import (
    Channel,
    ChannelError,
    ChannelPermissionError,
    ChannelValueError,
    CorruptChannel,
    Full,
    hostile,
    layout,
    procs,
    segment,
)
from helpers.ipc.naming import fresh_name


class Image(tuple):
    """(image bytes, data offset); shown short, so failures stay readable."""

    def __repr__(self) -> str:
        return f"<channel image of {len(self[0])} bytes>"


@pytest.fixture(scope="module")
def template() -> Iterator[tuple[bytes, int]]:
    """Return (image, data offset) of a real file channel holding two messages."""
    image, data_offset = hostile.channel_image((b"first", b"second"), max_peers=4)
    yield Image((image, data_offset))


@pytest.fixture
def target_path() -> Iterator[str]:
    """Return a path for mutated images, removed after the test."""
    path = fresh_name("file", "hostile")
    yield path
    if os.path.exists(path):
        os.unlink(path)


mutations = st.one_of(
    st.builds(
        hostile.Mutation,
        target=st.sampled_from(sorted(hostile.FIELDS)),
        value=st.one_of(st.sampled_from(hostile.EDGE_VALUES), st.integers(0, (1 << 64) - 1)),
        fix_crc=st.booleans(),
    ),
    st.builds(
        hostile.Mutation,
        target=st.just("bytes"),
        value=st.binary(min_size=1, max_size=64),
        offset=st.integers(0, 8191),
        fix_crc=st.booleans(),
    ),
    st.builds(
        hostile.Mutation,
        target=st.just("magic"),
        value=st.just(layout.MAGIC),
        size_delta=st.sampled_from([-4096, -8, -1, 1, 8, 4096]),
    ),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_hostile_header_gives_corrupt_channel_or_a_working_channel(
        template: tuple[bytes, int], target_path: str, mutation: hostile.Mutation) -> None:
    image, data_offset = template
    outcome = hostile.attempt(target_path, hostile.apply(image, mutation, data_offset))
    assert outcome in ("corrupt", "accepted"), mutation.describe()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(several=st.lists(mutations, min_size=2, max_size=4))
def test_several_fields_changed_at_once_never_hang_or_crash(
        template: tuple[bytes, int], target_path: str, several: list) -> None:
    """Each attempt runs in a child with a deadline, so a hang is caught as one."""
    image, data_offset = template
    mutated = hostile.apply_all(image, tuple(several), data_offset)
    outcome = hostile.isolated(target_path, mutated, deadline=10.0)
    assert outcome in ("corrupt", "accepted"), [m.describe() for m in several]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(several=st.lists(mutations.filter(lambda mutation: not mutation.size_delta),
                        min_size=2, max_size=4))
def test_several_fields_changed_while_in_use_never_hang_or_crash(
        template: tuple[bytes, int], target_path: str, several: list) -> None:
    """The same, written by another process after the attach, while the channel is in use."""
    image, data_offset = template
    outcome = hostile.isolated(target_path, image, deadline=10.0, live=tuple(several),
                               data_offset=data_offset)
    assert outcome == "accepted", [m.describe() for m in several]


def test_the_isolated_attempt_reports_a_hang_as_one(template: tuple[bytes, int],
                                                   target_path: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzzer's hang counter bites: an attach that never returns is a "hang"."""
    monkeypatch.setattr(hostile, "attempt", lambda path, image, **_: time.sleep(60))
    assert hostile.isolated(target_path, template[0], deadline=0.5) == "hang"


@pytest.mark.parametrize(
    ("target", "value"),
    [("magic", b"notchan!"), ("version", 3), ("capacity", 0), ("capacity", 1 << 40),
     ("data_offset", 0), ("total_size", 1 << 50), ("max_peers", 0), ("max_peers", 5000),
     ("flags", 0x80), ("HEAD", 17), ("TAIL", 1 << 40), ("HEAD", (1 << 64) - 16),
     ("lock_protocol", 1), ("owner_uid", 4242)],
)
def test_each_broken_field_is_named(template: tuple[bytes, int], target_path: str,
                                    target: str, value: int | bytes) -> None:
    image, data_offset = template
    mutated = hostile.apply(image, hostile.Mutation(target, value), data_offset)
    with open(target_path, "wb") as handle:
        handle.write(mutated)
    os.chmod(target_path, 0o600)
    with pytest.raises(CorruptChannel):
        Channel.attach(target_path, backend="file")


def test_garbage_frame_is_corrupt_not_delivered(template: tuple[bytes, int],
                                                target_path: str) -> None:
    image, data_offset = template
    mutated = hostile.apply(image, hostile.Mutation("first_frame", b"\xff" * 16), data_offset)
    with open(target_path, "wb") as handle:
        handle.write(mutated)
    os.chmod(target_path, 0o600)
    channel = Channel.attach(target_path, backend="file")
    try:
        with pytest.raises(CorruptChannel, match="frame at position"):
            channel.recv(timeout=0)
    finally:
        channel.close()


def test_a_file_channel_keeps_its_messages_across_a_reattach(template: tuple[bytes, int],
                                                              target_path: str) -> None:
    image, _ = template
    with open(target_path, "wb") as handle:
        handle.write(image)
    os.chmod(target_path, 0o600)
    channel = Channel.attach(target_path, backend="file")
    try:
        assert [channel.recv(timeout=1), channel.recv(timeout=1)] == [b"first", b"second"]
    finally:
        channel.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_segment_of_another_user_is_refused() -> None:
    with Channel.create(fresh_name("shm", "foreign"), 4096) as channel:
        os.fchown(channel.fileno(), 65534, 65534)
        with pytest.raises(ChannelPermissionError, match="belongs to uid 65534"):
            Channel.attach(channel.name)


def test_world_writable_segment_is_refused() -> None:
    with Channel.create(fresh_name("shm", "mode"), 4096) as channel:
        os.fchmod(channel.fileno(), 0o666)
        with pytest.raises(ChannelPermissionError, match="anyone may write"):
            Channel.attach(channel.name)


def _send_after_truncation(peer_name: str, backend: str) -> str:
    channel = Channel.attach(peer_name, backend=backend)
    fd = os.open(f"/proc/self/fd/{channel.fileno()}", os.O_RDWR)
    os.ftruncate(fd, 4096)  # a third party would do the same through the name
    os.close(fd)
    channel.send(b"x" * 2000, timeout=1)  # touches the ring past the new end
    return "survived"


@pytest.mark.parametrize("backend", ["shm", "file"])
def test_truncation_by_a_third_party_is_sigbus_on_shm_and_file(backend: str) -> None:
    """Only a sealed memfd prevents this; for shm and file the mode 0600 is the defence."""
    with Channel.create(fresh_name(backend, "trunc"), 1 << 16, backend=backend) as channel:
        size = os.fstat(channel.fileno()).st_size
        child = procs.spawn(_send_after_truncation, channel.name, backend)
        try:
            assert child.wait(timeout=20) == "SIGBUS"
            with pytest.raises(CorruptChannel, match="backing object has 4096"):
                Channel.attach(channel.name, backend=backend)
        finally:
            child.close()
            # This process maps it too: give the size back before close() touches it.
            os.ftruncate(channel.fileno(), size)


def test_memfd_refuses_truncation_and_keeps_working() -> None:
    with Channel.create(fresh_name("memfd"), 1 << 16, backend="memfd") as channel:
        fd = os.open(f"/proc/self/fd/{channel.fileno()}", os.O_RDWR)
        try:
            with pytest.raises(OSError) as raised:
                os.ftruncate(fd, 4096)
        finally:
            os.close(fd)
        assert raised.value.errno == errno.EPERM
        channel.send(b"x" * 2000)
        assert channel.recv(timeout=1) == b"x" * 2000


def _image_file(template: tuple[bytes, int], path: str, *changes: hostile.Mutation) -> None:
    image, data_offset = template
    for change in changes:
        image = hostile.apply(image, change, data_offset)
    with open(path, "wb") as handle:
        handle.write(image)
    os.chmod(path, 0o600)


def test_positions_at_the_end_of_the_number_range_are_corrupt(
        template: tuple[bytes, int], target_path: str) -> None:
    top = (1 << 64) - 16
    _image_file(template, target_path, hostile.Mutation("HEAD", top), hostile.Mutation("TAIL", top))
    with pytest.raises(CorruptChannel, match="position limit"):
        Channel.attach(target_path, backend="file")


@pytest.mark.parametrize("token", [1, 0xFFFFFFFF, layout.make_token(0, 77),
                                   layout.make_token(4000, 5)])
@pytest.mark.parametrize("lock", ["send_lock", "recv_lock"])
def test_lock_word_of_no_live_peer_is_recovered(template: tuple[bytes, int], target_path: str,
                                                lock: str, token: int) -> None:
    """A lock word naming a dead, reclaimed or impossible holder is taken over, not waited on."""
    _image_file(template, target_path, hostile.Mutation(lock, token),
                hostile.Mutation("send_attention", 0xFFFFFFFF))
    channel = Channel.attach(target_path, backend="file")
    try:
        started = time.monotonic()
        assert channel.recv(timeout=2) == b"first"
        channel.send(b"third", timeout=2)
        assert time.monotonic() - started < 1.0
        assert channel.statistics().recoveries == 1
    finally:
        channel.close()


def test_lock_held_by_a_live_peer_times_out_with_full() -> None:
    """A live holder (here: this process's other handle, frozen inside) is waited for, bounded."""
    with Channel.create(fresh_name("shm", "held"), 4096) as channel:
        other = Channel.attach(channel.name)
        try:
            other.statistics()  # claims its slot: its token is a live peer's
            token = other._token
            cell = channel._control.locks[0]
            cell.store(token)
            started = time.monotonic()
            with pytest.raises(Full, match="send side stayed held by another handle"):
                channel.send(b"x", timeout=0.2)
            assert 0.2 <= time.monotonic() - started < 1.0
            cell.store(0)
            channel.send(b"x", timeout=0.2)
        finally:
            other.close()


def _send_into_a_full_ring_under_a_forged_sleeper(name: str) -> float | str:
    """A sender finds the ring full and the wake-up word saying a sender sleeps for TAIL 0."""
    channel = Channel.attach(name)
    try:
        channel._control.attention[layout.RECV].store(layout.ASLEEP)  # WAKE_TAIL stays 0
        started = time.monotonic()
        try:
            channel.send(b"y" * 8, timeout=0.05)
        except Full:
            return time.monotonic() - started  # seconds until Full
        return "sent"
    finally:
        channel.close()


def test_a_forged_sleeper_word_cannot_keep_send_past_its_timeout() -> None:
    """Another peer's wake-up position only moves the wake-up, never what send waits for."""
    with Channel.create(fresh_name("shm", "sleeper"), 64) as channel:
        channel.send(b"x" * 40, timeout=0)  # the ring has no room for one more frame
        child = procs.spawn(_send_into_a_full_ring_under_a_forged_sleeper, channel.name)
        try:
            outcome = child.join(timeout=10)
        finally:
            child.close()
        # Before the fix the send spun until killed: the child overstayed and join raised.
        assert isinstance(outcome, float) and 0.05 <= outcome < 2.0, outcome


def test_from_fd_refuses_an_unsealed_memfd_and_a_plain_file(tmp_path: os.PathLike) -> None:
    with Channel.create(fresh_name("memfd"), 4096, backend="memfd") as channel:
        unsealed = os.memfd_create("unsealed", os.MFD_ALLOW_SEALING)
        try:
            os.write(unsealed, os.pread(channel.fileno(), 1 << 20, 0))
            with pytest.raises(ChannelPermissionError, match="not a memfd sealed"):
                Channel.from_fd(unsealed)
        finally:
            os.close(unsealed)
    with (Channel.create(fresh_name("file"), 4096, backend="file") as channel,
          pytest.raises(ChannelPermissionError, match="not a memfd sealed")):
        Channel.from_fd(channel.fileno())


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602, 0o660])
def test_create_refuses_a_mode_that_lets_others_write(mode: int) -> None:
    with pytest.raises(ChannelValueError, match="lets group or others write"):
        Channel.create(fresh_name("shm", "wide"), 4096, mode=mode)


def test_attach_waits_for_the_setup_lock_no_longer_than_its_timeout() -> None:
    import fcntl

    with Channel.create(fresh_name("file", "flock"), 4096, backend="file") as channel:
        holder = os.open(channel.name, os.O_RDWR)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX)
            started = time.monotonic()
            with pytest.raises(ChannelError, match="stayed locked"):
                Channel.attach(channel.name, backend="file", timeout=0.3)
            assert time.monotonic() - started < 1.5
        finally:
            os.close(holder)


class _Moving:
    """A control word whose successive loads return the given values (a busy peer's)."""

    def __init__(self, values: Iterator[int]) -> None:
        self._values = values

    def load(self, order: int) -> int:
        return next(self._values)


class _Positions:
    def __init__(self, head: Iterator[int], tail: Iterator[int]) -> None:
        self.head, self.tail = _Moving(head), _Moving(tail)


def test_an_attacher_checks_positions_of_one_instant() -> None:
    # TAIL moves between the reads (32 KiB went by while the attacher was off the CPU):
    # the pair taken is the one whose TAIL stood still around the HEAD read.
    busy = _Positions(iter([32, 32640]), iter([16, 32592, 32592, 32592]))
    assert segment.positions_at_once(busy) == (32640, 32592, True)
    # A TAIL that never stands still: the positions are kept in order, and flagged.
    racing = _Positions(itertools.count(64, 32), itertools.count(0, 16))
    head, tail, still = segment.positions_at_once(racing)
    assert not still and head >= tail
