"""Replaying a sequence: the program a disagreement prints, and what runs it.

``snippet(steps)`` returns a short Python program; anyone with a checkout
can run it (``python -c`` or a file run from the checkout) to make the same
calls in a fresh executor, see each step's outcome beside the model's, and
get the same :class:`~helpers.model.session.Disagreement` at the same step.
"""

from __future__ import annotations

from collections.abc import Sequence

from helpers.model.deviations import KNOWN, Deviation
from helpers.model.results import Result
from helpers.model.session import ModelFactory, Session
from helpers.model.space import Model
from helpers.model.steps import Step


def snippet(steps: Sequence[Step]) -> str:
    """Return a Python program that replays ``steps`` against the helpers."""
    kinds = sorted({type(step).__name__ for step in steps})
    lines = ["from helpers.model.replay import replay",
             f"from helpers.model.steps import {', '.join(kinds)}",
             "",
             "replay(["]
    lines += [f"    {step!r}," for step in steps]
    lines.append("])")
    return "\n".join(lines)


def replay(steps: Sequence[Step], *, model: ModelFactory = Model,
           deviations: Sequence[Deviation] = KNOWN, verbose: bool = True) -> list[Result]:
    """Run ``steps`` in a fresh executor beside ``model`` and return the platform's outcomes.

    Prints each call with its outcome when ``verbose``.  Raises
    :class:`~helpers.model.session.Disagreement` at the first step where
    the platform and the model differ (and no deviation in ``deviations``
    explains it: pass ``deviations=()`` to hold the platform to its man
    pages alone).
    """
    outcomes = []
    with Session(model, deviations=deviations) as session:
        session.begin()
        for step in steps:
            outcome = session.run(step)
            outcomes.append(outcome)
            if verbose:
                print(f"{session.steps[-1].describe():<72} {outcome.describe()}")
    return outcomes
