"""The POSIX section of a report: every assertion, the entries that state it, their verdicts.

The crosswalk starts from :mod:`helpers.opts` (the Open POSIX Test Suite's
assertion ids of mmap, munmap, shm_open and shm_unlink, and the numbered
"shall" sentences of msync and mprotect) and the catalogue entries naming
them in ``opts``.  A ``spec`` entry is judged here, per platform, from its
checks' observations against what POSIX predicts (the catalogue's cases):

1. no check: ``untestable`` (the entry's reason) or ``skipped`` ("not run");
2. a check or one of its probes broke: ``error``;
3. every check skipped: ``unsupported`` when one says the feature is
   missing, else ``skipped``;
4. a strict expected failure that failed (Linux breaks its own man page,
   as recorded): ``known-deviation``;
5. a case observed to differ from POSIX: ``differs`` (Linux documents and
   does something else: a finding, the check passed);
6. a central case that cannot be observed here: ``unsupported``;
7. every case matched: ``conforms``.

Fault and model entries named in ``opts`` keep the verdict the report gave
them (``deviates`` reads as ``differs`` here).  An assertion's verdict on a
platform is the most telling of its entries' verdicts, in :data:`ORDER`.
The section is data in ``report["posix"]``; Markdown, HTML, ``diff`` and
``matrix`` render or compare that data.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from helpers import opts
from helpers.catalogue import Catalogue, Entry
from reports.evidence import clip, failure_summary, probe_summary, short_nodeid, value
from reports.raw import Case, Check

TITLE = "POSIX"


class SpecVerdict(enum.StrEnum):
    """What a platform says about a POSIX assertion; the values are the published names."""

    CONFORMS = "conforms"  #: the platform does what POSIX requires
    DIFFERS = "differs"  #: the platform documents and does something else
    KNOWN_DEVIATION = "known-deviation"  #: the platform breaks its own man page, as recorded
    UNSUPPORTED = "unsupported"  #: an option or feature the platform lacks
    SKIPPED = "skipped"  #: not run, or a need of the check is unmet here
    UNTESTABLE = "untestable"  #: no machine can check it (the reason is given)
    ERROR = "error"  #: the check itself broke

    def __str__(self) -> str:
        return self.value


#: Emoji-free markers beside the claim verdicts' own (reports.verdicts.MARKERS).
MARKERS = {
    SpecVerdict.CONFORMS: "OK", SpecVerdict.DIFFERS: "<>",
    SpecVerdict.KNOWN_DEVIATION: "KD", SpecVerdict.UNSUPPORTED: "NA",
    SpecVerdict.SKIPPED: "--", SpecVerdict.UNTESTABLE: "..", SpecVerdict.ERROR: "!!",
}
#: How fault and model verdicts read in the crosswalk.
_FROM_MAN_PAGE = {"deviates": SpecVerdict.DIFFERS}
#: Most telling first: an assertion shows the first of these any of its entries has.
ORDER = (SpecVerdict.ERROR, SpecVerdict.DIFFERS, SpecVerdict.KNOWN_DEVIATION,
         SpecVerdict.CONFORMS, SpecVerdict.UNSUPPORTED, SpecVerdict.UNTESTABLE,
         SpecVerdict.SKIPPED)


def marker(verdict: str) -> str:
    """Return the marker of any verdict, claim or POSIX (``"<>"`` for differs)."""
    from reports.verdicts import MARKERS as CLAIM_MARKERS

    return {**CLAIM_MARKERS, **MARKERS}.get(verdict, "??")


def _case_text(case: Case, predicted: Any) -> str:
    where = f" ({case.instance})" if case.instance else ""
    return f"{case.case}{where}: POSIX {value(predicted)}, observed {value(case.observed)}"


def judge(entry: Entry, checks: Sequence[Check]) -> tuple[SpecVerdict, str]:
    """Return the verdict of a spec entry on one platform, with its one-line reason."""
    mine = [c for c in checks if entry.id in c.claims]
    if not mine:
        if entry.untestable:
            return SpecVerdict.UNTESTABLE, clip(entry.untestable)
        return SpecVerdict.SKIPPED, "not run"
    for check in mine:
        broken = [p for p in check.probes if isinstance(p, dict) and p.get("kind") == "error"]
        if check.outcome == "error" or broken:
            why = probe_summary(broken[0]) if broken else failure_summary(check.longrepr)
            return SpecVerdict.ERROR, clip(f"{short_nodeid(check.nodeid)} broke: {why}")
    ran = [c for c in mine if c.outcome != "skipped"]
    if not ran:
        reasons = "; ".join(dict.fromkeys(c.skip.reason if c.skip else "skipped" for c in mine))
        missing = any(c.skip is not None and c.skip.kind == "unsupported" for c in mine)
        return (SpecVerdict.UNSUPPORTED if missing else SpecVerdict.SKIPPED), clip(reasons)
    if deviations := [c for c in ran if c.outcome == "xfailed"]:
        reasons = "; ".join(dict.fromkeys(c.known_deviation or "" for c in deviations))
        return SpecVerdict.KNOWN_DEVIATION, clip(f"known deviation: {reasons}")
    cases = [(case, entry.case(case.case)) for c in ran for case in c.cases_of(entry.id)]
    if not cases:
        return SpecVerdict.ERROR, "the check recorded no observation"
    differ = [_case_text(case, declared.predicted) for case, declared in cases
              if declared is not None and case.status == "observed"
              and not declared.matches(case.observed)]
    failed = [c for c in ran if c.outcome == "failed"]
    note = f"; {len(failed)} check(s) broke the man page" if failed else ""
    if differ:
        more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
        return SpecVerdict.DIFFERS, clip(f"{differ[0]}{more}{note}")
    hidden = [case for case, declared in cases
              if case.status != "observed" and (declared is None or declared.central)]
    if hidden:
        return SpecVerdict.UNSUPPORTED, clip(f"{hidden[0].case}: cannot be observed here")
    return SpecVerdict.CONFORMS, f"all {len(cases)} observed cases as POSIX requires{note}"


def _cases(entry: Entry, checks: Sequence[Check]) -> list[dict[str, Any]]:
    rows = []
    for check in checks:
        for case in check.cases_of(entry.id):
            declared = entry.case(case.case)
            predicted = declared.predicted if declared else None
            rows.append({"check": check.nodeid, "case": case.case, "instance": case.instance,
                         "layer": check.layer_of(case), "predicted": predicted,
                         "observed": case.observed, "status": case.status,
                         "matched": declared.matches(case.observed)
                         if declared and case.status == "observed" else None,
                         "evidence": case.evidence})
    return rows


def _spec_entry(entry: Entry, by_platform: Mapping[str, Sequence[Check]]) -> dict[str, Any]:
    results = []
    for platform, checks in by_platform.items():
        mine = [c for c in checks if entry.id in c.claims]
        verdict, reason = judge(entry, mine)
        results.append({"platform": platform, "verdict": verdict.value, "reason": reason,
                        "checks": list(dict.fromkeys(c.nodeid for c in mine)),
                        "cases": _cases(entry, mine)})
    return {"id": entry.id, "kind": entry.kind, "document": None, "source": dict(entry.source),
            "opts": list(entry.opts), "statement": entry.statement, "rule": entry.rule,
            "editions": entry.editions, "references": list(entry.references),
            "untestable": entry.untestable, "layers": list(entry.layers),
            "cases": [{"id": c.id, "predicted": c.predicted, "central": c.central}
                      for c in entry.cases],
            "results": results}


def _verdict_of(entry: Mapping[str, Any], platform: str) -> SpecVerdict:
    for result in entry["results"]:
        if result["platform"] == platform:
            return _FROM_MAN_PAGE.get(result["verdict"]) or SpecVerdict(result["verdict"])
    return SpecVerdict.SKIPPED


def _most_telling(verdicts: Iterable[SpecVerdict]) -> SpecVerdict:
    found = set(verdicts)
    return next((v for v in ORDER if v in found), SpecVerdict.SKIPPED)


def build(catalogue: Catalogue, by_platform: Mapping[str, Sequence[Check]],
          entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the ``posix`` object of a report.

    ``entries`` are the report's other entries (faults and models named in
    ``opts`` keep their verdicts); spec entries are judged from ``by_platform``.
    """
    spec = [_spec_entry(e, by_platform) for e in catalogue.entries.values() if e.kind == "spec"]
    named = {e["id"]: e for e in [*entries, *spec] if catalogue[e["id"]].opts}
    platforms = list(by_platform)
    rows = []
    for assertion, ids in opts.crosswalk(catalogue).items():
        verdicts = {p: _most_telling(_verdict_of(named[i], p) for i in ids).value
                    for p in platforms}
        rows.append({"assertion": assertion, "entries": ids, "verdicts": verdicts})
    interfaces = []
    for interface in opts.interfaces():
        mine = [r for r in rows if r["assertion"].split("/")[0] == interface.name]
        interfaces.append({
            "name": interface.name, "source": interface.source, "assertions": len(mine),
            "totals": {p: dict(Counter(r["verdicts"][p] for r in mine)) for p in platforms}})
    return {"title": TITLE, "interfaces": interfaces, "crosswalk": rows, "entries": spec}


def entries(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the spec entries of a report (none for a report written before this section)."""
    return list(report.get("posix", {}).get("entries", []))


def diff_lines(a: Mapping[str, Any], b: Mapping[str, Any], platform_a: str,
               platform_b: str) -> list[str]:
    """Return a line per assertion whose crosswalk verdict differs between two platforms."""
    left = {r["assertion"]: r["verdicts"].get(platform_a)
            for r in a.get("posix", {}).get("crosswalk", [])}
    right = {r["assertion"]: r["verdicts"].get(platform_b)
             for r in b.get("posix", {}).get("crosswalk", [])}
    return [f"  {assertion}: {left.get(assertion) or 'absent'} -> "
            f"{right.get(assertion) or 'absent'}"
            for assertion in dict.fromkeys([*left, *right])
            if left.get(assertion) != right.get(assertion)]


def _totals_rows(section: Mapping[str, Any], platforms: Sequence[str]) -> list[list[str]]:
    rows = []
    for interface in section["interfaces"]:
        for platform in platforms:
            tally = interface["totals"].get(platform, {})
            rows.append([interface["name"], platform, str(interface["assertions"]),
                         *(str(tally.get(v.value, 0)) for v in SpecVerdict)])
    return rows


def render_md(report: Mapping[str, Any]) -> list[str]:
    """Return the POSIX section as Markdown lines (nothing for a report without one)."""
    from reports import render_md as md

    section = report.get("posix")
    if not section:
        return []
    platforms = [p["id"] for p in report["platforms"]]
    lines = [f"## {TITLE}", "", "Assertions per interface and their verdicts:", ""]
    lines += md.table(["interface", "platform", "assertions", *(v.value for v in SpecVerdict)],
                      _totals_rows(section, platforms))
    lines += ["", "Crosswalk: assertion, the entries that state it, verdict per platform.", ""]
    lines += md.table(["assertion", "entries", *platforms], (
        [md.code(r["assertion"]), ", ".join(md.code(i) for i in r["entries"]),
         *(md.verdict(r["verdicts"][p]) for p in platforms)] for r in section["crosswalk"]))
    lines += ["", "Spec entries:", ""]
    lines += md.table(["id", "assertions", "statement", "POSIX and the man page", *platforms,
                       "why"], (
        [md.code(e["id"]), md.esc(", ".join(e["opts"])), md.esc(clip(e["statement"], 140)),
         md.esc(clip(e["rule"], 200)), *(md.verdict(r["verdict"]) for r in e["results"]),
         md.esc(clip("; ".join(dict.fromkeys(r["reason"] for r in e["results"])), 200))]
        for e in section["entries"]))
    return [*lines, ""]


def render_html(report: Mapping[str, Any]) -> str:
    """Return the POSIX section as an HTML fragment (empty for a report without one)."""
    from html import escape

    from reports import render_html as html

    section = report.get("posix")
    if not section:
        return ""
    platforms = [p["id"] for p in report["platforms"]]
    totals = html.table(["interface", "platform", "assertions", *(v.value for v in SpecVerdict)],
                        _totals_rows(section, platforms))
    crosswalk = html.table(["assertion", "entries", *platforms], (
        [f"<code>{escape(r['assertion'])}</code>",
         ", ".join(f"<a href=\"#e-{escape(i)}\"><code>{escape(i)}</code></a>"
                   for i in r["entries"]),
         *(html.verdict(r["verdicts"][p]) for p in platforms)]
        for r in section["crosswalk"]), raw=True)
    specs = html.table(["id", "assertions", "statement", "POSIX and the man page", *platforms,
                        "why"], (
        [f"<code id=\"e-{escape(e['id'])}\">{escape(e['id'])}</code>",
         escape(", ".join(e["opts"])),
         escape(e["statement"]) + (f"<br><small>{escape(e['editions'])}</small>"
                                   if e["editions"] else ""),
         escape(e["rule"]), *(html.verdict(r["verdict"]) for r in e["results"]),
         escape("; ".join(dict.fromkeys(r["reason"] for r in e["results"])))]
        for e in section["entries"]), raw=True)
    return (f"<section id=\"posix\"><h2>{TITLE}</h2>{totals}"
            f"<details open><summary>crosswalk</summary>{crosswalk}</details>"
            f"<details><summary>spec entries</summary>{specs}</details></section>")
