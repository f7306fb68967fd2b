"""The shards of a model depth share its sequences without losing or adding any."""

from __future__ import annotations

import pytest

from helpers.model import profiles


@pytest.mark.parametrize("depth", profiles.DEPTHS)
def test_shares_add_up_to_the_depth(depth):
    chosen = profiles.for_depth(depth)
    count = profiles.SHARDS[depth]
    shares = [profiles.shard_of(chosen, n, count).max_examples for n in range(count)]
    assert sum(shares) == chosen.max_examples and max(shares) - min(shares) <= 1


def test_a_shard_draws_its_own_stream():
    chosen = profiles.for_depth("default", derandomize=True)
    assert profiles.shard_of(chosen, 1, 4).derandomize is False
    with pytest.raises(ValueError):
        profiles.shard_of(chosen, 4, 4)
