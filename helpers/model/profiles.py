"""How hard the state machine searches: the default and the deep profile.

``MMAPCHECK_MODEL_DEPTH`` chooses: ``default`` (unset) is the budget of an
ordinary ``tox`` run (about ten seconds on a small machine); ``deep`` is
``tox -e deep``, at least ten thousand sequences, ending on its own well
within ten minutes, and writing ``reports/out/model.json``; ``matrix`` is a
third of the default, for the platform variants of ``tox -e matrix``, which
re-run the model on each filesystem after a full run at the default depth.  Both start from
the suite-wide hypothesis profile that is loaded (no deadline; derandomized
under CI) and change only what the model needs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

DEPTH_ENV = "MMAPCHECK_MODEL_DEPTH"
DEPTHS = ("default", "matrix", "deep")

#: Sequences and steps per sequence of each depth.
BUDGETS = {"default": (120, 50), "matrix": (40, 50), "deep": (10_000, 20)}
#: Seconds after which no new sequence starts (None: the sequence count alone decides).
TIME_BUDGETS: dict[str, float | None] = {"default": None, "matrix": None, "deep": 540.0}
#: pytest-timeout for the check at each depth: a guard, never the way a run ends.
TIMEOUTS = {"default": 120, "matrix": 120, "deep": 900}

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


def model_default() -> settings:
    """Return the settings of an ordinary run."""
    return for_depth("default")


def model_deep() -> settings:
    """Return the settings of ``tox -e deep``."""
    return for_depth("deep")


def mutation() -> settings:
    """Return the default budget without shrinking or the example database.

    A mutant only has to be caught; shrinking its counterexample would cost
    more than finding it, and a database would carry one mutant's failure
    over to the next run.
    """
    return for_depth("default", phases=[Phase.generate], database=None, derandomize=True)
