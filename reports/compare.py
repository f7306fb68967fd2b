"""Compare one platform of a report with one platform of another: the ``diff`` command.

Two platforms legitimately differ in their facts (kernel, page size), so
those are shown but do not count as a difference; what counts is what a
reader of the documents cares about: an entry whose verdict changed, an
entry whose evidence changed under the same verdict (a different errno,
say), and checks that only one side ran or that ended differently.
Evidence is compared on what the platform did (observed values and
whether they matched), not on durations or messages that vary per run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports import posix
from reports.errors import ReportError
from reports.evidence import short_nodeid, value


@dataclass(frozen=True)
class DiffResult:
    """The lines ``diff`` prints, and whether anything beyond platform facts differs."""

    lines: tuple[str, ...]
    differs: bool


def pick_platform(report: Mapping[str, Any], wanted: str | None, name: str,
                  option: str) -> Mapping[str, Any]:
    """Return the platform ``wanted`` of ``report`` (its only one when None).

    Raises ReportError listing the platforms when the choice is missing or
    ambiguous, because guessing would compare the wrong machines.
    """
    platforms = report["platforms"]
    listing = "; ".join(f"{p['id']}: {p['label']}" for p in platforms)
    if wanted is not None:
        for platform in platforms:
            if platform["id"] == wanted:
                return platform
        raise ReportError(f"{name}: no platform {wanted!r} (it has {listing or 'none'})")
    if not platforms:
        raise ReportError(f"{name}: the report has no platform with results to compare")
    if len(platforms) > 1:
        raise ReportError(f"{name} has {len(platforms)} platforms ({listing}); "
                          f"choose one with {option}")
    return platforms[0]


def _results(report: Mapping[str, Any], platform: str) -> dict[str, Mapping[str, Any]]:
    return {
        entry["id"]: {**result, "kind": entry["kind"]}
        for entry in report["entries"]
        for result in entry["results"]
        if result["platform"] == platform
    }


def case_key(case: Mapping[str, Any]) -> str:
    """Return the comparable reading of a case: check, label, layer, observed, match."""
    layer = f"[{case['instance']}]" if case.get("instance") else ""
    layer += f" ({case['layer']})" if case.get("layer") else ""
    match = {True: "matched", False: "did not match", None: "no prediction"}[case["matched"]]
    return (f"{short_nodeid(case['check'])} {case['case']}{layer}: observed "
            f"{value(case['observed'])} - {match}")


def _show(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


def _fingerprint_lines(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    a, b = a or {}, b or {}
    lines = []
    for key in dict.fromkeys([*a, *b]):
        left, right = a.get(key), b.get(key)
        if left != right:
            lines.append(f"  {key}: {_show(left)} -> {_show(right)}")
    return lines


def _evidence_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    left = [case_key(c) for c in a["cases"]]
    right = [case_key(c) for c in b["cases"]]
    lines = [f"    - {line}" for line in left if line not in right]
    lines += [f"    + {line}" for line in right if line not in left]
    if not lines and a["reason"] != b["reason"] and not a["cases"]:
        lines = [f"    - {a['reason']}", f"    + {b['reason']}"]
    return lines


def _section(title: str, lines: Sequence[str]) -> list[str]:
    """Return a titled block counting its items (lines indented by exactly two spaces)."""
    items = sum(1 for line in lines if line.startswith("  ") and not line.startswith("   "))
    return [f"{title} ({items}):", *lines] if lines else []


def diff(a: Mapping[str, Any], b: Mapping[str, Any], platform_a: str | None = None,
         platform_b: str | None = None, *, names: tuple[str, str] = ("A", "B")) -> DiffResult:
    """Return what differs between platform ``platform_a`` of ``a`` and ``platform_b`` of ``b``."""
    pa = pick_platform(a, platform_a, names[0], "--platform-a")
    pb = pick_platform(b, platform_b, names[1], "--platform-b")
    lines = [
        f"--- {names[0]} {pa['id']}: {pa['label']} (commit {a['run']['commit'] or 'unknown'})",
        f"+++ {names[1]} {pb['id']}: {pb['label']} (commit {b['run']['commit'] or 'unknown'})",
    ]
    if a["run"]["catalogue"]["digest"] != b["run"]["catalogue"]["digest"]:
        lines.append("note: the two reports judged different catalogues "
                     f"({a['run']['catalogue']['digest']} and {b['run']['catalogue']['digest']})")
    lines += _section("platform facts that differ",
                      _fingerprint_lines(pa["fingerprint"], pb["fingerprint"]))
    ra, rb = _results(a, pa["id"]), _results(b, pb["id"])
    verdicts, evidence = [], []
    for entry_id in ra.keys() & rb.keys():
        left, right = ra[entry_id], rb[entry_id]
        if left["verdict"] != right["verdict"]:
            verdicts += [f"  {entry_id}: {left['verdict']} -> {right['verdict']}",
                         f"    - {left['reason']}", f"    + {right['reason']}"]
        elif changed := _evidence_lines(left, right):
            evidence += [f"  {entry_id} (still {left['verdict']}):", *changed]
    only_a = [f"  {i}" for i in ra if i not in rb]
    only_b = [f"  {i}" for i in rb if i not in ra]
    checks_a = {c["nodeid"]: c for c in a["checks"] if c["platform"] == pa["id"]}
    checks_b = {c["nodeid"]: c for c in b["checks"] if c["platform"] == pb["id"]}
    outcomes = [f"  {n}: {checks_a[n]['outcome']} -> {checks_b[n]['outcome']}"
                for n in checks_a if n in checks_b
                and checks_a[n]["outcome"] != checks_b[n]["outcome"]]
    findings = [
        _section("verdicts that differ", _sorted_blocks(verdicts)),
        _section("evidence that differs under the same verdict", _sorted_blocks(evidence)),
        _section(f"entries only in {names[0]}", only_a),
        _section(f"entries only in {names[1]}", only_b),
        _section(f"checks only {names[0]} ran", [f"  {n}" for n in checks_a if n not in checks_b]),
        _section(f"checks only {names[1]} ran", [f"  {n}" for n in checks_b if n not in checks_a]),
        _section("checks whose outcome differs", outcomes),
        _section("POSIX assertions whose verdict differs",
                 posix.diff_lines(a, b, pa["id"], pb["id"])),
    ]
    differs = any(findings)
    for block in findings:
        lines += block
    if not differs:
        lines.append("no differences in verdicts, evidence or checks")
    return DiffResult(tuple(lines), differs)


def _sorted_blocks(lines: list[str]) -> list[str]:
    """Return blocks (a two-space header line and its deeper lines) sorted by header."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("  ") and not line.startswith("    "):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return [line for block in sorted(blocks) for line in block]
