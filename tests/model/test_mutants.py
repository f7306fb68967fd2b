"""The proof that the model-based check bites: every deliberately wrong model is caught.

Each mutant runs in place of the model twice.  First along the fixed tour
(:mod:`helpers.model.tour`), which is the same on every run and must catch
every one of them.  Then in the search, with a budget of its own
(:data:`helpers.model.profiles.MUTATION_EXAMPLES`, no shrinking): it must
disagree with the platform too, and the sequence it was caught on must
replay clean against the correct model, so the catch is the mutant's fault,
not a flaw the two share.

The search is derandomized, but hypothesis also mixes constants taken from
the source of every local module loaded so far into its draws, so what a
worker happened to import before (other checks, in any order xdist hands
them out) used to change the sequences and the number a mutant needed, at
times past the budget.  Every module of the project is imported here first,
so the pool no longer depends on the order the checks ran in, and neither do
the sequences (one in a hundred or so may still differ, from modules outside
the project; the budget leaves room for that).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from hypothesis.stateful import run_state_machine_as_test

from helpers.model import machine, profiles
from helpers.model.mutants import MUTANTS
from helpers.model.replay import replay
from helpers.model.session import Disagreement, Session
from helpers.model.space import Model
from helpers.model.tour import tour


def _import_the_project() -> None:
    """Import every module of the project's packages (not the ``__main__`` entry points)."""
    for package in ("helpers", "fixtures", "reports"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if not info.name.endswith(".__main__"):
                importlib.import_module(info.name)


_import_the_project()


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session() as made:
        yield made


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_mutant_is_caught_by_the_fixed_tour(mutant):
    with Session(mutant) as session, pytest.raises(Disagreement) as caught:
        session.begin()
        for step in tour(session.platform.page_size):
            session.run(step)
    assert caught.value.model == mutant.__name__
    replay(caught.value.steps, verbose=False)


#: A guard only: the slowest mutant takes its hundred-odd sequences, which a busy machine slows.
@pytest.mark.timeout(240)
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_mutant_is_caught_within_the_search_budget(session, mutant, request):
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
