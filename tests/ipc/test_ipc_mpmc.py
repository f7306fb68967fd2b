"""Many producers and consumers in separate processes: exactly once, in order per producer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.ipc import Channel, procs, roles, workload
from helpers.ipc.naming import fresh_name


@pytest.fixture
def children() -> Iterator[list[procs.Child]]:
    """Return a list to put spawned children in; any still running at teardown is killed."""
    spawned: list[procs.Child] = []
    yield spawned
    for child in spawned:
        child.close()


def run_mpmc(children: list[procs.Child], backend: str, producers: int, consumers: int,
             count: int, sizes: tuple[int, int], capacity: int,
             batch: int = 1) -> workload.Verdict:
    """Run producers x consumers over a fresh channel; return the delivery verdict."""
    with Channel.create(fresh_name(backend, "mpmc"), capacity, backend=backend) as channel:
        peer = roles.Peer.of(channel)
        takers = [procs.spawn(roles.consume, peer, batch=batch, idle_timeout=30.0)
                  for _ in range(consumers)]
        children.extend(takers)
        makers = [procs.spawn(roles.produce, peer, p, count, sizes, batch=batch)
                  for p in range(producers)]
        children.extend(makers)
        sent = {p: maker.join(timeout=60) for p, maker in enumerate(makers)}
        roles.stop_consumers(channel, consumers)
        tallies = [taker.join(timeout=60) for taker in takers]
    assert all(tally.stopped for tally in tallies), "a consumer missed its stop message"
    return workload.verify(tallies, sent)


@pytest.mark.parametrize(
    ("producers", "consumers"), [(1, 1), (2, 2), (3, 1), (1, 3)]
)
def test_every_message_once_in_order(children: list[procs.Child], producers: int,
                                     consumers: int) -> None:
    verdict = run_mpmc(children, "shm", producers, consumers, count=1500,
                       sizes=(20, 400), capacity=8192)
    assert verdict.clean, verdict
    assert verdict.received == producers * 1500


@pytest.mark.parametrize("backend", ["file", "memfd"])
def test_every_backend_delivers_across_processes(children: list[procs.Child],
                                                 backend: str) -> None:
    verdict = run_mpmc(children, backend, 2, 2, count=800, sizes=(20, 200), capacity=4096)
    assert verdict.clean, verdict


def test_batches_keep_the_guarantees(children: list[procs.Child]) -> None:
    verdict = run_mpmc(children, "shm", 2, 2, count=2000, sizes=(20, 120), capacity=4096,
                       batch=16)
    assert verdict.clean, verdict
    assert verdict.received == 4000


def test_messages_larger_than_half_the_ring(children: list[procs.Child]) -> None:
    verdict = run_mpmc(children, "shm", 2, 2, count=200, sizes=(600, 1000), capacity=2048)
    assert verdict.clean, verdict


def test_verify_detects_loss_duplicates_and_disorder() -> None:
    tally = workload.Tally()
    for seq in (0, 2, 1, 1):
        tally.record(workload.make(7, seq, 40))
    tally.record(b"\0" * 30)
    verdict = workload.verify([tally], {7: 4})
    assert (verdict.lost, verdict.duplicated, verdict.out_of_order, verdict.torn) == (1, 1, 2, 1)
    assert not verdict.clean
