"""The address space as the man pages describe it, against the real kernel, step by step.

A hypothesis state machine drives sequences of mmap, munmap, mprotect, msync,
ftruncate, pwrite, loads and stores, fork, shm_open, shm_unlink, open and
close through a step executor, and after every step compares the outcome
(value, errno, signal with ``si_code``) and the state (``/proc/<pid>/maps``,
the bytes of every page and every file) with the model in
:mod:`helpers.model.space`.  A disagreement fails the check with the minimal
sequence as a program that replays it.

Beside the search, a fixed tour (:mod:`helpers.model.tour`) takes the same
deterministic sequence on every run and must reach every rule of the model
and every kind of step, so that a small search budget never leaves a rule
untried; the search adds the combinations nobody wrote down.

The default run is split into shards, each its own item with its own
executor and its own share of the sequences, so that parallel workers share
it; the report adds their figures up.  ``MMAPCHECK_MODEL_DEPTH=deep``
(``tox -e deep``, one item) searches ten thousand
sequences and writes ``reports/out/model.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from helpers import scratch
from helpers.model import profiles, rules
from helpers.model.deviations import KNOWN, Deviation
from helpers.model.executor import ExecutorBroken, descriptor_shortage
from helpers.model.figures import write_model_json
from helpers.model.platform import detect
from helpers.model.replay import replay
from helpers.model.search import search
from helpers.model.session import Disagreement, Session
from helpers.model.steps import STEP_TYPES
from helpers.model.tour import tour

#: Errors that mean this run lacks a resource (descriptors, memory), not that the harness broke.
SHORTAGES = ("EMFILE", "ENFILE", "ENOMEM", "EAGAIN", "ENOSPC")


@pytest.fixture
def model_session() -> Iterator[Session]:
    """Return a session (an executor of its own) for the sequences of one shard."""
    with Session() as session:
        yield session


@pytest.fixture
def executor_broke(model_session: Session, machinery_broke: Callable[[str, str], None]
                   ) -> Callable[[BaseException], None]:
    """Return a function that, once the session's executor has broken, says so and stops.

    A broken executor observed nothing: hypothesis would report what the
    broken runs left it (a flaky strategy, a different error on replay) and
    the rules would read as broken.  A shortage this run has (``EMFILE``:
    the descriptor limit) skips the check with the reason; any other break
    records an ``error`` outcome with the executor's reason and raises it.
    """
    def stop(failure: BaseException) -> None:
        broken = model_session.broken
        if broken is None:
            return
        if broken.errno in SHORTAGES:
            pytest.skip(f"the step executor ran short ({broken.errno}): {broken}")
        machinery_broke("step executor", str(broken))
        raise broken from failure

    return stop


def _skip_unless_descriptors_for(steps: int) -> None:
    """Skip when the descriptor limit is too low for sequences of ``steps`` steps."""
    if (shortage := descriptor_shortage(steps)) is not None:
        pytest.skip(shortage)


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """Return a function that adds figures to the report's model section, where it can."""
    try:
        report = request.getfixturevalue("report_figures")
    except pytest.FixtureLookupError:  # run without the suite's plugin
        return lambda data: None
    return lambda data: report("model", data)


DEPTH = profiles.depth()
SHARDS = profiles.SHARDS[DEPTH]


@pytest.fixture
def shard(request: pytest.FixtureRequest) -> int:
    """Return the index of this item's shard (0 where the depth is not split)."""
    return int(getattr(request, "param", 0))


#: One item per shard where the depth is split; one item, with its old name, where it is not.
SHARDED = pytest.mark.parametrize("shard", range(SHARDS), indirect=True,
                                  ids=[f"shard{n + 1}of{SHARDS}" for n in range(SHARDS)])


@pytest.mark.claim(*rules.RULES)
@pytest.mark.timeout(profiles.TIMEOUTS[DEPTH])
@pytest.mark.spread("address-space-model")
@(SHARDED if SHARDS > 1 else pytest.mark.usefixtures())
def test_address_space_agrees_with_the_man_pages(
        model_session: Session, record_figures: Callable[[dict[str, Any]], None],
        implicate: Callable[[Iterable[str]], None], shard: int,
        executor_broke: Callable[[BaseException], None]) -> None:
    """Every step's outcome and the state after it are what the man pages say."""
    chosen = profiles.for_depth(DEPTH)
    used = chosen
    # A sequence's steps, after an opening of at most two.
    _skip_unless_descriptors_for(chosen.stateful_step_count + 2)
    try:
        used = search(model_session, DEPTH, shard)
    except Exception as failure:
        executor_broke(failure)
        if not isinstance(failure, Disagreement | ExceptionGroup):
            raise
        # Only the rules that decided the steps the platform disagreed with are
        # broken; the search stopped there, so it says nothing of the others.
        found = _disagreements(failure)
        if found and all(d.rules for d in found):
            implicate(r for d in found for r in d.rules)
        raise
    finally:
        figures = model_session.stats.figures(
            depth=DEPTH, shard=shard + 1, shards=SHARDS, max_examples=used.max_examples,
            steps_per_sequence=chosen.stateful_step_count,
            time_budget_s=profiles.TIME_BUDGETS[DEPTH], derandomize=chosen.derandomize,
            filesystems=dict(model_session.platform.filesystems))
        record_figures(figures)
        if DEPTH == "deep":
            write_model_json(figures)


def _disagreements(failure: BaseException) -> list[Disagreement]:
    """Return the disagreements in ``failure`` (hypothesis groups distinct ones); [] for others."""
    if isinstance(failure, Disagreement):
        return [failure]
    if isinstance(failure, BaseExceptionGroup):
        found = [d for e in failure.exceptions for d in _disagreements(e)]
        return found if len(found) == len(failure.exceptions) else []
    return []


@pytest.mark.claim(*rules.RULES)
def test_a_fixed_tour_reaches_every_rule_and_operation(
        model_session: Session, implicate: Callable[[Iterable[str]], None],
        executor_broke: Callable[[BaseException], None]) -> None:
    """The tour agrees with the platform step by step and leaves no rule or call untried."""
    steps = tour(model_session.platform.page_size)
    _skip_unless_descriptors_for(len(steps))
    try:
        model_session.begin()
        for step in steps:
            model_session.run(step)
    except ExecutorBroken as broken:
        executor_broke(broken)
        raise
    except Disagreement as disagreement:
        if disagreement.rules:  # as in the search: only the rules of that step are broken
            implicate(disagreement.rules)
        raise
    model_session.end()
    stats = model_session.stats
    assert stats.lives == 1, "the executor died during the tour"
    assert set(rules.RULES) - set(stats.rules) == set(), "rules the tour does not reach"
    toured = {key.partition(":")[0] for key in stats.outcomes}
    assert set(STEP_TYPES) - toured == set(), "calls the tour does not make"


def _deviation_params() -> list[Any]:
    """Return one row per known deviation, a strict expected failure where it shows.

    Where the platform's facts say the deviation cannot show (its example
    grows a shm object and /dev/shm writes back), the example must follow the
    man page: the row is an ordinary check.
    """
    platform = detect(scratch.directory())
    return [pytest.param(d, id=d.id, marks=[
        pytest.mark.claim(d.entry),
        pytest.mark.xfail(d.shows_on(platform), strict=True, raises=Disagreement,
                          reason=f"{d.summary} (known deviation {d.where})")]) for d in KNOWN]


@pytest.mark.parametrize("deviation", _deviation_params())
def test_known_deviation_still_present(deviation: Deviation) -> None:
    """The platform still breaks the rule; the day it is fixed this passes and turns red."""
    replay(list(deviation.example), deviations=(), verbose=False)
