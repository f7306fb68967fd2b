"""The proof that the model-based check bites: every deliberately wrong model is caught.

Each mutant runs in place of the model with the default budget (no
shrinking).  It must disagree with the platform, and the sequence it was
caught on must replay clean against the correct model: the catch is the
mutant's fault, not a flaw the two share.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis.stateful import run_state_machine_as_test

from helpers.model import machine, profiles
from helpers.model.mutants import MUTANTS
from helpers.model.replay import replay
from helpers.model.session import Disagreement, Session
from helpers.model.space import Model


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session() as made:
        yield made


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_mutant_is_caught_within_the_default_budget(session, mutant, request):
    session.model_factory = mutant
    before = session.stats.sequences
    try:
        with pytest.raises(Disagreement) as caught:
            run_state_machine_as_test(machine.build(session), settings=profiles.mutation())
    finally:
        session.model_factory = Model
        session.end()
    assert caught.value.model == mutant.__name__
    replay(caught.value.steps, verbose=False)
    try:
        report = request.getfixturevalue("report_figures")
    except pytest.FixtureLookupError:
        return
    report("model", {"mutant": mutant.__name__, "caught": True,
                     "sequences_until_caught": session.stats.sequences - before,
                     "steps_in_catching_sequence": len(caught.value.steps)})
