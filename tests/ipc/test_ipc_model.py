"""The channel against a deque: sends, receives, timeouts, wrap-around, batches, handles.

The model knows exactly how many bytes each queued frame takes, so it
predicts every ``Full`` and every ``Empty`` as well as every byte received.
Two handles (the creator and an attached one) take turns, so the biased fast
path, its revocation and the locked path all run; one of them is sometimes
closed and reattached, which hands its peer slot back.
"""

from __future__ import annotations

from collections import deque

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from helpers.ipc import Channel, ChannelValueError, Empty, Full, MessageTooLarge
from helpers.ipc.layout import frame_size
from helpers.ipc.naming import fresh_name

payloads = st.binary(max_size=120)


class ChannelVersusDeque(RuleBasedStateMachine):
    """Drive a real channel and a deque of bytes with the same steps; they must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.model: deque[bytes] = deque()
        self.handles: list[Channel] = []
        self.creator: Channel | None = None

    @initialize(backend=st.sampled_from(["shm", "memfd", "file"]),
                capacity=st.sampled_from([64, 128, 256, 1024]),
                checksum=st.booleans())
    def open_channel(self, backend: str, capacity: int, checksum: bool) -> None:
        self.backend = backend
        self.creator = Channel.create(fresh_name(backend, "model"), capacity, backend=backend,
                                      checksum=checksum)
        self.handles = [self.creator, self._second_handle()]

    def _second_handle(self) -> Channel:
        assert self.creator is not None
        if self.backend == "memfd":
            return Channel.from_fd(self.creator.fileno())
        return Channel.attach(self.creator.name, backend=self.backend)

    def _used(self) -> int:
        return sum(frame_size(len(m)) for m in self.model)

    def _fits(self, message: bytes, used: int) -> bool:
        assert self.creator is not None
        return used + frame_size(len(message)) <= self.creator.capacity

    @rule(which=st.integers(0, 1), message=payloads)
    def send(self, which: int, message: bytes) -> None:
        channel = self.handles[which]
        if len(message) > channel.max_message:
            with pytest.raises(MessageTooLarge):
                channel.send(message, timeout=0)
        elif self._fits(message, self._used()):
            channel.send(message, timeout=0)
            self.model.append(message)
        else:
            with pytest.raises(Full):
                channel.send(message, timeout=0)

    @rule(which=st.integers(0, 1), timeout=st.sampled_from([0, 0.001]))
    def recv(self, which: int, timeout: float) -> None:
        channel = self.handles[which]
        if self.model:
            assert channel.recv(timeout=timeout) == self.model.popleft()
        else:
            with pytest.raises(Empty):
                channel.recv(timeout=timeout)

    @rule(which=st.integers(0, 1), size=st.integers(0, 130))
    def recv_into(self, which: int, size: int) -> None:
        channel = self.handles[which]
        buffer = bytearray(size)
        if not self.model:
            with pytest.raises(Empty):
                channel.recv_into(buffer, timeout=0)
        elif len(self.model[0]) > size:
            with pytest.raises(ChannelValueError):
                channel.recv_into(buffer, timeout=0)
        else:
            expected = self.model.popleft()
            assert channel.recv_into(buffer, timeout=0) == len(expected)
            assert bytes(buffer[: len(expected)]) == expected

    @rule(which=st.integers(0, 1), batch=st.lists(st.binary(max_size=40), max_size=8))
    def send_many(self, which: int, batch: list[bytes]) -> None:
        channel = self.handles[which]
        used = self._used()
        fitting = 0
        for message in batch:
            if not self._fits(message, used):
                break
            used += frame_size(len(message))
            fitting += 1
        if fitting == len(batch):
            assert channel.send_many(batch, timeout=0) == len(batch)
        else:
            with pytest.raises(Full) as raised:
                channel.send_many(batch, timeout=0)
            assert raised.value.sent == fitting
        self.model.extend(batch[:fitting])

    @rule(which=st.integers(0, 1), max_items=st.integers(1, 6))
    def recv_many(self, which: int, max_items: int) -> None:
        channel = self.handles[which]
        if not self.model:
            with pytest.raises(Empty):
                channel.recv_many(max_items, timeout=0)
            return
        expected = [self.model.popleft() for _ in range(min(max_items, len(self.model)))]
        assert channel.recv_many(max_items, timeout=0) == expected

    @precondition(lambda self: self.creator is not None)
    @rule()
    def reattach_second_handle(self) -> None:
        self.handles[1].close()
        self.handles[1] = self._second_handle()

    @invariant()
    def positions_match_model(self) -> None:
        if self.creator is not None:
            assert self.creator.statistics().used == self._used()

    def teardown(self) -> None:
        for channel in self.handles:
            channel.close()
        if self.creator is not None:
            self.creator.unlink()


ChannelVersusDeque.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
test_channel_matches_deque_model = ChannelVersusDeque.TestCase
