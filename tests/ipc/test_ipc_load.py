"""Short versions of the stress run and the benchmark, and a full filesystem at creation."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import tempfile
from collections.abc import Iterator

import pytest

from helpers import names
from helpers.ipc import bench, bench_ops, bench_transports, chaos, procs, stress, workload
from helpers.ipc.channel import Channel
from helpers.ipc.errors import ChannelError


def test_quick_stress_holds_every_invariant(tmp_path: os.PathLike) -> None:
    out = os.path.join(tmp_path, "stress.json")
    assert stress.main(["--quick", "--seed", "7", "--out", out]) == 0
    with open(out) as handle:
        summary = json.load(handle)["summary"]
    assert summary["invariants_held"], summary["failures"]
    assert summary["kills"] > 0 and summary["hostile_headers"] == 200
    assert (summary["lost"], summary["torn"], summary["duplicated"]) == (0, 0, 0)
    assert summary["leftovers"] == []


@pytest.fixture
def ledger() -> Iterator[chaos.Ledger]:
    """Return a small chaos ledger (2 producer ids, 2 consumer slots)."""
    made = chaos.Ledger.create(producers=2, consumers=2)
    yield made
    made.area.close()


def test_reckoning_catches_loss_duplicates_and_spares_redelivery(ledger: chaos.Ledger) -> None:
    progress = ledger.progress(0)
    progress[0], progress[1] = 5, 5  # six attempted, five committed: number 5 in doubt
    for seq in (0, 1, 3):
        workload.mark(ledger.bitmap(0, 0), seq)
    workload.mark(ledger.bitmap(1, 0), 3)  # a second receiver: duplicate
    workload.mark(ledger.bitmap(2, 0), 1)  # taken by a killed consumer, then again
    verdict = chaos.reckon(ledger, 1)
    assert (verdict.lost, verdict.duplicated, verdict.redelivered) == (2, 1, 1)  # 2 and 4
    assert verdict.in_doubt == 0 and verdict.unexpected == 0


def test_killed_consumer_scratch_is_settled_once(ledger: chaos.Ledger) -> None:
    message = workload.make(1, 9, 64)
    ledger.scratch(0)[: len(message)] = message
    assert ledger.settle_killed_consumer(0) is True
    assert ledger.settle_killed_consumer(0) is False  # the same scratch, a second kill
    torn = bytearray(message)
    torn[-1] ^= 0xFF
    ledger.scratch(1)[: len(torn)] = torn
    assert ledger.settle_killed_consumer(1) is False  # a copy cut short is not a delivery


def test_bench_runs_and_judges_in_one_process_tree() -> None:
    for factory in (bench_transports.channel, bench_transports.os_pipe):
        transport = factory(1 << 20)
        try:
            run = bench.throughput(transport, 64, 500)
        finally:
            transport.close()
        assert run.messages == 500 and run.seconds > 0
    body = {"results": [
        {"transport": "channel", "case": "1x1", "size": 64, "median_msgs_per_s": 900_000},
        {"transport": "os.pipe", "case": "1x1", "size": 64, "median_msgs_per_s": 800_000},
        {"transport": "channel", "case": "1x1", "size": 1 << 20, "median_msgs_per_s": 3000},
        {"transport": "os.pipe", "case": "1x1", "size": 1 << 20, "median_msgs_per_s": 2000},
        {"transport": "iceoryx2 publish-subscribe", "case": "1x1", "size": 64,
         "median_msgs_per_s": 950_000},
        {"transport": "iceoryx2 publish-subscribe", "case": "1x1", "size": 1 << 20,
         "median_msgs_per_s": 4000},
        {"transport": "channel", "case": "4x4", "size": 64, "median_msgs_per_s": 500_000},
        {"transport": "multiprocessing.Queue", "case": "4x4", "size": 64,
         "median_msgs_per_s": 300_000},
    ], "latency": [{"transport": "channel", "kind": "one-way streaming", "p50_us": 4.0}]}
    targets = bench.judge(body)
    # iceoryx2 has its own target and is no "best other": 1.125x os.pipe is short of
    # 1.3x, 1.5x os.pipe at 1 MiB is enough although iceoryx2 is faster there, 0.95x
    # iceoryx2 at 64 B is short of 1.0x, 1.67x mp.Queue is enough; the last but one is
    # the 1 MiB figure against iceoryx2, which has no target.
    assert [target["met"] for target in targets] == [True, False, True, False, True, None, True]
    assert targets[1]["best_other"] == targets[2]["best_other"] == "os.pipe"
    assert targets[5]["measured"] == 0.75


def _raise_in_child() -> None:
    raise ValueError("the transport refused")


def test_a_failed_bench_case_names_the_childs_own_exception() -> None:
    child = procs.spawn(_raise_in_child)
    with pytest.raises(procs.ChildFailed) as failed:
        child.join(timeout=10)
    assert bench.why(failed.value) == f"child {child.pid} raised ValueError: the transport refused"
    late = procs.ChildFailed(f"child {child.pid} ended with timeout, then SIGKILL and reported "
                             "nothing")
    assert bench.why(late).endswith(f"(each child has {bench.CASE_LIMIT:.0f} s)")


def _libc_call(name: str, *args: object) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        return ctypes.get_errno()
    return 0


def _create_on_a_full_tmpfs(mountpoint: str) -> dict[str, object]:
    """In a private mount namespace, mount a 256 KiB tmpfs and create a 1 MiB channel on it."""
    if _libc_call("unshare", 0x00020000):  # CLONE_NEWNS
        return {"skip": "unshare(CLONE_NEWNS) refused"}
    if _libc_call("mount", b"none", b"/", None, 0x4000 | 0x40000, None):  # MS_REC|MS_PRIVATE
        return {"skip": "cannot make mounts private"}
    if _libc_call("mount", b"tmpfs", mountpoint.encode(), b"tmpfs", 0, b"size=256k"):
        return {"skip": "cannot mount a tmpfs"}
    path = os.path.join(mountpoint, names.unique_name("full"))
    try:
        Channel.create(path, 1 << 20, backend="file")
    except ChannelError as exc:
        cause = exc.__cause__
        return {"error": str(exc), "errno": getattr(cause, "errno", None),
                "left": os.listdir(mountpoint)}
    return {"error": None, "left": os.listdir(mountpoint)}


def test_full_filesystem_is_an_error_at_creation_not_sigbus_later() -> None:
    mountpoint = tempfile.mkdtemp(prefix=names.unique_name("tmpfs"))
    try:
        child = procs.spawn(_create_on_a_full_tmpfs, mountpoint)
        try:
            result = child.join(timeout=30)
        finally:
            child.close()
    finally:
        os.rmdir(mountpoint)
    if "skip" in result:
        pytest.skip(f"no private small tmpfs here: {result['skip']}")
    assert result["errno"] == errno.ENOSPC, result
    assert "ENOSPC" in str(result["error"])
    assert result["left"] == [], "the half-made channel must be removed"


def test_one_process_costs_come_from_round_trips_that_return_the_payload() -> None:
    costs = bench_ops.costs(64, bursts=5)  # raises if a timed round trip loses the payload
    assert set(costs) == {"channel", "os.pipe", "bare calls"}
    for cost in costs.values():
        assert set(cost) == {"send_ns", "recv_ns"}
        assert all(0 < value < 1e9 for value in cost.values()), cost


def test_a_subject_that_loses_the_payload_is_refused() -> None:
    with pytest.raises(RuntimeError, match="did not return the payload"):
        bench_ops.fastest({"lossy": (lambda data: None, lambda: b"")}, b"x", 1)


def test_bench_ops_prints_the_channel_beside_the_pipe_and_the_bare_calls(capsys) -> None:
    assert bench_ops.main(["--bursts", "3"]) == 0
    printed = capsys.readouterr().out
    for row in ("channel", "os.pipe", "bare calls", "os.pipe / channel"):
        assert row in printed, printed
