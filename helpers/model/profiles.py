"""How hard the state machine searches: the default and the deep profile.

``MMAPCHECK_MODEL_DEPTH`` chooses: ``default`` (unset) is the budget of an
ordinary ``tox`` run (a few seconds on a small machine; the fixed tour of
:mod:`helpers.model.tour` reaches every rule whatever the search draws, so
the search can stay small); ``deep`` is
``tox -e deep``, at least ten thousand sequences, ending on its own well
within ten minutes, and writing ``reports/out/model.json``; ``matrix`` is a
small budget, for the platform variants of ``tox -e matrix``, which
re-run the model on each filesystem after a full run at the default depth.
The mutation self-test has a budget of its own (:data:`MUTATION_EXAMPLES`):
catching every deliberately wrong model needs more sequences than a run
that the tour already covers.
All start from the suite-wide hypothesis profile that is loaded (no deadline;
derandomized under CI) and change only what the model needs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

DEPTH_ENV = "MMAPCHECK_MODEL_DEPTH"
DEPTHS = ("default", "matrix", "deep")

#: Sequences and steps per sequence of each depth.
BUDGETS = {"default": (72, 50), "matrix": (20, 50), "deep": (10_000, 20)}
#: Sequences the mutation self-test gives each deliberately wrong model to be caught in: the
#: slowest mutant to show needs about 120, so there is room above it.
MUTATION_EXAMPLES = 200
#: Seconds after which no new sequence starts (None: the sequence count alone decides).
TIME_BUDGETS: dict[str, float | None] = {"default": None, "matrix": None, "deep": 540.0}
#: pytest-timeout for the check at each depth: a guard, never the way a run ends.
TIMEOUTS = {"default": 120, "matrix": 120, "deep": 900}
#: Items a depth's sequences are split into: each shard searches its share with its own
#: seed and executor, so that parallel workers share the default run.  The matrix and deep
#: depths stay whole (the deep one chunks its own search, see helpers.model.search).
SHARDS = {"default": 4, "matrix": 1, "deep": 1}

#: The executor is slow next to pure-Python tests, and a sequence may need many draws.
_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


class ProfileError(ValueError):
    """``MMAPCHECK_MODEL_DEPTH`` holds something else than a known depth."""


def depth() -> str:
    """Return the depth asked for by ``MMAPCHECK_MODEL_DEPTH`` (``default`` when unset)."""
    value = os.environ.get(DEPTH_ENV, "").strip() or "default"
    if value not in DEPTHS:
        raise ProfileError(f"{DEPTH_ENV}={value!r} is not a model depth; use one of "
                           f"{', '.join(DEPTHS)} (or leave it unset)")
    return value


def for_depth(name: str, **changes: object) -> settings:
    """Return the hypothesis settings of depth ``name`` on top of the loaded profile."""
    examples, steps = BUDGETS[name]
    values: dict[str, object] = {
        "max_examples": examples,
        "stateful_step_count": steps,
        "deadline": None,
        "suppress_health_check": _HEALTH,
        "report_multiple_bugs": False,
        # Explaining a failure reruns it many times over; the replay program says more.
        "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    }
    values.update(changes)
    return settings(**values)  # type: ignore[arg-type]


def shard_of(chosen: settings, index: int, count: int) -> settings:
    """Return the settings of shard ``index`` of ``count``: its share of the sequences.

    The shares add up to ``chosen.max_examples``.  A shard never derandomizes
    by itself (every shard would draw the same sequences); the caller seeds it.
    """
    if not 0 <= index < count:
        raise ValueError(f"shard {index} of {count} does not exist")
    share = chosen.max_examples // count + (index < chosen.max_examples % count)
    return settings(chosen, max_examples=share, derandomize=False)


def model_default() -> settings:
    """Return the settings of an ordinary run."""
    return for_depth("default")


def model_deep() -> settings:
    """Return the settings of ``tox -e deep``."""
    return for_depth("deep")


def mutation(examples: int = MUTATION_EXAMPLES) -> settings:
    """Return ``examples`` sequences of the default length, without shrinking or a database.

    A mutant only has to be caught; shrinking its counterexample would cost
    more than finding it, and a database would carry one mutant's failure
    over to the next run.
    """
    return for_depth("default", max_examples=examples, phases=[Phase.generate], database=None,
                     derandomize=True)
