"""Observations: what the platform did for one case, built only from what a probe did.

A check hands the report what it saw through the functions of this module,
each of which reads an :class:`~helpers.isolate.outcome.Outcome` (or the
platform itself, for file bytes) and returns an :class:`Observation`.  The
constructor refuses every other caller, and the ``prediction`` fixture
accepts nothing else, so an observation cannot be a literal written next to
the prediction: the safe way is the only way.

The functions never raise on an outcome of an unexpected shape.  A probe
that was meant to return bytes but died by ``SIGBUS`` is observed as
``"SIGBUS"``; a check that expected otherwise may then fail its assertion of
the man-page contract, but the report still learns what the platform did.

Vocabulary of observed values (what catalogue cases predict):
``"ok"`` (the call or probe returned), errno names (``"EINVAL"``), exception
class names (``"ValueError"``), signal names (``"SIGBUS"``; ``signal`` adds
the ``si_code``: ``"SIGBUS/BUS_ADRERR"``), ``"timeout"``, ``"exit N"``, and
whatever JSON value a probe returned in a field (bytes as lower-case hex).
"""

from __future__ import annotations

import dataclasses
import enum
import errno as errno_module
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from helpers.isolate.outcome import SETUP_REFUSED, Outcome, OutcomeKind


class Status(enum.StrEnum):
    """Whether a case could be observed here; the values are the published names."""

    OBSERVED = "observed"  #: the platform showed a value
    UNOBSERVABLE = "unobservable"  #: this platform cannot show the case at all (reason given)
    UNDECIDED = "undecided"  #: it was tried, and the result could not decide (reason given)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = enum.Enum.__str__


_TOKEN = object()
#: Prefix of ``how`` for an observation that stands in for a value the probe never produced.
STAND_IN = "instead-of:"
#: Prefix of a field value that says its step could not be set up (``SetupRefused.as_value``).
REFUSED_VALUE = SETUP_REFUSED + ": "


@dataclass(frozen=True)
class Observation:
    """One observed value with its provenance: the function that made it and its evidence.

    Build it with the functions of :mod:`helpers.observe`; the constructor
    raises ``TypeError`` for anyone else.
    """

    value: Any
    how: str
    status: Status = Status.OBSERVED
    reason: str = ""
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    _token: object = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise TypeError(
                "an Observation is built only by the functions of helpers.observe from "
                "what a probe did (result, field, note, signal, ...), never from a literal"
            )

    @property
    def observed(self) -> bool:
        """Return True when the platform showed a value for the case."""
        return self.status is Status.OBSERVED

    def to_dict(self) -> dict[str, Any]:
        """Return the observation as JSON-able data."""
        data: dict[str, Any] = {"status": self.status.value, "how": self.how,
                                "observed": _jsonable(self.value)}
        if self.reason:
            data["reason"] = self.reason
        if self.evidence:
            data["evidence"] = _jsonable(dict(self.evidence))
        return data


def _make(value: Any, how: str, evidence: Mapping[str, Any] | None = None, *,
          status: Status = Status.OBSERVED, reason: str = "") -> Observation:
    return Observation(value, how, status, reason, dict(evidence or {}), _TOKEN)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _result_value(outcome: Outcome) -> str:
    kind = outcome.kind
    if kind is OutcomeKind.RETURNED:
        return "ok"
    if kind is OutcomeKind.RAISED:
        return outcome.errno or outcome.exception or "raised"
    if kind is OutcomeKind.SIGNALLED:
        return outcome.signal or "signalled"
    if kind is OutcomeKind.EXITED:
        return f"exit {outcome.exit_code}"
    if kind is OutcomeKind.TIMEOUT:
        return "timeout"
    return "error"


def _outcome_evidence(outcome: Outcome) -> dict[str, Any]:
    evidence: dict[str, Any] = {"probe": outcome.target}
    for name in ("message", "si_code", "fault_offset"):
        if (value := getattr(outcome, name)) is not None:
            evidence[name] = value
    return evidence


def _refused(outcome: Outcome) -> Observation | None:
    """Return the case as unobservable when the probe's own setup was refused, else None."""
    if not outcome.setup_refused:
        return None
    return unobservable(outcome.message or "a step before the call under test was refused",
                        outcome)


def result(outcome: Outcome) -> Observation:
    """Return how the probe ended: ``"ok"``, an errno or exception name, a signal name, ...

    ``error`` (the runner itself failed) is kept as ``"error"`` so that a
    broken probe is never mistaken for a platform that refused.  A probe
    whose setup was refused (``Outcome.setup_refused``: it could not become
    ``nobody``, could not set a limit) observed nothing of the call: the
    case is unobservable, with the refusal as the reason.  Every other
    function of this module that falls back on how the probe ended does
    the same.
    """
    if (refused := _refused(outcome)) is not None:
        return refused
    return _make(_result_value(outcome), "result", _outcome_evidence(outcome))


def access(outcome: Outcome, setup: str) -> Observation:
    """Return how a memory access ended, as :func:`result`, unless its ``setup`` failed.

    A load or store ends in a value or a signal; an errno can only come from
    the calls that built what is accessed (``setup`` names it), and then the
    case is unobservable here, with that errno as the reason: a platform that
    would not build the layout has said nothing of the access.
    """
    if outcome.errno is not None:
        return unobservable(f"{setup} could not be set up: it failed with {outcome.errno}",
                            outcome)
    return result(outcome)


def succeeded(outcome: Outcome) -> Observation:
    """Return True when the probe returned, False when its call failed with an error.

    For a document that says only "fails" or "succeeds".  A probe killed by
    a signal, timed out or broken is neither: it is observed as
    ``result(outcome)`` (``"SIGSEGV"``), so a crash never passes for a failure.
    """
    if outcome.kind in (OutcomeKind.RETURNED, OutcomeKind.RAISED) and not outcome.setup_refused:
        return _make(outcome.ok, "succeeded", _outcome_evidence(outcome))
    return result(outcome)


def signal(outcome: Outcome) -> Observation:
    """Return ``"SIGNAL/SI_CODE"`` for a probe killed by a signal, else ``result(outcome)``.

    Where the platform would not tell the ``si_code``, the value is the bare
    signal name: a guess is never written.
    """
    if outcome.kind is OutcomeKind.SIGNALLED and outcome.signal:
        value = f"{outcome.signal}/{outcome.si_code}" if outcome.si_code else outcome.signal
        return _make(value, "signal", _outcome_evidence(outcome))
    return result(outcome)


def _dig(value: Any, path: Sequence[Any]) -> tuple[bool, Any]:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, value


def field(outcome: Outcome, *path: Any) -> Observation:
    """Return ``outcome.value[path[0]][path[1]]...``, or how the probe ended when it has none.

    A probe that did not return is observed as how it ended (``"SIGBUS"``,
    ``"EINVAL"``), never as an exception in the check; a probe that returned
    without that field is observed as ``"no field <path>"``.  Either way the
    observation is marked as a stand-in, which :func:`compare` never takes
    for a value.  A field whose step could not be set up
    (``SetupRefused.as_value()``) is unobservable, with the refusal as the
    reason.
    """
    if outcome.ok:
        found, value = _dig(outcome.value, path)
        if isinstance(value, str) and value.startswith(REFUSED_VALUE):
            return unobservable(value.removeprefix(REFUSED_VALUE), outcome)
        if found:
            return _make(value, "field:" + ".".join(map(str, path)), {"probe": outcome.target})
    return _stand_in(outcome, "field:" + ".".join(map(str, path)))


def _stand_in(outcome: Outcome, wanted: str) -> Observation:
    """Return what a probe did in place of the value ``wanted``, marked as a stand-in."""
    if (refused := _refused(outcome)) is not None:
        return refused
    if outcome.ok:
        return _make(f"no {wanted}", STAND_IN + wanted, {"probe": outcome.target})
    return _make(_result_value(outcome), STAND_IN + wanted, _outcome_evidence(outcome))


def note(outcome: Outcome, key: str) -> Observation:
    """Return what the probe declared under ``key`` before it ended, else ``result(outcome)``.

    Notes survive a child that died, so this is how a check observes a step
    that happened before the signal (``mmap_succeeded`` before the ``SIGBUS``).
    """
    if key in outcome.notes:
        return _make(outcome.notes[key], f"note:{key}", _outcome_evidence(outcome))
    return _stand_in(outcome, f"note:{key}")


def classify(observation: Observation, table: Mapping[Any, Any]) -> Observation:
    """Return ``observation`` with its value renamed through ``table``; others pass unchanged.

    For a vocabulary the document uses (``{"ok": "maps"}``).  The status and
    evidence are kept, and the original value is added to the evidence.
    """
    if not observation.observed or observation.how.startswith(STAND_IN):
        return observation  # what a probe did instead is never renamed into a value
    try:
        renamed = table.get(observation.value, observation.value)
    except TypeError:  # an unhashable value (a list, a dict) has no entry
        renamed = observation.value
    evidence = {**observation.evidence, "raw": _jsonable(observation.value)}
    return _make(renamed, f"classify({observation.how})", evidence)


def compare(left: Observation, right: Observation) -> Observation:
    """Return True when two observed values are equal (the bytes stored and those read back).

    When either side could not be observed, or stands in for a value the
    probe never produced (it died first), that side is returned: two probes
    that both died by ``SIGBUS`` are not "equal", and a comparison with
    nothing is not a ``False``.
    """
    for side in (left, right):
        if not side.observed or side.how.startswith(STAND_IN):
            return side
    equal = _jsonable(left.value) == _jsonable(right.value)
    evidence = {"left": _jsonable(left.value), "right": _jsonable(right.value),
                "left_how": left.how, "right_how": right.how}
    return _make(equal, "compare", evidence)


def same(outcome: Outcome, left: Any, right: Any) -> Observation:
    """Return True when two fields of one outcome are equal (the bytes stored and read back).

    ``left`` and ``right`` are keys of ``outcome.value``, or tuples of keys
    for nested fields.  A probe that did not return is observed as how it
    ended, never as a match: :func:`compare` does not take stand-ins for values.
    """
    paths = [path if isinstance(path, tuple) else (path,) for path in (left, right)]
    return compare(field(outcome, *paths[0]), field(outcome, *paths[1]))


def happened(outcomes: Iterable[Outcome], *path: Any) -> Observation:
    """Return True when the field at ``path`` is truthy in at least one returned outcome.

    For races: sample often enough that "seen at least once" is stable, and
    read ``trials`` and ``hits`` from the evidence.  When no outcome
    returned, the first one's ``result`` is observed instead.
    """
    outcomes = list(outcomes)
    returned = [o for o in outcomes if o.ok]
    if not returned:
        return result(outcomes[0]) if outcomes else undecided("no trial ran")
    hits = sum(1 for o in returned if _dig(o.value, path)[1])
    evidence = {"trials": len(returned), "hits": hits,
                "failed_trials": len(outcomes) - len(returned)}
    return _make(hits > 0, "happened:" + ".".join(map(str, path)), evidence)


def median(outcomes: Iterable[Outcome], *path: Any) -> Observation:
    """Return the median of a numeric field over the outcomes that returned it."""
    outcomes = list(outcomes)
    values = [v for o in outcomes if o.ok
              for found, v in [_dig(o.value, path)] if found and isinstance(v, int | float)]
    if not values:
        return result(outcomes[0]) if outcomes else undecided("no sample was taken")
    evidence = {"samples": len(values), "min": min(values), "max": max(values)}
    return _make(statistics.median(values), "median:" + ".".join(map(str, path)), evidence)


def file_bytes(path: str, offset: int = 0, size: int = -1) -> Observation:
    """Return the bytes of the file at ``path`` as read now, through a new descriptor.

    A file that cannot be read is observed as the errno of the failure.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(size)
    except OSError as exc:
        name = errno_module.errorcode.get(exc.errno or 0, "OSError")
        return _make(name, "file_bytes", {"path_offset": offset, "message": exc.strerror})
    return _make(data, "file_bytes", {"offset": offset, "size": len(data)})


def faster(fast: Sequence[float], slow: Sequence[float], *, margin: float,
           rounds: Sequence[int] | None = None, resamples: int = 2000,
           seed: int = 0) -> Observation:
    """Return whether ``fast`` is faster than ``slow`` by more than ``margin``, or undecided.

    ``fast[i]`` and ``slow[i]`` are durations (lower is faster) timed next to
    each other, in run ``i``; ``rounds`` gives how many consecutive runs each
    round of measurement contributed (one round of all of them by default).
    The rule is on the ratio of each run, ``slow[i] / fast[i]``: a shared
    machine has slow and fast phases that last longer than a run, and the
    two sides of one run fall into the same phase, so a phase that slows
    both alike divides out of their ratio, where a ratio of medians would
    mix samples of different moments.

    A phase can also change the ratio itself (when it slows one side's kind
    of work more than the other's), and then the runs of one round agree
    with each other and not with another round's.  So with several rounds
    the round is the unit: each round's ratio is the median of its runs',
    the statistic the median of the round ratios, and its bootstrap 95 %
    interval resamples rounds; with up to five rounds the interval spans
    from the lowest round ratio to the highest, so rounds on both sides of
    the margin leave the comparison undecided however many runs each took.
    With one round the interval resamples its runs.  The interval wholly
    above ``1 + margin``: True; wholly below it: False; straddling it:
    undecided.  ``resamples`` resamples with a fixed ``seed``: the same
    samples give the same answer.  A shift that no round of this run saw
    cannot be seen by any rule; the method must keep the ratio itself
    steady, with the same call overhead on both sides.
    """
    if len(fast) != len(slow):
        return undecided(f"unpaired samples ({len(fast)} and {len(slow)}); each run times "
                         "both sides")
    if len(fast) < 3:
        return undecided(f"too few runs ({len(fast)}; need 3)")
    sizes = list(rounds) if rounds is not None else [len(fast)]
    if sum(sizes) != len(fast) or min(sizes) < 1:
        return undecided(f"rounds {sizes} do not add up to the {len(fast)} runs")
    ratios = [s / max(f, 1e-12) for f, s in zip(fast, slow, strict=True)]
    grouped, start = [], 0
    for size in sizes:
        grouped.append(ratios[start:start + size])
        start += size
    units = ratios if len(grouped) == 1 else [statistics.median(g) for g in grouped]
    rng = random.Random(seed)
    estimates = sorted(statistics.median(rng.choices(units, k=len(units)))
                       for _ in range(resamples))
    low, high = estimates[int(0.025 * resamples)], estimates[int(0.975 * resamples) - 1]
    point = statistics.median(units)
    evidence = {"ratio": round(point, 4), "interval": [round(low, 4), round(high, 4)],
                "margin": margin, "fast_median": statistics.median(fast),
                "slow_median": statistics.median(slow), "samples": [len(fast), len(slow)],
                "round_ratios": [round(statistics.median(g), 4) for g in grouped]}
    threshold = 1 + margin
    if low > threshold:
        return _make(True, "faster", evidence)
    if high < threshold:
        return _make(False, "faster", evidence)
    return _make(None, "faster", evidence, status=Status.UNDECIDED,
                 reason=f"ratio {point:.3f} with 95 % interval [{low:.3f}, {high:.3f}] "
                        f"straddles the margin {threshold:.2f}")


def unobservable(reason: str, outcome: Outcome | None = None) -> Observation:
    """Return that this platform cannot show the case at all (``reason`` says why).

    For a case whose central observation is impossible here (tmpfs has no
    writeback, so "dirty until msync" cannot be seen): the claim becomes
    ``unsupported`` with the reason, never ``refuted`` or ``error``.
    """
    return _make(None, "unobservable", _outcome_evidence(outcome) if outcome else None,
                 status=Status.UNOBSERVABLE, reason=reason)


def undecided(reason: str, outcome: Outcome | None = None) -> Observation:
    """Return that the case was tried and could not be decided (``reason`` says why)."""
    return _make(None, "undecided", _outcome_evidence(outcome) if outcome else None,
                 status=Status.UNDECIDED, reason=reason)
