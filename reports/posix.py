"""The POSIX crosswalk of a report: every assertion, the entries that state it, their verdicts.

The crosswalk starts from :mod:`helpers.opts` (the Open POSIX Test Suite's
assertion ids of mmap, munmap, shm_open and shm_unlink, and the numbered
"shall" sentences of msync and mprotect) and the catalogue entries naming
them in ``opts``.  Entries keep the verdicts :mod:`reports.verdicts` gave
them (a spec entry: ``conforms``, ``differs``, ...; a fault or model entry's
``deviates`` reads as ``differs`` here).  An assertion's verdict on a
platform is the most telling of its entries' verdicts, in :data:`ORDER`, and
each interface gets its totals.  The section is data in ``report["posix"]``;
Markdown and HTML render it beside the spec entries, ``diff`` compares it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from helpers import opts
from helpers.catalogue import Catalogue
from reports.verdicts import POSIX_VERDICTS, Verdict

#: How fault and model verdicts read in the crosswalk.
_AS_POSIX = {Verdict.DEVIATES: Verdict.DIFFERS, Verdict.CONFIRMED: Verdict.CONFORMS,
             Verdict.REFUTED: Verdict.DIFFERS, Verdict.QUALIFIED: Verdict.DIFFERS}
#: Most telling first: an assertion shows the first of these any of its entries has.
ORDER = (Verdict.ERROR, Verdict.DIFFERS, Verdict.KNOWN_DEVIATION, Verdict.INCONCLUSIVE,
         Verdict.CONFORMS, Verdict.UNSUPPORTED, Verdict.UNTESTABLE, Verdict.SKIPPED)


def _verdict_of(entry: Mapping[str, Any], platform: str) -> Verdict:
    for result in entry["results"]:
        if result["platform"] == platform:
            verdict = Verdict(result["verdict"])
            return _AS_POSIX.get(verdict, verdict)
    return Verdict.SKIPPED


def _most_telling(verdicts: Iterable[Verdict]) -> Verdict:
    found = set(verdicts)
    return next((v for v in ORDER if v in found), Verdict.SKIPPED)


def build(catalogue: Catalogue, entries: Sequence[Mapping[str, Any]],
          platforms: Sequence[str]) -> dict[str, Any]:
    """Return the ``posix`` object of a report from its judged ``entries``."""
    named = {e["id"]: e for e in entries if e["id"] in catalogue and catalogue[e["id"]].opts}
    rows = []
    for assertion, ids in opts.crosswalk(catalogue).items():
        verdicts = {p: _most_telling(_verdict_of(named[i], p) for i in ids if i in named).value
                    for p in platforms}
        rows.append({"assertion": assertion, "entries": ids, "verdicts": verdicts})
    interfaces = []
    for interface in opts.interfaces():
        mine = [r for r in rows if r["assertion"].split("/")[0] == interface.name]
        interfaces.append({
            "name": interface.name, "source": interface.source, "assertions": len(mine),
            "totals": {p: dict(Counter(r["verdicts"][p] for r in mine)) for p in platforms}})
    return {"interfaces": interfaces, "crosswalk": rows}


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
                         *(str(tally.get(v.value, 0)) for v in POSIX_VERDICTS)])
    return rows


def _mapped(report: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the report's crosswalk when some entry names an assertion, else None."""
    section = report.get("posix")
    if not section or not any(row["entries"] for row in section["crosswalk"]):
        return None
    return section


def render_md(report: Mapping[str, Any]) -> list[str]:
    """Return the crosswalk as Markdown lines (nothing when no entry names an assertion)."""
    from reports import render_md as md

    section = _mapped(report)
    if section is None:
        return []
    platforms = [p["id"] for p in report["platforms"]]
    lines = ["### Assertions per interface", ""]
    lines += md.table(["interface", "platform", "assertions",
                       *(v.value for v in POSIX_VERDICTS)], _totals_rows(section, platforms))
    lines += ["", "### Crosswalk: each assertion, the entries that state it, its verdict", ""]
    lines += md.table(["assertion", "entries", *platforms], (
        [md.code(r["assertion"]), ", ".join(md.code(i) for i in r["entries"]),
         *(md.verdict(r["verdicts"][p]) for p in platforms)] for r in section["crosswalk"]))
    return [*lines, ""]


def render_html(report: Mapping[str, Any]) -> str:
    """Return the crosswalk as an HTML fragment (empty when no entry names an assertion)."""
    from html import escape

    from reports import render_html as html

    section = _mapped(report)
    if section is None:
        return ""
    platforms = [p["id"] for p in report["platforms"]]
    totals = html.table(["interface", "platform", "assertions",
                         *(v.value for v in POSIX_VERDICTS)], _totals_rows(section, platforms))
    crosswalk = html.table(["assertion", "entries", *platforms], (
        [f"<code>{escape(r['assertion'])}</code>",
         ", ".join(f"<a href=\"#e-{escape(i)}\"><code>{escape(i)}</code></a>"
                   for i in r["entries"]),
         *(html.verdict(r["verdicts"][p]) for p in platforms)]
        for r in section["crosswalk"]), raw=True)
    return (f"<section id=\"posix-crosswalk\"><h3>Assertions per interface</h3>{totals}"
            f"<details open><summary>crosswalk: assertion, entries, verdict</summary>"
            f"{crosswalk}</details></section>")
