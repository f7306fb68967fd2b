"""Liveness the kernel keeps: peers in another PID namespace, live holders, dead holders."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.ipc import Channel, ChannelError, Full, liveness
from helpers.ipc.naming import fresh_name

ROOT = Path(__file__).resolve().parents[2]
#: a peer that enters the send side and stays inside until its stdin closes, then
#: leaves the process without unwinding (as a crash would).
HOLDER = """
import os, sys
from helpers.ipc import Channel, faults
channel = Channel.attach(sys.argv[1])
def stay(point):
    print("inside", os.getpid(), flush=True)
    sys.stdin.read()
    os._exit(3)
faults.arm("send.entered", stay)
channel.send(b"never committed", timeout=30)
"""


def _namespaces_available() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True,
                           timeout=10, check=False)
    return None if probe.returncode == 0 else "cannot create a PID namespace here"


@pytest.fixture
def channel() -> Iterator[Channel]:
    with Channel.create(fresh_name("shm", "ns"), 4096) as made:
        yield made


def _start_holder(name: str, namespace: bool) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-c", HOLDER, name]
    if namespace:
        command = ["unshare", "--pid", "--fork", *command]
    holder = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    ready, _, _ = select.select([holder.stdout], [], [], 20)
    assert ready, "the holder never entered the side"
    return holder, holder.stdout.readline().decode()


@pytest.mark.parametrize("namespace", [False, True], ids=["same-namespace", "pid-namespace"])
def test_a_live_holder_is_waited_for_and_a_dead_one_recovered(channel: Channel,
                                                              namespace: bool) -> None:
    if namespace and (reason := _namespaces_available()):
        pytest.skip(reason)
    holder, line = _start_holder(channel.name, namespace)
    try:
        if namespace:
            assert line.split() == ["inside", "1"], "the holder should be pid 1 of its namespace"
        assert channel.statistics().peers == 2, "the kernel shows the holder alive"
        started = time.monotonic()
        with pytest.raises(Full):
            channel.send(b"must wait", timeout=0.3)  # never steals from a live holder
        assert time.monotonic() - started < 2.0
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=20) == 3
    started = time.monotonic()
    channel.send(b"after", timeout=5)
    assert time.monotonic() - started < 1.0
    assert channel.statistics().recoveries == 1
    assert channel.statistics().peers == 1
    assert channel.recv(timeout=1) == b"after", "the dead holder published nothing"


def test_liveness_lock_is_per_handle_not_per_process(channel: Channel) -> None:
    """Two handles of one process have separate descriptions: each sees the other alive."""
    other = Channel.attach(channel.name)
    try:
        assert channel.statistics().peers == 2
        assert other.statistics().peers == 2
    finally:
        other.close()
    assert channel.statistics().peers == 1


def test_a_forked_child_does_not_keep_its_parents_slot_alive(channel: Channel) -> None:
    from helpers.ipc import procs

    other = Channel.attach(channel.name)
    other.statistics()
    reader, writer = os.pipe()

    def child() -> int:
        os.close(writer)
        os.read(reader, 1)  # until the parent's other handle is closed
        return channel.statistics().peers

    forked = procs.spawn(child)
    os.close(reader)
    other.close()
    os.close(writer)
    # The child's handle claims its own slot; the closed handle's slot is free.
    assert forked.join(timeout=20) == 2


def test_liveness_never_guesses_dead() -> None:
    """A query the kernel refuses (EBADF here) raises; it never reads as "no lock: dead"."""
    reader, writer = os.pipe()
    os.close(reader)
    os.close(writer)
    with pytest.raises(ChannelError, match="liveness query failed: EBADF"):
        liveness.locked_by_other(reader, liveness.BASE)
