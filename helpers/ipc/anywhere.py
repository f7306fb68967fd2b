"""Kill a peer at every bytecode of an operation, on the production path, and check the ring.

A victim child opens the channel, claims its slot, then runs one operation
(``send``, ``recv``, ``send_many``, ``recv_many`` or ``recv_into``, on the
fast or the slow path) under a tracer that counts every bytecode the
channel's own modules execute and sends ``SIGKILL`` to its own process just
before the N-th.  Nothing in the channel is switched off for this: the fault
points stay disarmed, the fast path stays on (the slow path is reached by a
message that is not ``bytes`` or by a handle whose fast path is off, as when
checksums are on).  A run with no kill tells how many bytecodes the
operation executes, so a sweep can cover N = 1 ... that count.

After each kill the parent checks the ring as the guarantees state them:
no torn message; a message whose ``send`` was killed is there once or not at
all, and a committed one is there; a message whose ``recv`` was killed is
either still there (delivered again) or was consumed by the dead receiver,
never duplicated; and both sides are usable again within a bounded time.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from helpers.ipc import procs, roles, workload
from helpers.ipc.channel import Channel
from helpers.ipc.errors import Empty

PACKAGE = Path(__file__).parent
#: the modules whose bytecodes are counted: the channel and everything it calls.
TRACED = frozenset(str(PACKAGE / f"{module}.py") for module in (
    "channel", "waiting", "codec", "locks", "peers", "sleeping", "futex", "native",
    "atomic", "arguments", "layout", "liveness", "faults", "errors"))
#: (operation, path) cases, and how many messages each one moves.
CASES: dict[tuple[str, str], int] = {
    ("send", "fast"): 1, ("send", "slow"): 1, ("send_many", "slow"): 3,
    ("recv", "fast"): 1, ("recv", "slow"): 1, ("recv_many", "slow"): 2,
    ("recv_into", "slow"): 1,
}
VICTIM = 7
#: a kill must leave both sides usable within this (recovery is milliseconds).
RECOVERY_LIMIT = 2.0


class _Counter:
    """Counts the channel's bytecodes and kills this process before the ``kill_at``-th.

    On 3.12 and later through ``sys.monitoring`` instruction events on the
    channel's code objects; before that through ``sys.settrace`` opcode events.
    """

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.count = 0

    def tick(self, *_: object) -> None:
        self.count += 1
        if self.count >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        if frame.f_code.co_filename not in TRACED:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            self.tick()
        return self

    def start(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is None:
            sys.settrace(self)
            return
        tool = monitoring.DEBUGGER_ID
        monitoring.use_tool_id(tool, "mmapcheck kill-anywhere")
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, self.tick)
        for code in _channel_code():
            monitoring.set_local_events(tool, code, monitoring.events.INSTRUCTION)

    def stop(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is None:
            sys.settrace(None)
            return
        tool = monitoring.DEBUGGER_ID
        for code in _channel_code():
            monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, None)
        monitoring.free_tool_id(tool)


def _channel_code() -> list[CodeType]:
    """Return every code object of the traced modules (functions, methods, nested code)."""
    found: list[CodeType] = []
    pending = [value for module in list(sys.modules.values())
               if getattr(module, "__file__", None) in TRACED
               for value in vars(module).values()]
    seen: set[int] = set()
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, type) and value.__module__.startswith("helpers.ipc"):
            pending.extend(vars(value).values())
        elif isinstance(value, (staticmethod, classmethod)):
            pending.append(value.__func__)
        elif isinstance(value, property):
            pending.extend(f for f in (value.fget, value.fset) if f is not None)
        elif hasattr(value, "__code__") and value.__code__.co_filename in TRACED:
            pending.append(value.__code__)
        elif isinstance(value, CodeType) and value.co_filename in TRACED:
            found.append(value)
            pending.extend(c for c in value.co_consts if isinstance(c, CodeType))
    return found


def _victim(peer: roles.Peer, operation: str, path: str, kill_at: int) -> int:
    channel = peer.open()
    channel.statistics()  # the slot is claimed before the traced operation starts
    if path == "slow":
        channel._fast = False  # as on a checksum channel: the same code, minus the fast block
    counter = _Counter(kill_at)
    messages = [workload.make(VICTIM, seq, 40 + 24 * seq) for seq in range(3)]
    buffer = bytearray(512)
    counter.start()
    try:
        if operation == "send":
            channel.send(messages[0], timeout=10)
        elif operation == "send_many":
            channel.send_many(messages, timeout=10)
        elif operation == "recv":
            channel.recv(timeout=10)
        elif operation == "recv_many":
            channel.recv_many(2, timeout=10)
        else:
            channel.recv_into(buffer, timeout=10)
    finally:
        counter.stop()
    return counter.count


@dataclass(kw_only=True)
class Damage:
    """What a series of kills did to the ring: the counts the guarantees are judged on."""

    kills: int = 0
    torn: int = 0
    lost: int = 0
    duplicated: int = 0
    consumed_by_the_dead: int = 0
    stalls: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Sweep(Damage):
    """What the kills of one case did to the ring."""

    operation: str
    path: str
    bytecodes: int = 0


def drain(channel: Channel) -> list[tuple[int, int] | None]:
    """Return (producer, seq) of every message left in the ring (None for a torn one)."""
    got: list[tuple[int, int] | None] = []
    while True:
        try:
            raw = channel.recv(timeout=0)
        except Empty:
            return got
        try:
            got.append(workload.check(raw))
        except workload.TornMessage:
            got.append(None)


def _one(channel: Channel, sweep: Sweep, kill_at: int) -> int | None:
    """Run one victim killed at ``kill_at``; record the damage; return its count if it finished."""
    moves = CASES[(sweep.operation, sweep.path)]
    receiving = sweep.operation.startswith("recv")
    if receiving:
        channel.send_many([workload.make(VICTIM, seq, 40 + 24 * seq) for seq in range(3)])
    child = procs.spawn(_victim, roles.Peer.of(channel), sweep.operation, sweep.path, kill_at)
    try:
        status = child.wait(timeout=30)
        finished = child.join(timeout=1) if status == "exit 0" else None
    finally:
        child.close()
    if status not in ("exit 0", "SIGKILL"):
        sweep.problems.append(f"kill at {kill_at}: victim ended with {status}")
    killed = status == "SIGKILL"
    sweep.kills += killed
    started = time.monotonic()
    try:
        channel.send(workload.make(VICTIM + 1, kill_at, 24), timeout=RECOVERY_LIMIT)
    except Exception as exc:  # a stall is a finding, reported with the rest
        sweep.stalls += 1
        sweep.problems.append(f"kill at {kill_at}: send side stayed held: {exc!r}")
    got = drain(channel)
    if time.monotonic() - started > RECOVERY_LIMIT:
        sweep.stalls += 1
    sweep.torn += got.count(None)
    mine = [seq for item in got if item is not None for producer, seq in [item]
            if producer == VICTIM]
    sweep.duplicated += len(mine) - len(set(mine))
    if receiving:
        # Left for the parent: the messages the victim did not consume, in order.
        missing = 3 - len(set(mine))
        expected = moves if not killed else None
        if expected is not None and missing != expected:
            sweep.lost += abs(missing - expected)
        if killed:
            sweep.consumed_by_the_dead += missing
            sweep.lost += max(missing - moves, 0)
        if mine != sorted(set(mine)) or (mine and mine[-1] != 2):
            sweep.problems.append(f"kill at {kill_at}: left {mine}, not a suffix of 0..2")
    else:
        expected = list(range(moves))
        if not killed and sorted(mine) != expected:
            sweep.lost += moves - len(set(mine))
        if killed and sorted(set(mine)) not in ([], expected):
            sweep.problems.append(f"kill at {kill_at}: send_many left {mine}")
    return finished


def sweep(channel: Channel, operation: str, path: str,
          offsets: Callable[[int], list[int]] | None = None) -> Sweep:
    """Kill a victim at each offset of one case; ``offsets(total)`` picks them (default: all)."""
    result = Sweep(operation, path)
    total = _one(channel, result, 1 << 30)
    if not total:
        result.problems.append("the untraced run did not finish")
        return result
    result.bytecodes = total
    for kill_at in (offsets(total) if offsets else range(1, total + 1)):
        _one(channel, result, kill_at)
    return result
