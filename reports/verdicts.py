"""The verdict of a catalogue entry on one platform, judged from data.

An entry that declares its cases in the catalogue (``[[entry.case]]``) is
judged from the observations its checks recorded (``prediction.observe``)
and the platform's facts (:mod:`reports.facts`), in this order, on one
platform and optionally one layer:

1. the entry is ``untestable`` in the catalogue: ``untestable`` with the reason;
2. no check ran it: ``skipped`` ("not run"); every check skipped:
   ``unsupported`` when a skip says the feature is missing, else ``skipped``;
3. (spec entries) a strict expected failure failed as expected: ``known-deviation``;
4. a central case observed to differ: ``refuted`` (``differs`` for a spec
   entry), with the platform's facts;
5. a check whose machinery broke (a pytest error, a probe that could not
   run) before it observed a central case: ``error``; a central case that no
   check observed at all: ``error`` naming the case;
6. a central case unobservable here: ``unsupported``; undecided (a race that
   did not show, a timing inside the noise): ``inconclusive``; reasons kept;
7. a side case that differed where no named condition explains it:
   ``refuted`` (``differs``) with the facts; every side mismatch explained by
   its condition: ``qualified`` ("holds where ..., not where ...";
   ``differs`` with the conditions for a spec entry); all matched:
   ``confirmed`` (``conforms``).

A side case's condition explains a mismatch when it has no ``when`` or when
its ``when`` holds on the platform's facts plus the observation's layer; a
fact the platform did not record explains nothing.  A check's pass or fail
is a statement about the specification, never an input here.

An entry without declared cases (checks not yet converted) keeps the older
rule on the ``matched`` its records carry, read as written.  Fault and model
entries get ``conforms``, ``deviates`` or ``known-deviation`` from their
checks' outcomes; a check of many entries that names the ones its failure
speaks of (the model, which stops at the first rule broken) makes only those
deviate, and an entry whose every check stopped at another's is
``inconclusive``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from helpers import conditions as conditions_
from helpers.catalogue import Entry, predicted_matches
from reports import facts as facts_
from reports.evidence import clip, failure_summary, probe_summary, short_nodeid, value
from reports.raw import Case, Check


class Verdict(enum.StrEnum):
    """What a platform says about a catalogue entry; the values are the published names."""

    CONFIRMED = "confirmed"  #: every predicted case matched
    REFUTED = "refuted"  #: a central case differed, or a side case no condition explains
    QUALIFIED = "qualified"  #: holds, except where a named condition explains a side case
    INCONCLUSIVE = "inconclusive"  #: a central case was tried and could not decide
    CONFORMS = "conforms"  #: a spec, fault or model entry behaved as specified
    DIFFERS = "differs"  #: a spec entry's case differed from POSIX (a finding)
    DEVIATES = "deviates"  #: a fault or model entry broke its specification
    KNOWN_DEVIATION = "known-deviation"  #: a recorded platform deviation, still present
    UNSUPPORTED = "unsupported"  #: the feature, or a central case, cannot be seen here
    SKIPPED = "skipped"  #: not run, or a need of the check is unmet here
    UNTESTABLE = "untestable"  #: no experiment can decide it (the catalogue says why)
    ERROR = "error"  #: the check's machinery broke before observing

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __str__(self) -> str:
        # The published name, the same on every Python (3.11 changed the default).
        return self.value


_ANY = (Verdict.UNSUPPORTED, Verdict.SKIPPED, Verdict.UNTESTABLE, Verdict.ERROR)
#: Verdicts a claim can get, in the order summaries list them.
CLAIM_VERDICTS = (Verdict.CONFIRMED, Verdict.REFUTED, Verdict.QUALIFIED,
                  Verdict.INCONCLUSIVE, *_ANY)
#: Verdicts a POSIX spec entry can get.
POSIX_VERDICTS = (Verdict.CONFORMS, Verdict.DIFFERS, Verdict.KNOWN_DEVIATION,
                  Verdict.INCONCLUSIVE, *_ANY)
#: Verdicts a fault or model entry can get, in the order summaries list them.
SPEC_VERDICTS = (Verdict.CONFORMS, Verdict.DEVIATES, Verdict.KNOWN_DEVIATION, *_ANY)
#: Verdicts that are findings: a report shows their cases and how to rerun them.
FINDINGS = (Verdict.REFUTED, Verdict.QUALIFIED, Verdict.DIFFERS, Verdict.INCONCLUSIVE)

#: Emoji-free markers, so a verdict reads the same in a terminal, Markdown and HTML.
MARKERS = {
    Verdict.CONFIRMED: "OK",
    Verdict.REFUTED: "NO",
    Verdict.QUALIFIED: "~~",
    Verdict.INCONCLUSIVE: "??",
    Verdict.CONFORMS: "OK",
    Verdict.DIFFERS: "<>",
    Verdict.DEVIATES: "NO",
    Verdict.KNOWN_DEVIATION: "KD",
    Verdict.UNSUPPORTED: "NA",
    Verdict.SKIPPED: "--",
    Verdict.UNTESTABLE: "UT",
    Verdict.ERROR: "!!",
}


def verdicts_for(kind: str) -> tuple[Verdict, ...]:
    """Return the verdicts an entry of ``kind`` (claim, spec, fault, model) can get."""
    return {"claim": CLAIM_VERDICTS, "spec": POSIX_VERDICTS}.get(kind, SPEC_VERDICTS)


@dataclass(frozen=True)
class JudgedCase:
    """One observation of a case beside its prediction: the row of a findings table."""

    check: str
    case: str
    instance: str | None
    layer: str | None
    predicted: Any
    observed: Any
    status: str | None
    matched: bool | None
    central: bool
    condition: str = ""
    when: str = ""
    explained: bool | None = None
    reason: str = ""
    how: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """Return ``case[instance] (layer)``."""
        text = self.case + (f"[{self.instance}]" if self.instance else "")
        return text + (f" ({self.layer})" if self.layer else "")

    def line(self) -> str:
        """Return one line: ``test case (layer): predicted P, observed O - matched``."""
        where = f"{short_nodeid(self.check)} {self.label()}"
        if self.status in ("unobservable", "undecided"):
            return clip(f"{where}: {self.status}: {self.reason}")
        if self.matched is None:
            return clip(f"{where}: observed {value(self.observed)} - no prediction")
        text = (f"{where}: predicted {value(self.predicted)}, observed {value(self.observed)}"
                f" - {'matched' if self.matched else 'did not match'}")
        if self.central:
            text += " (central)"
        elif self.explained:
            text += f" (explained: {self.condition})"
        return clip(text)

    def short(self) -> str:
        """Return ``case (layer): predicted P, observed O``, for a verdict's reason."""
        return (f"{self.label()}: predicted {value(self.predicted)}, "
                f"observed {value(self.observed)}")

    def as_data(self) -> dict[str, Any]:
        """Return the case as the report's JSON."""
        return {"check": self.check, "case": self.case, "instance": self.instance,
                "layer": self.layer, "predicted": self.predicted, "observed": self.observed,
                "status": self.status, "matched": self.matched, "central": self.central,
                "condition": self.condition, "when": self.when, "explained": self.explained,
                "reason": self.reason, "how": self.how, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class Judgement:
    """A verdict with its one-line reason and the data behind it.

    ``cases`` are the judged observations; ``conditions`` the side-case
    conditions found to explain a mismatch (``{case, condition, when}``);
    ``facts`` the platform facts when a mismatch refutes (or differs);
    ``holds`` the "holds where ..., not where ..." sentence of a qualified one.
    """

    verdict: Verdict
    reason: str
    cases: tuple[JudgedCase, ...] = ()
    conditions: tuple[Mapping[str, Any], ...] = ()
    facts: Mapping[str, Any] | None = None
    holds: str = ""


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


def _unique(texts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(texts))


def _broken_reason(check: Check) -> str | None:
    """Return why a check's machinery broke (pytest error, a probe that could not run)."""
    if check.outcome == "error":
        return f"{short_nodeid(check.nodeid)}: the check broke: {failure_summary(check.longrepr)}"
    for probe in check.probes:
        if isinstance(probe, dict) and probe.get("kind") == "error":
            return f"{short_nodeid(check.nodeid)}: a probe could not run: {probe_summary(probe)}"
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


def _explains(when: str, facts: Mapping[str, Any], layer: str | None) -> bool:
    """Return True only when ``when`` is known to hold (no ``when``: always)."""
    if not when:
        return True
    return conditions_.holds(when, {**facts, "layer": layer}) is True


def _judge_observation(entry: Entry, check: Check, case: Case,
                       facts: Mapping[str, Any]) -> JudgedCase | None:
    declared = entry.case(case.case)
    if declared is None:  # the catalogue dropped the case since the run
        return None
    layer = check.layer_of(case)
    matched = predicted_matches(declared.predicted, case.observed) \
        if case.status == "observed" else None
    explained = None
    if matched is False and not declared.central:
        explained = bool(declared.condition) and _explains(declared.when, facts, layer)
    return JudgedCase(check.nodeid, case.case, case.instance, layer, declared.predicted,
                      case.observed, case.status, matched, declared.central, declared.condition,
                      declared.when, explained, case.reason, case.how, case.evidence)


def _legacy_case(check: Check, case: Case) -> JudgedCase:
    return JudgedCase(check.nodeid, case.case, case.instance, check.layer_of(case),
                      case.predicted, case.observed, case.status, case.matched, case.central,
                      evidence=case.evidence)


def _first(items: Sequence[JudgedCase], what: str, short: bool = False) -> str:
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return f"{what}: {items[0].short() if short else items[0].line()}{more}"


def _mismatch(verdict: Verdict, text: str, cases: tuple[JudgedCase, ...],
              facts: Mapping[str, Any], layer_of: JudgedCase) -> Judgement:
    shown = facts_.shown({**facts, "layer": layer_of.layer})
    where = facts_.describe(shown)
    return Judgement(verdict, clip(text + (f" [on {where}]" if where else "")), cases,
                     facts=shown)


def _holds(matched: Sequence[JudgedCase], explained: Sequence[JudgedCase]) -> str:
    good = ", ".join(dict.fromkeys(c.case for c in matched)) or "its central cases"
    bad = "; ".join(dict.fromkeys(
        f"{c.condition} ({c.label()}: observed {value(c.observed)})" for c in explained))
    return f"holds where {good}, not where {bad}"


def _declared(entry: Entry, checks: Sequence[Check], layer: str | None,
              facts: Mapping[str, Any], everywhere: Sequence[Check]) -> Judgement:
    """Judge an entry with declared cases from its observations (rules 3 to 7)."""
    spec = entry.kind == "spec"
    if spec and (expected := [c for c in checks if c.outcome == "xfailed"]):
        reasons = _unique(c.known_deviation or failure_summary(c.longrepr) for c in expected)
        return Judgement(Verdict.KNOWN_DEVIATION, clip(f"known deviation: {reasons}"))
    judged = tuple(
        j for check in checks for case in check.cases_of(entry.id)
        if case.is_observation and (layer is None or check.layer_of(case) == layer)
        for j in [_judge_observation(entry, check, case, facts)] if j is not None
    )
    refuted = Verdict.DIFFERS if spec else Verdict.REFUTED
    central = [j for j in judged if j.central]
    if missed := [j for j in central if j.matched is False]:
        return _mismatch(refuted, _first(missed, "central case differed", True), judged, facts,
                         missed[0])
    for check in checks:
        reason = _broken_reason(check)
        if reason and not any(j.check == check.nodeid for j in central):
            return Judgement(Verdict.ERROR, clip(reason + " (before observing a central case)"),
                             judged)
    seen = {j.case for j in central}
    elsewhere = {c.case for check in everywhere for c in check.cases_of(entry.id)
                 if c.is_observation}
    wanted = [c.id for c in entry.cases if c.central]
    if missing := [c for c in wanted if c not in seen and (layer is None or c not in elsewhere)]:
        return Judgement(Verdict.ERROR, clip(
            f"central case {', '.join(missing)} was never observed although its checks ran"
            + _failed_note(checks)), judged)
    if not judged:
        return Judgement(Verdict.ERROR, "no case was observed in this layer", judged)
    for status, verdict in (("unobservable", Verdict.UNSUPPORTED),
                            ("undecided", Verdict.INCONCLUSIVE)):
        if blocked := [j for j in central if j.status == status]:
            reasons = _unique(f"{j.label()}: {j.reason}" for j in blocked)
            return Judgement(verdict, clip(f"central case {status}: {reasons}"), judged)
    side = [j for j in judged if not j.central and j.matched is False]
    if unexplained := [j for j in side if not j.explained]:
        return _mismatch(refuted, _first(unexplained, "a side case differed and no named "
                                         "condition explains it", True),
                         judged, facts, unexplained[0])
    matched = [j for j in judged if j.matched]
    if side:
        found = tuple({"case": j.case, "condition": j.condition, "when": j.when}
                      for j in {j.case: j for j in side}.values())
        holds = _holds([j for j in matched if j.central], side)
        if spec:
            return Judgement(Verdict.DIFFERS, clip(f"{len(side)} case(s) differ, each under "
                                                   f"its condition: {holds}"), judged, found,
                             facts_.shown({**facts, "layer": layer}), holds)
        return Judgement(Verdict.QUALIFIED, clip(holds), judged, found, holds=holds)
    # A side case that could not be observed or decided neither confirms nor refutes: say so.
    open_side = _unique(f"side case {j.label()} {j.status}: {j.reason}" for j in judged
                        if not j.central and j.status in ("unobservable", "undecided"))
    return Judgement(Verdict.CONFORMS if spec else Verdict.CONFIRMED,
                     clip(f"all {len(matched)} observed cases matched"
                          + (f"; {open_side}" if open_side else "")), judged)


def _failed_note(checks: Sequence[Check]) -> str:
    failed = [check for check in checks if check.outcome == "failed"]
    if not failed:
        return ""
    return (f"; {short_nodeid(failed[0].nodeid)} failed its man-page assertion first: "
            f"{failure_summary(failed[0].longrepr)}")


def _legacy(entry: Entry, checks: Sequence[Check], layer: str | None) -> Judgement:
    """Judge from the ``matched`` old records carry (entries without declared cases)."""
    if broken := next((r for c in checks if (r := _broken_reason(c))), None):
        return Judgement(Verdict.ERROR, clip(broken))
    ran = [check for check in checks if check.outcome != "skipped"]
    judged = tuple(_legacy_case(check, case) for check in ran for case in check.cases_of(entry.id)
                   if layer is None or check.layer_of(case) == layer)
    predicted = [j for j in judged if j.matched is not None]
    if not predicted:
        return Judgement(Verdict.ERROR, "the check recorded no prediction", judged)
    missed = [j for j in predicted if not j.matched]
    total = len(predicted)
    note = ""
    if failed := [check for check in ran if check.outcome == "failed"]:
        # A check stops at its first failed assertion, so its later cases are missing.
        note = (f"; {len(failed)} check(s) of the specification failed here, so their later "
                f"cases are missing: {short_nodeid(failed[0].nodeid)}")
    if not missed:
        return Judgement(Verdict.CONFIRMED, clip(f"all {total} predicted cases matched" + note),
                         judged)
    central = [j for j in missed if j.central]
    if central:
        return Judgement(Verdict.REFUTED, clip(_first(central, "central case failed") + note),
                         judged)
    return Judgement(Verdict.QUALIFIED, clip(
        f"{total - len(missed)} of {total} predicted cases matched; "
        + _first(missed, "not").removeprefix("not: ") + note), judged)


def _fault(checks: Sequence[Check], entry: str) -> Judgement:
    if broken := next((r for c in checks if (r := _broken_reason(c))), None):
        return Judgement(Verdict.ERROR, clip(broken))
    ran = [check for check in checks if check.outcome != "skipped"]
    failed = [check for check in ran if check.outcome == "failed" and check.implicates(entry)]
    # A check of many rules stops at the first one the platform breaks: its
    # failure says nothing of the others, which it may not have reached.
    elsewhere = [c for c in ran if c.outcome == "failed" and not c.implicates(entry)]
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
    if not passed and elsewhere:
        return Judgement(Verdict.INCONCLUSIVE, clip(
            f"no check of it finished: {short_nodeid(elsewhere[0].nodeid)} stopped at "
            f"{', '.join(elsewhere[0].implicated or ())} first"))
    return Judgement(Verdict.CONFORMS, f"{passed} check{'s' if passed != 1 else ''} passed")


def judge(entry: Entry, checks: Sequence[Check], layer: str | None = None,
          facts: Mapping[str, Any] | None = None) -> Judgement:
    """Return the verdict of ``entry`` from the checks naming it on one platform.

    ``checks`` are the records of one platform whose ``claims`` include the
    entry; ``layer`` narrows them to one layer (``libc``/``pymmap``) for the
    per-layer results; ``facts`` are the platform's facts
    (:func:`reports.facts.of`), without which no condition explains anything.
    The rules are those of the module docstring.
    """
    facts = facts or {}
    if entry.untestable:
        return Judgement(Verdict.UNTESTABLE, clip(f"untestable: {entry.untestable}"))
    named = [c for c in checks if entry.id in c.claims]
    mine = [c for c in named if _in_layer(c, entry.id, layer)]
    if not mine:
        return Judgement(Verdict.SKIPPED, "not run" + (f" in the {layer} layer" if layer else ""))
    if (skipped := _all_skipped(mine)) is not None:
        return skipped
    ran = [c for c in mine if c.outcome != "skipped"]
    observed = any(case.is_observation for c in named for case in c.cases_of(entry.id))
    if entry.cases and (observed or not any(c.cases_of(entry.id) for c in named)):
        return _declared(entry, ran, layer, facts, named)
    if entry.kind == "claim":
        return _legacy(entry, mine, layer)
    judgement = _legacy(entry, mine, layer) if entry.kind == "spec" and any(
        c.cases_of(entry.id) for c in ran) else _fault(mine, entry.id)
    if entry.kind != "spec":
        return judgement
    # A spec entry speaks of POSIX: it conforms or differs, never confirms or deviates.
    renamed = _AS_SPEC.get(judgement.verdict, judgement.verdict)
    return Judgement(renamed, judgement.reason, judgement.cases)


_AS_SPEC = {Verdict.CONFIRMED: Verdict.CONFORMS, Verdict.REFUTED: Verdict.DIFFERS,
            Verdict.QUALIFIED: Verdict.DIFFERS, Verdict.DEVIATES: Verdict.DIFFERS}
