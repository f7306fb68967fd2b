"""``python -m helpers.model --bench``: how many steps per second the executor takes.

A step is the whole round: the model's prediction, the real call in the
executor, and every invariant (maps of each process, bytes of each readable
page and each file) compared.  Two mixes are measured, each over several
rounds, and the medians printed:

- the state machine's own mix (hypothesis choosing steps, with forks,
  deaths by signal and fresh executors as they come), timed inside the
  session, and also end to end with hypothesis's own time;
- a fixed loop of ordinary steps on mapped files (no fork), the steady state.

The target is 500 steps per second for the executor on the machine's mix.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import hypothesis
from hypothesis import Phase
from hypothesis.stateful import run_state_machine_as_test

from helpers.model import machine, profiles, steps
from helpers.model.session import Session

TARGET = 500.0


def _machine_round(session: Session, sequences: int, seed: int) -> tuple[float, float, int]:
    """Run ``sequences`` sequences; return (executor steps/s, overall steps/s, steps)."""
    before_steps, before_time = session.stats.steps, session.stats.session_seconds
    chosen = profiles.for_depth("default", max_examples=sequences, database=None,
                                phases=[Phase.generate])
    started = time.perf_counter()
    run_state_machine_as_test(hypothesis.seed(seed)(machine.build(session)), settings=chosen)
    wall = time.perf_counter() - started
    count = session.stats.steps - before_steps
    spent = session.stats.session_seconds - before_time
    return count / spent, count / wall, count


def _fixed_loop() -> list[steps.Step]:
    page = 4096
    return [
        steps.Store(addr=10, value=1), steps.Load(addr=page + 10),
        steps.Pwrite(handle=0, offset=100, length=50, value=2), steps.Load(addr=110),
        steps.Mprotect(addr=2 * page, length=page, prot="READ"),
        steps.Mprotect(addr=2 * page, length=page, prot="READ|WRITE"),
        steps.Store(addr=2 * page + 5, value=3), steps.Msync(addr=0, length=2 * page,
                                                              flags="ASYNC"),
        steps.Munmap(addr=4 * page, length=page),
        steps.Mmap(addr=4 * page, length=page, prot="READ|WRITE", flags="PRIVATE|FIXED",
                   handle=0),
    ]


def _fixed_round(session: Session, repeat: int) -> float:
    """Run the fixed loop ``repeat`` times in one executor; return steps per second."""
    session.begin()
    for step in (steps.ShmOpen(name="a", flags="RDWR|CREAT"),
                 steps.Ftruncate(handle=0, length=3 * 4096),
                 steps.Mmap(addr=0, length=2 * 4096, prot="READ|WRITE", flags="SHARED|FIXED",
                            handle=0),
                 steps.Mmap(addr=2 * 4096, length=3 * 4096, prot="READ|WRITE",
                            flags="PRIVATE|FIXED", handle=0)):
        session.run(step)
    loop = _fixed_loop()
    started = time.perf_counter()
    for _ in range(repeat):
        for step in loop:
            session.run(step)
    rate = repeat * len(loop) / (time.perf_counter() - started)
    session.end()
    return rate


def _row(label: str, values: list[float]) -> str:
    return (f"{label:<44} {statistics.median(values):9.1f} {min(values):9.1f} "
            f"{max(values):9.1f} {len(values):6d}")


def bench(rounds: int = 5, sequences: int = 40, repeat: int = 60,
          echo: Callable[[str], None] = print) -> int:
    """Run the benchmark, print its table, return 0 when the target is met."""
    with Session() as session:
        if session.platform.page_size != 4096:
            echo(f"note: page size {session.platform.page_size}; the fixed loop assumes 4096")
        executor, overall, fixed, counted = [], [], [], 0
        for seed in range(rounds):
            inside, outside, count = _machine_round(session, sequences, seed)
            executor.append(inside)
            overall.append(outside)
            counted += count
            fixed.append(_fixed_round(session, repeat))
        uname = os.uname()
        fs = ", ".join(f"{kind} on {name}" for kind, name in session.platform.filesystems)
        echo(f"model executor: Linux {uname.release} {uname.machine}, page "
             f"{session.platform.page_size}, {fs}")
        echo(f"{'steps per second':<44} {'median':>9} {'min':>9} {'max':>9} {'rounds':>6}")
        echo(_row("machine mix: executor + invariants", executor))
        echo(_row("machine mix: end to end, with hypothesis", overall))
        echo(_row("fixed loop (no fork): executor + invariants", fixed))
        echo(f"machine mix: {rounds} rounds of {sequences} sequences, {counted} steps; "
             f"fixed loop: {rounds} rounds of {repeat * len(_fixed_loop())} steps")
        met = statistics.median(executor) >= TARGET
        echo(f"target: executor >= {TARGET:.0f} steps/s on the machine mix: "
             f"{'met' if met else 'NOT met'}")
        return 0 if met else 1
