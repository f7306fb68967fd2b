"""Running the state machine at a depth: one hypothesis run, or a series of them.

The default depth is one run.  The deep one is split into runs of
:data:`CHUNK` sequences each: hypothesis keeps every sequence it tried in
memory for the length of a run, which at ten thousand stateful sequences
grows to hundreds of megabytes, and a series can stop cleanly between runs
when its time budget is spent.  Each run of a series has its own seed, fixed
when the loaded profile derandomizes (CI) and random otherwise.
"""

from __future__ import annotations

import time

import hypothesis
from hypothesis.stateful import run_state_machine_as_test

from helpers.model import machine, profiles
from helpers.model.session import Session

#: Sequences per hypothesis run in a deep search.
CHUNK = 1000


def search(session: Session, depth: str) -> hypothesis.settings:
    """Drive ``session`` through the sequences of ``depth``; return the settings used.

    Raises :class:`~helpers.model.session.Disagreement` (shrunk) when the
    platform and the model differ.
    """
    chosen = profiles.for_depth(depth)
    budget = profiles.TIME_BUDGETS[depth]
    if depth != "deep":
        run_state_machine_as_test(machine.build(session, time_budget=budget), settings=chosen)
        return chosen
    deadline = time.monotonic() + budget if budget is not None else None
    fixed_seeds = chosen.derandomize
    runs = -(-chosen.max_examples // CHUNK)
    for index in range(runs):
        left = deadline - time.monotonic() if deadline is not None else None
        if left is not None and left <= 0:
            session.stats.stopped_by_time_budget = True
            break
        part = hypothesis.settings(chosen, derandomize=False,
                                   max_examples=min(CHUNK, chosen.max_examples - index * CHUNK))
        state_machine = machine.build(session, time_budget=left)
        if fixed_seeds:
            state_machine = hypothesis.seed(index)(state_machine)
        run_state_machine_as_test(state_machine, settings=part)
    return chosen
