"""The verdict of a catalogue entry on one platform, from the checks that name it.

Rules (DESIGN.md), applied in this order to the check records of one entry
on one platform (optionally narrowed to one layer):

1. no record: ``skipped`` ("not run", or the entry's ``untestable`` reason);
2. a record whose outcome is ``error``, or a probe that could not run:
   ``error`` (the check broke; a broken setup is never a finding);
3. every record skipped: ``unsupported`` if any skip says the feature is
   missing, else ``skipped``, reasons kept;
4. a claim: among its cases with a prediction, all matched: ``confirmed``
   (``qualified`` when the catalogue names conditions the document leaves
   out); a central case unmatched: ``refuted``; only side cases unmatched:
   ``qualified``; no case with a prediction at all: ``error``;
5. a fault or model entry (no prediction): ``deviates`` when a check failed,
   ``known-deviation`` when a strict expected failure failed as expected,
   else ``conforms``.

A check's pass or fail is a statement about the specification, the verdict
one about the document; they are kept apart on purpose.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from helpers.catalogue import Entry
from reports.evidence import case_line, clip, failure_summary, probe_summary, short_nodeid
from reports.raw import Case, Check


class Verdict(enum.StrEnum):
    """What a platform says about a catalogue entry; the values are the published names."""

    CONFIRMED = "confirmed"  #: every predicted case matched
    REFUTED = "refuted"  #: a central prediction failed
    QUALIFIED = "qualified"  #: holds partly, or only under a condition the document omits
    CONFORMS = "conforms"  #: a fault or model entry behaved as specified
    DEVIATES = "deviates"  #: a fault or model entry broke its specification
    KNOWN_DEVIATION = "known-deviation"  #: a recorded platform deviation, still present
    UNSUPPORTED = "unsupported"  #: the feature is missing here
    SKIPPED = "skipped"  #: not run, or a need of the check is unmet here
    ERROR = "error"  #: the check itself broke

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __str__(self) -> str:
        # The published name, the same on every Python (3.11 changed the default).
        return self.value


#: Verdicts a claim can get, in the order summaries list them.
CLAIM_VERDICTS = (
    Verdict.CONFIRMED,
    Verdict.REFUTED,
    Verdict.QUALIFIED,
    Verdict.UNSUPPORTED,
    Verdict.SKIPPED,
    Verdict.ERROR,
)
#: Verdicts a fault or model entry can get, in the order summaries list them.
SPEC_VERDICTS = (
    Verdict.CONFORMS,
    Verdict.DEVIATES,
    Verdict.KNOWN_DEVIATION,
    Verdict.UNSUPPORTED,
    Verdict.SKIPPED,
    Verdict.ERROR,
)

#: Emoji-free markers, so a verdict reads the same in a terminal, Markdown and HTML.
MARKERS = {
    Verdict.CONFIRMED: "OK",
    Verdict.REFUTED: "NO",
    Verdict.QUALIFIED: "~~",
    Verdict.CONFORMS: "OK",
    Verdict.DEVIATES: "NO",
    Verdict.KNOWN_DEVIATION: "KD",
    Verdict.UNSUPPORTED: "NA",
    Verdict.SKIPPED: "--",
    Verdict.ERROR: "!!",
}


def verdicts_for(kind: str) -> tuple[Verdict, ...]:
    """Return the verdicts an entry of ``kind`` (claim, fault, model) can get."""
    return CLAIM_VERDICTS if kind == "claim" else SPEC_VERDICTS


@dataclass(frozen=True)
class Judgement:
    """A verdict with its one-line reason (the short evidence of a report row)."""

    verdict: Verdict
    reason: str


def _in_layer(check: Check, entry_id: str, layer: str | None) -> bool:
    """Return True when ``check`` ran ``entry_id`` in ``layer`` (any layer when None).

    A check's cases for the entry say which layers it exercised; a check
    without such cases (skipped, broken) counts for its declared layer.
    """
    if layer is None:
        return True
    cases = check.cases_of(entry_id)
    if cases:
        return any(check.layer_of(case) == layer for case in cases)
    return check.layer == layer


def _cases(entry: Entry, checks: Iterable[Check], layer: str | None) -> list[tuple[Check, Case]]:
    return [
        (check, case)
        for check in checks
        for case in check.cases_of(entry.id)
        if layer is None or check.layer_of(case) == layer
    ]


def _unique(texts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(texts))


def _broken(checks: Sequence[Check]) -> Judgement | None:
    """Return an ``error`` judgement when a check or one of its probes broke."""
    for check in checks:
        if check.outcome == "error":
            return Judgement(
                Verdict.ERROR,
                clip(f"{short_nodeid(check.nodeid)}: the check broke: "
                     f"{failure_summary(check.longrepr)}"),
            )
        for probe in check.probes:
            if isinstance(probe, dict) and probe.get("kind") == "error":
                return Judgement(
                    Verdict.ERROR,
                    clip(f"{short_nodeid(check.nodeid)}: a probe could not run: "
                         f"{probe_summary(probe)}"),
                )
    return None


def _all_skipped(checks: Sequence[Check]) -> Judgement | None:
    """Return ``unsupported``/``skipped`` when no check of the entry ran."""
    if not all(check.outcome == "skipped" for check in checks):
        return None
    skips = [check.skip for check in checks]
    reasons = _unique(skip.reason if skip else "skipped" for skip in skips)
    if any(skip is not None and skip.kind == "unsupported" for skip in skips):
        return Judgement(Verdict.UNSUPPORTED, clip(f"unsupported here: {reasons}"))
    return Judgement(Verdict.SKIPPED, clip(f"skipped: {reasons}"))


def _claim(entry: Entry, checks: Sequence[Check], layer: str | None) -> Judgement:
    judgement = _judge_cases(entry, checks, layer)
    failed = [check for check in checks if check.outcome == "failed"]
    if not failed:
        return judgement
    # A check stops at its first failed assertion of the specification, so
    # cases it would have recorded after it are missing: say so beside the verdict.
    note = (f"; {len(failed)} check(s) of the specification failed here, so their later "
            f"cases are missing: {short_nodeid(failed[0].nodeid)}")
    return Judgement(judgement.verdict, clip(judgement.reason + note))


def _judge_cases(entry: Entry, checks: Sequence[Check], layer: str | None) -> Judgement:
    predicted = [(c, case) for c, case in _cases(entry, checks, layer) if case.matched is not None]
    if not predicted:
        return Judgement(Verdict.ERROR, "the check recorded no prediction")
    missed = [(c, case) for c, case in predicted if not case.matched]
    total = len(predicted)
    if not missed:
        if entry.conditions:
            return Judgement(
                Verdict.QUALIFIED,
                clip(f"all {total} predicted cases matched; holds only where "
                     f"{' and '.join(entry.conditions)}"),
            )
        return Judgement(Verdict.CONFIRMED, f"all {total} predicted cases matched")
    central = [(c, case) for c, case in missed if case.central]
    shown = central or missed
    more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
    first = case_line(*shown[0])
    if central:
        return Judgement(Verdict.REFUTED, clip(f"central case failed: {first}{more}"))
    return Judgement(
        Verdict.QUALIFIED,
        clip(f"{total - len(missed)} of {total} predicted cases matched; not {first}{more}"),
    )


def _spec(checks: Sequence[Check]) -> Judgement:
    ran = [check for check in checks if check.outcome != "skipped"]
    failed = [check for check in ran if check.outcome == "failed"]
    if failed:
        first = failed[0]
        return Judgement(
            Verdict.DEVIATES,
            clip(f"{short_nodeid(first.nodeid)} failed: {failure_summary(first.longrepr)}"),
        )
    expected = [check for check in ran if check.outcome == "xfailed"]
    if expected:
        reasons = _unique(c.known_deviation or failure_summary(c.longrepr) for c in expected)
        return Judgement(Verdict.KNOWN_DEVIATION, clip(f"known deviation: {reasons}"))
    passed = sum(1 for check in ran if check.outcome in ("passed", "xpassed"))
    return Judgement(Verdict.CONFORMS, f"{passed} check{'s' if passed != 1 else ''} passed")


def judge(entry: Entry, checks: Sequence[Check], layer: str | None = None) -> Judgement:
    """Return the verdict of ``entry`` from the checks naming it on one platform.

    ``checks`` are the records of one platform whose ``claims`` include the
    entry; ``layer`` narrows them to one layer (``libc``/``pymmap``) for the
    per-layer results.  The rules are those of the module docstring.
    """
    mine = [c for c in checks if entry.id in c.claims and _in_layer(c, entry.id, layer)]
    if not mine:
        if entry.untestable:
            return Judgement(Verdict.SKIPPED, clip(f"untestable: {entry.untestable}"))
        return Judgement(Verdict.SKIPPED, "not run" + (f" in the {layer} layer" if layer else ""))
    judgement = _broken(mine) or _all_skipped(mine)
    if judgement is not None:
        return judgement
    if entry.kind == "claim":
        return _claim(entry, [c for c in mine if c.outcome != "skipped"], layer)
    return _spec(mine)
