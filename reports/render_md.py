"""Render a report as Markdown that reads well on a code-hosting site.

Claims are grouped by source document, one table row per claim; faults and
the model follow, then figures and the checks that did not pass.  Every
piece of text from the catalogue or a run is escaped, because a statement
with a pipe would otherwise split a table row and a ``<tag>`` would vanish.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reports import figures
from reports.build import summary_lines
from reports.evidence import clip, failure_summary
from reports.overview import (
    CASE_COLUMNS,
    case_rows,
    finding_lines,
    findings,
    platform_table,
    provenance_rows,
)
from reports.posix import render_md as crosswalk_md
from reports.verdicts import CLAIM_VERDICTS, MARKERS, POSIX_VERDICTS, SPEC_VERDICTS, Verdict

_SPECIAL = re.compile(r"[\\`*\[\]<>|#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
STATEMENT_LENGTH = 140
EVIDENCE_LENGTH = 200


def esc(value: object) -> str:
    """Return ``value`` as one line of Markdown text, with every markup character escaped."""
    # An underscore inside a word (MAP_SHARED) never starts emphasis on GitHub, so it
    # stays as written; one at a word edge (__init__) could, and is escaped.
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(str(value).split()))


def code(value: object) -> str:
    """Return ``value`` as an inline code span that is safe inside a table cell.

    Backslash escapes do not work in code spans, but GitHub's tables split
    on a pipe before reading spans, so pipes are escaped and the span is
    fenced with more backticks than the text holds.
    """
    flat = " ".join(str(value).split()).replace("|", "\\|")
    fence = "`" * (_longest_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _longest_run(text: str) -> int:
    """Return the length of the longest run of backticks in ``text`` (0 when none)."""
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def verdict(value: str) -> str:
    """Return a verdict with its emoji-free marker: ``OK`` confirmed."""
    return f"`{MARKERS[Verdict(value)]}` {value}"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Return the lines of a table; cells must already be Markdown (escaped)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _head(report: Mapping[str, Any]) -> list[str]:
    lines = ["# mmapcheck conformance report", ""]
    lines += [f"**{esc(line)}**  " for line in summary_lines(report)] + [""]
    rows = [[esc(name), code(value) if name in ("commit", "catalogue", "command") else esc(value)]
            for name, value in provenance_rows(report)]
    lines += [*table(["run", ""], rows), ""]
    lines += [f"> **Warning:** {esc(w)}" + "  " for w in report["warnings"]]
    if report["warnings"]:
        lines.append("")
    lines += ["## Platforms", ""]
    if report["platforms"]:
        columns, body = platform_table(report["platforms"])
        labels = {p["id"]: p["label"] for p in report["platforms"]}
        lines += [f"- **{p}**: {esc(label)}" for p, label in labels.items()] + [""]
        lines += table([esc(c) for c in columns], ([esc(cell) for cell in row] for row in body))
    else:
        lines.append("No platform recorded a result.")
    claims = ", ".join(verdict(v.value) for v in CLAIM_VERDICTS)
    posix = ", ".join(verdict(v.value) for v in POSIX_VERDICTS)
    specs = ", ".join(verdict(v.value) for v in SPEC_VERDICTS)
    return [*lines, "", f"Verdicts of claims: {claims}.  ", f"Of POSIX spec entries: {posix}.  ",
            f"Of faults and model: {specs}.", ""]


def _findings(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return, for each finding, its cases table, where it holds and how to rerun it."""
    lines: list[str] = []
    for entry in entries:
        for result in findings(entry):
            lines += [f"**{code(entry['id'])}** on {esc(result['platform'])}: "
                      f"{verdict(result['verdict'])}", ""]
            lines += [f"- {esc(name)}: {esc(text)}" for name, text in finding_lines(result)]
            lines += [f"- rerun: {code(entry.get('rerun', ''))}", ""]
            if result["cases"]:
                lines += [*table(CASE_COLUMNS, ([esc(clip(cell, EVIDENCE_LENGTH)) for cell in row]
                                                for row in case_rows(result))), ""]
        if entry.get("across"):
            lines += [f"Across platforms, {code(entry['id'])} is qualified: "
                      f"{esc(entry['across']['holds'])}.", ""]
    return ["#### Findings", "", *lines] if lines else []


def _evidence(entry: Mapping[str, Any]) -> str:
    results = entry["results"]
    reasons = list(dict.fromkeys(r["reason"] for r in results))
    if len(results) > 1 and len(reasons) > 1:
        text = "; ".join(f"{r['platform']}: {r['reason']}" for r in results)
    else:
        text = reasons[0] if reasons else "no platform"
    for result in results[:1]:
        layers = result["layers"]
        if len({v["verdict"] for v in layers.values()}) > 1:
            text += " [" + ", ".join(f"{k}: {v['verdict']}" for k, v in layers.items()) + "]"
    return esc(clip(text, EVIDENCE_LENGTH))


def _entry_table(entries: Sequence[Mapping[str, Any]], platform_ids: Sequence[str],
                 first: str) -> list[str]:
    columns = ["id", first, *(platform_ids if len(platform_ids) > 1 else ["verdict"]),
               "evidence"]
    rows = []
    for entry in entries:
        verdicts = {r["platform"]: verdict(r["verdict"]) for r in entry["results"]}
        rows.append([
            code(entry["id"]),
            esc(clip(entry["statement"], STATEMENT_LENGTH))
            + (f" — 「{esc(entry['quote'])}」" if entry.get("quote") else ""),
            *(verdicts.get(p, "") for p in platform_ids),
            _evidence(entry),
        ])
    return table(columns, rows)


def _figures(section: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for figure_set in section["figures"]:
        where = figure_set["source"]
        if figure_set["platform"]:
            where += f", {figure_set['platform']}"
        lines += [f"*From {esc(where)}:*", ""]
        for block in figures.blocks(figure_set["data"]):
            if block.title:
                lines += [f"**{esc(block.title)}**", ""]
            if isinstance(block, figures.KeyValues):
                lines += table(["figure", "value"], ([esc(k), esc(v)] for k, v in block.rows))
            elif isinstance(block, figures.Table):
                lines += table([esc(c) or "#" for c in block.columns],
                               ([esc(cell) for cell in row] for row in block.rows))
                if block.note:
                    lines += ["", esc(block.note)]
            else:
                lines += _fenced(block.text)
            lines.append("")
    if not section["figures"]:
        lines += ["No figures recorded.", ""]
    return lines


def _fenced(body: str) -> list[str]:
    fence = "`" * max(3, _longest_run(body) + 1)
    return [fence, *body.splitlines(), fence]


def _highlights(highlights: Mapping[str, Any]) -> list[str]:
    rules = highlights["rules_covered"]
    lines = [
        f"- sequences explored: {esc(figures.text(highlights['sequences']))}",
        f"- steps executed: {esc(figures.text(highlights['steps']))}",
        f"- rules covered: {esc(', '.join(rules)) if rules else 'not recorded'}",
        f"- disagreements with the kernel: {len(highlights['disagreements'])}",
        "",
    ]
    for number, item in enumerate(highlights["disagreements"], start=1):
        lines += [f"**Disagreement {number}:** {esc(item['summary'])}", ""]
        if item["snippet"]:
            lines += [*_fenced(item["snippet"]), ""]
    return lines


def _checks(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Checks", ""]
    counts = report["summary"]["checks"]
    lines += [", ".join(f"{n} {name}" for name, n in counts.items()) + ".", ""]
    notable = [c for c in report["checks"] if c["outcome"] not in ("passed",)]
    if notable:
        rows = []
        for check in notable:
            why = (check["skip"] or {}).get("reason") or check["known_deviation"] or ""
            if not why and check["outcome"] in ("failed", "error"):
                why = failure_summary(check["longrepr"])
            rows.append([code(check["nodeid"]), esc(check["platform"]), esc(check["outcome"]),
                         esc(clip(why, EVIDENCE_LENGTH))])
        lines += ["Checks that did not simply pass:", ""]
        lines += [*table(["check", "platform", "outcome", "why"], rows), ""]
    return lines


def render(report: Mapping[str, Any]) -> str:
    """Return the whole report as Markdown."""
    platform_ids = [p["id"] for p in report["platforms"]]
    lines = _head(report)
    entries = report["entries"]
    lines += ["## Claims by document", ""]
    for document in report["documents"]:
        claims = [e for e in entries if e["kind"] == "claim" and e["document"] == document["key"]]
        lines += [f"### {esc(document['title'])} ({code(document['file'])})", ""]
        if document.get("summary"):
            lines += [esc(document["summary"]), ""]
        lines += [*(_entry_table(claims, platform_ids, "claim") if claims
                    else ["No claims catalogued yet."]), ""]
        lines += _findings(claims)
    posix = [e for e in entries if e["kind"] == "spec"]
    if posix:
        lines += ["## POSIX", "", *_entry_table(posix, platform_ids, "specified"), "",
                  *_findings(posix), *crosswalk_md(report)]
    sections = report["sections"]
    for kind, title, section in (("fault", "Faults", "faults"), ("model", "Model", "model")):
        lines += [f"## {title}", ""]
        own = [e for e in entries if e["kind"] == kind]
        if own:
            lines += [*_entry_table(own, platform_ids, "behaviour"), ""]
        if section == "model":
            lines += _highlights(sections["model"]["highlights"])
        lines += _figures(sections[section])
    for name, section in sections.items():
        if name not in ("faults", "model"):
            lines += [f"## {esc(section['title'])}", "", *_figures(section)]
    if report["run"]["extras"]:
        lines += ["## Result files of other commands", ""]
        lines += table(["file", "merged", "why"], (
            [code(x["file"]), "yes" if x["merged"] else "no", esc(x["reason"])]
            for x in report["run"]["extras"]
        ))
        lines.append("")
    lines += _checks(report)
    return "\n".join(lines).rstrip() + "\n"
