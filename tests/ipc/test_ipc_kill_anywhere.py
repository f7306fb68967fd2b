"""SIGKILL at bytecode N of send, recv, send_many, recv_many and recv_into, on both paths.

The default run kills at a sample of offsets of each case (the first, the
last and a seeded random spread); ``tox -e stress`` sweeps every offset.
See ``helpers.ipc.anywhere`` for how a victim is traced and what is checked.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from helpers.ipc import Channel, anywhere
from helpers.ipc.naming import fresh_name

SAMPLE = 24


@pytest.fixture
def channel() -> Iterator[Channel]:
    with Channel.create(fresh_name("shm", "anywhere"), 4096) as made:
        yield made


def _sample(case: tuple[str, str]) -> Callable[[int], list[int]]:
    """Return the offset picker of one case: first, last and a seeded spread."""

    def pick(total: int) -> list[int]:
        rng = random.Random(f"{case}")
        middle = rng.sample(range(2, total), min(SAMPLE, max(total - 2, 0)))
        return sorted({1, total, *middle})

    return pick


@pytest.mark.parametrize("case", sorted(anywhere.CASES), ids="-".join)
def test_a_kill_at_any_bytecode_tears_loses_and_duplicates_nothing(
        channel: Channel, case: tuple[str, str]) -> None:
    result = anywhere.sweep(channel, *case, offsets=_sample(case))
    assert result.problems == []
    assert result.bytecodes > 50, "the tracer did not see the channel's code run"
    assert result.kills == len(_sample(case)(result.bytecodes))
    assert (result.torn, result.lost, result.stalls) == (0, 0, 0)
    assert result.duplicated <= result.kills
    assert result.duplicated == 0, "a single kill never duplicates here"
    if case[0].startswith("send"):
        assert result.consumed_by_the_dead == 0


def test_the_sweep_notices_a_side_left_held(channel: Channel,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker bites: with recovery disabled, a victim killed inside send is a stall."""
    from helpers.ipc import peers

    monkeypatch.setattr(peers.PeerTable, "holder_alive", lambda self, token: True)
    monkeypatch.setattr(anywhere, "RECOVERY_LIMIT", 0.2)
    result = anywhere.sweep(channel, "send", "fast", offsets=lambda total: [total // 2])
    assert result.stalls >= 1
