"""Which verdicts each mutant flipped, and the mutation score of the claims.

A flip is a verdict that crossed between "the document holds here"
(confirmed, qualified; conforms for spec entries) and "it does not"
(refuted; deviates, known-deviation), either way.  A claim is proven when
a mutant that changes the behaviour it predicts (the claim is one of the
mutant's targets) flips it: its verdict follows the platform.  Flips of
other entries are listed as side effects but prove nothing: a race or a
timing claim may move between any two runs, mutated or not.  A verdict of
``error`` under a mutant means a check broke instead of observing, which
a mutated platform must never cause: it is listed on its own, never as a
flip.  Everything else that moved (to ``unsupported``, ``inconclusive``,
between confirmed and qualified) is listed as moved.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from helpers.mutants import Family, Mutant
from helpers.mutants.run import Run

HOLDS = frozenset({"confirmed", "qualified", "conforms"})
FAILS = frozenset({"refuted", "deviates", "differs", "known-deviation"})
#: The share of claim entries that must be proven.
TARGET = 0.80


@dataclass(frozen=True)
class Change:
    """One entry whose verdict differs between the unmutated run and a mutant's."""

    entry: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.before} -> {self.after}"


def flipped(before: str, after: str) -> bool:
    """Return whether a verdict crossed between holding and not holding."""
    return (before in HOLDS and after in FAILS) or (before in FAILS and after in HOLDS)


def changes(baseline: Mapping[str, str], mutated: Mapping[str, str]) -> dict[str, list[Change]]:
    """Return the flipped, errored and otherwise moved entries of a mutated run."""
    found: dict[str, list[Change]] = {"flipped": [], "error": [], "moved": []}
    for entry, before in baseline.items():
        after = mutated.get(entry, "missing")
        if after == "error" or (after == "missing" and before != "missing"):
            found["error"].append(Change(entry, before, after))
        elif flipped(before, after):
            found["flipped"].append(Change(entry, before, after))
        elif after != before:
            found["moved"].append(Change(entry, before, after))
    return found


def _unproven_reason(claim: str, untestable: str | None, family: Family, baseline: Run,
                     runs: Mapping[str, Run]) -> str:
    if claim in family.unprovable:
        return family.unprovable[claim]
    if untestable:
        return f"untestable: {untestable}"
    before = baseline.verdicts.get(claim, "missing")
    if before not in HOLDS | FAILS:
        return f"its verdict here is {before}: there is nothing to flip on this platform"
    tried = [_why_not(claim, m.id, runs[m.id]) for m in family.mutants
             if claim in m.targets and m.id in runs]
    if tried:
        return "a mutant of its behaviour did not flip it: " + "; ".join(tried)
    return "no mutant changes the behaviour it predicts"


def _why_not(claim: str, mutant: str, run: Run) -> str:
    """Return why ``claim`` kept its verdict (or broke) under ``mutant``, from its checks."""
    after = run.verdicts.get(claim, "missing")
    if after == "error":
        return f"under {mutant} its check broke instead of observing (error)"
    if run.checks.get(claim, frozenset()) & run.failed:
        return (f"under {mutant} its checks failed but the verdict stayed {after}: a check "
                "asserts before it observes, or a case the mutant leaves alone decides")
    return f"under {mutant} every check of it passed and the verdict stayed {after}"


def _problem(run: Run, baseline: Run) -> str:
    """Return why ``run`` cannot be compared with ``baseline`` ("" when it can)."""
    if run.problem or run.commit == baseline.commit:
        return run.problem
    return f"its checks ran at commit {run.commit}, the unmutated ones at {baseline.commit}"


def _mutant_row(mutant: Mutant, run: Run, baseline: Run) -> dict[str, Any]:
    problem = _problem(run, baseline)
    found = changes(baseline.verdicts, run.verdicts) if not problem else \
        {"flipped": [], "error": [], "moved": []}
    flips = {c.entry for c in found["flipped"]}
    return {
        "mutant": mutant.id,
        "behaviour": mutant.behaviour,
        "control": mutant.control,
        "pytest_status": run.status,
        "problem": problem,
        "flipped": [str(c) for c in found["flipped"] if c.entry in mutant.targets],
        "side_effects": [str(c) for c in found["flipped"] if c.entry not in mutant.targets],
        "missed": [f"{t}: stayed {run.verdicts.get(t, 'missing')}" for t in mutant.targets
                   if t not in flips],
        "errors": [str(c) for c in found["error"]],
        "moved": [str(c) for c in found["moved"]],
        "checks_failed": len(run.failed),
    }


def score(family: Family, claims: Mapping[str, str | None], baseline: Run,
          runs: Mapping[str, Run], specs: Collection[str] = ()) -> dict[str, Any]:
    """Return the mutants.json document: per mutant its flips, then the score of ``claims``.

    ``claims`` maps every claim entry id to its ``untestable`` reason (None
    when it can be tested); ``runs`` holds the run of each mutant by id;
    ``specs`` are the spec entries (POSIX assertions), whose flips under any
    real mutant are counted apart: mutants target claims, and a spec entry
    that follows the platform shows it as a side effect.
    """
    rows = [_mutant_row(m, runs[m.id], baseline) for m in family.mutants if m.id in runs]
    proven: dict[str, list[str]] = {}
    for mutant in family.mutants:
        if mutant.id not in runs or mutant.control or _problem(runs[mutant.id], baseline):
            continue
        for change in changes(baseline.verdicts, runs[mutant.id].verdicts)["flipped"]:
            if change.entry in claims and change.entry in mutant.targets:
                proven.setdefault(change.entry, []).append(mutant.id)
    spec_flips: dict[str, list[str]] = {}
    for mutant in family.mutants:
        if mutant.id in runs and not mutant.control and not _problem(runs[mutant.id], baseline):
            for change in changes(baseline.verdicts, runs[mutant.id].verdicts)["flipped"]:
                if change.entry in specs:
                    spec_flips.setdefault(change.entry, []).append(mutant.id)
    unproven = [{"claim": c, "baseline": baseline.verdicts.get(c, "missing"),
                 "reason": _unproven_reason(c, claims[c], family, baseline, runs)}
                for c in sorted(claims) if c not in proven]
    total = len(claims)
    return {
        "format": "mmapcheck-mutants",
        "commit": baseline.commit,
        "score_percent": round(100 * len(proven) / total, 1) if total else None,
        "target_percent": round(100 * TARGET),
        "proven": len(proven),
        "claim_entries": total,
        "errors": sum(len(r["errors"]) for r in rows),
        # A claim that flips under a control moved with nothing it predicts changed.
        "unstable_claims": sorted({c.split(":")[0] for r in rows if r["control"]
                                   for c in r["side_effects"] if c.split(":")[0] in claims}),
        "baseline_status": baseline.status,
        "mutants": rows,
        "proven_claims": [{"claim": c, "by": by} for c, by in sorted(proven.items())],
        "unproven": unproven,
        "spec_entries": len(specs),
        "spec_flipped": [{"entry": e, "by": by} for e, by in sorted(spec_flips.items())],
    }
