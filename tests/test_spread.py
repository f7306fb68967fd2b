"""The shards of a long check are moved apart through the first half of the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fixtures.spread import serial_first, spread


@dataclass
class FakeMark:
    args: tuple[Any, ...]


@dataclass
class FakeItem:
    name: str
    group: str | None = None
    serial: bool = False

    def get_closest_marker(self, name: str) -> FakeMark | None:
        if name == "serial":
            return FakeMark(()) if self.serial else None
        return FakeMark((self.group,)) if name == "spread" and self.group else None


def test_shards_are_moved_apart_and_the_rest_keeps_its_order():
    items = [FakeItem(f"shard{n}", "model") for n in range(4)] + \
        [FakeItem(f"check{n}") for n in range(36)]
    order = spread(items)  # type: ignore[arg-type]
    assert sorted(map(id, order)) == sorted(map(id, items))
    assert [order.index(items[n]) for n in range(4)] == [0, 5, 10, 15]
    rest = [item.name for item in order if item.group is None]
    assert rest == [f"check{n}" for n in range(36)]


def test_without_shards_nothing_moves():
    items = [FakeItem(f"check{n}") for n in range(5)]
    assert spread(items) == items  # type: ignore[arg-type]


def test_a_short_run_keeps_the_shards_in_their_order():
    items = [FakeItem(f"shard{n}", "model") for n in range(4)] + [FakeItem("check")]
    assert [item.name for item in spread(items)] == [  # type: ignore[arg-type]
        "shard0", "shard1", "shard2", "shard3", "check"]


def test_serial_checks_go_first_and_each_part_keeps_its_order():
    items = [FakeItem("a"), FakeItem("t1", serial=True), FakeItem("b"),
             FakeItem("t2", serial=True)]
    assert [i.name for i in serial_first(items)] == ["t1", "t2", "a", "b"]  # type: ignore[arg-type]
    plain = [FakeItem("a"), FakeItem("b")]
    assert serial_first(plain) == plain  # type: ignore[arg-type]
