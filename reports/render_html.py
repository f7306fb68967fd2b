"""Render a report as one self-contained HTML page.

The page must open from a file on a machine without network, years later,
so everything it needs is inline (CSS and a small script from
``reports/assets/``), it loads nothing (a Content-Security-Policy forbids
it), and without script it still shows every entry.  Rows carry their
verdicts, document and layers as data attributes for the filters; the
evidence of each entry sits in a ``<details>`` element, shown on demand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from reports import figures
from reports.build import summary_lines
from reports.evidence import failure_summary
from reports.overview import (
    CASE_COLUMNS,
    case_rows,
    finding_lines,
    findings,
    platform_table,
    provenance_rows,
)
from reports.posix import render_html as crosswalk_html
from reports.verdicts import MARKERS, Verdict

ASSETS = Path(__file__).resolve().parent / "assets"
#: Nothing may be fetched: styles and scripts are inline, images only data: URLs.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:; base-uri 'none'; form-action 'none'")


def asset(name: str) -> str:
    """Return the text of an inline asset (``report.css``, ``report.js``)."""
    return (ASSETS / name).read_text(encoding="utf-8")


def page(title: str, body: str, script: str = "") -> str:
    """Return a complete HTML document with the inline stylesheet and ``script``."""
    tail = f"<script>\n{script}</script>\n" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>\n{asset('report.css')}</style>\n</head>\n"
        f"<body>\n{body}\n{tail}</body>\n</html>\n"
    )


def verdict(value: str) -> str:
    """Return the verdict badge: marker and name, coloured by class, readable without colour."""
    marker = MARKERS[Verdict(value)]
    return f"<span class=\"v v-{escape(value)}\"><b>{escape(marker)}</b>{escape(value)}</span>"


def kv_table(rows: Iterable[tuple[str, str]], css: str = "kv") -> str:
    """Return a two-column table of names and values."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table class=\"{css}\"><tbody>{body}</tbody></table>"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False,
          css: str = "") -> str:
    """Return a table; cells are escaped unless ``raw`` says they are HTML already."""
    cell = (lambda c: c) if raw else escape
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    attr = f" class=\"{css}\"" if css else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _head(report: Mapping[str, Any]) -> str:
    parts = ["<header>", "<h1>mmapcheck conformance report</h1>"]
    parts += [f"<p class=\"summary\">{escape(line)}</p>" for line in summary_lines(report)]
    parts.append("<section id=\"platforms\"><h2>Platforms</h2>")
    if report["platforms"]:
        parts.append("<ul>" + "".join(
            f"<li><b>{escape(p['id'])}</b>: {escape(p['label'])}</li>" for p in report["platforms"]
        ) + "</ul>")
        columns, rows = platform_table(report["platforms"])
        parts.append(table(columns, rows, css="kv"))
    else:
        parts.append("<p>No platform recorded a result.</p>")
    parts.append("</section>")
    parts += [f"<p class=\"warning\"><b>Warning:</b> {escape(w)}</p>" for w in report["warnings"]]
    parts.append("<details><summary>Where this report came from</summary><div class=\"body\">")
    parts.append(kv_table(provenance_rows(report)))
    extras = report["run"]["extras"]
    if extras:
        parts.append(table(["result file", "merged", "why"], (
            [x["file"], "yes" if x["merged"] else "no", x["reason"]] for x in extras
        )))
    parts.append("</div></details></header>")
    return "\n".join(parts)


def _options(values: Iterable[tuple[str, str]]) -> str:
    return "<option value=\"\">all</option>" + "".join(
        f"<option value=\"{escape(v)}\">{escape(label)}</option>" for v, label in values
    )


def _group(entry: Mapping[str, Any]) -> str:
    return entry["document"] or entry["kind"]


def _layers(entry: Mapping[str, Any]) -> list[str]:
    seen = dict.fromkeys(entry["layers"])
    for result in entry["results"]:
        seen.update(dict.fromkeys(result["layers"]))
    return list(seen)


def _filters(report: Mapping[str, Any]) -> str:
    tally = Counter(r["verdict"] for e in report["entries"] for r in e["results"])
    verdicts = [(v.value, f"{v.value} ({tally[v.value]})") for v in Verdict if tally[v.value]]
    docs = [(d["key"], f"{d['title']} ({d['file']})") for d in report["documents"]]
    kinds = (("spec", "POSIX"), ("fault", "Faults"), ("model", "Model"))
    docs += [(kind, label) for kind, label in kinds
             if any(e["kind"] == kind for e in report["entries"])]
    layers = sorted({layer for e in report["entries"] for layer in _layers(e)})
    return (
        "<nav id=\"filters\">"
        f"<label>Verdict <select id=\"f-verdict\">{_options(verdicts)}</select></label>"
        f"<label>Document <select id=\"f-document\">{_options(docs)}</select></label>"
        f"<label>Layer <select id=\"f-layer\">{_options((x, x) for x in layers)}</select></label>"
        "<label>Text <input id=\"f-text\" type=\"search\" placeholder=\"id, word, errno\"></label>"
        "<span id=\"f-count\" class=\"muted\"></span></nav>"
    )


def _source(entry: Mapping[str, Any]) -> str:
    source = entry["source"]
    where = source.get("document") or source.get("man") or "?"
    if entry.get("source_file"):
        where += f" ({entry['source_file']})"
    return f"{where}, section {source.get('section', '?')}"


def _finding(entry: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """Return a finding's where-it-holds lines, the command that reruns it and its cases."""
    rows = [(name, text) for name, text in finding_lines(result) if name != "why"]
    rows.append(("rerun", entry.get("rerun", "")))
    cases = table(CASE_COLUMNS, case_rows(result), css="cases") if result["cases"] else ""
    return f"<div class=\"finding\">{kv_table(rows)}{cases}</div>"


def _result_block(entry: Mapping[str, Any], result: Mapping[str, Any],
                  labels: Mapping[str, str]) -> str:
    parts = [f"<h4>{escape(result['platform'])}: {verdict(result['verdict'])} "
             f"<small>{escape(labels.get(result['platform'], ''))}</small></h4>",
             f"<p>{escape(result['reason'])}</p>"]
    if result in findings(entry):
        parts.append(_finding(entry, result))
    if result["layers"]:
        parts.append(table(["layer", "verdict", "predicted cases", "matched", "why"], (
            [escape(name), verdict(v["verdict"]), str(v["cases"]), str(v["matched"]),
             escape(v["reason"])] for name, v in result["layers"].items()
        ), raw=True))
    if result["evidence"]:
        parts.append("<ul class=\"evidence\">" + "".join(
            f"<li><code>{escape(line)}</code></li>" for line in result["evidence"]) + "</ul>")
    return "".join(parts)


def _details(entry: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    rows = [("source", _source(entry)), ("statement", entry["statement"]),
            ("rule", entry["rule"])]
    if entry["prediction"]:
        rows.append(("prediction", entry["prediction"]))
    if entry["conditions"]:
        rows.append(("conditions left out", "; ".join(entry["conditions"])))
    if entry["references"]:
        rows.append(("references", "; ".join(entry["references"])))
    if entry.get("method"):
        rows.append(("method", entry["method"]))
    if entry.get("untestable"):
        rows.append(("untestable", entry["untestable"]))
    if entry.get("opts"):
        rows.append(("POSIX assertions", ", ".join(entry["opts"])))
    if entry.get("editions"):
        rows.append(("other editions", entry["editions"]))
    rows += [("known deviation", "; ".join(f"{k}: {v}" for k, v in d.items()))
             for d in entry.get("deviations", [])]
    if entry.get("across"):
        rows.append(("across platforms", f"qualified: {entry['across']['holds']}"))
    body = kv_table(rows) + "".join(_result_block(entry, r, labels) for r in entry["results"])
    return f"<details><summary>evidence</summary><div class=\"body\">{body}</div></details>"


def _entry_row(entry: Mapping[str, Any], platform_ids: Sequence[str],
               labels: Mapping[str, str]) -> str:
    results = {r["platform"]: r for r in entry["results"]}
    verdicts = " ".join(dict.fromkeys(r["verdict"] for r in entry["results"]))
    cells = "".join(
        f"<td>{verdict(results[p]['verdict']) if p in results else ''}</td>" for p in platform_ids
    )
    reasons = list(dict.fromkeys(r["reason"] for r in entry["results"]))
    reason = escape(reasons[0]) if len(reasons) == 1 else "<br>".join(
        f"{escape(r['platform'])}: {escape(r['reason'])}" for r in entry["results"]
    )
    return (
        f"<tr class=\"entry\" id=\"{escape('e-' + entry['id'])}\" "
        f"data-verdicts=\"{escape(verdicts)}\" data-document=\"{escape(_group(entry))}\" "
        f"data-layers=\"{escape(' '.join(_layers(entry)))}\" data-kind=\"{escape(entry['kind'])}\">"
        f"<td class=\"id\"><code>{escape(entry['id'])}</code></td>"
        f"<td>{escape(entry['statement'])}{_quote(entry)}</td>{cells}"
        f"<td>{reason}{_details(entry, labels)}</td></tr>"
    )


def _quote(entry: Mapping[str, Any]) -> str:
    """Return the claim's verbatim locator, set beside the paraphrase ('' when none)."""
    quote = entry.get("quote")
    return f" <q lang=\"zh\" class=\"quote\">{escape(quote)}</q>" if quote else ""


def _entries(group: str, heading: str, intro: str, entries: Sequence[Mapping[str, Any]],
             report: Mapping[str, Any]) -> str:
    platform_ids = [p["id"] for p in report["platforms"]]
    labels = {p["id"]: p["label"] for p in report["platforms"]}
    columns = ["id", "statement", *(platform_ids if len(platform_ids) != 1 else ["verdict"]),
               "evidence"]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = "\n".join(_entry_row(e, platform_ids, labels) for e in entries)
    body = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if entries
            else "<p class=\"muted\">No entries catalogued yet.</p>")
    intro_html = f"<p class=\"muted\">{escape(intro)}</p>" if intro else ""
    return (f"<section class=\"entries\" data-group=\"{escape(group)}\">"
            f"<h3>{heading}</h3>{intro_html}{body}</section>")


def _figures(section: Mapping[str, Any]) -> str:
    parts = []
    for figure_set in section["figures"]:
        where = figure_set["source"] + (f", {figure_set['platform']}"
                                        if figure_set["platform"] else "")
        parts.append(f"<p class=\"muted\">From {escape(where)}:</p>")
        for block in figures.blocks(figure_set["data"]):
            if block.title:
                parts.append(f"<h4>{escape(block.title)}</h4>")
            if isinstance(block, figures.KeyValues):
                parts.append(kv_table(block.rows))
            elif isinstance(block, figures.Table):
                parts.append(table(block.columns, block.rows))
                if block.note:
                    parts.append(f"<p class=\"muted\">{escape(block.note)}</p>")
            else:
                parts.append(f"<pre>{escape(block.text)}</pre>")
    return "".join(parts) or "<p class=\"muted\">No figures recorded.</p>"


def _highlights(highlights: Mapping[str, Any]) -> str:
    rules = highlights["rules_covered"]
    rows = [("sequences explored", figures.text(highlights["sequences"])),
            ("steps executed", figures.text(highlights["steps"])),
            ("rules covered", ", ".join(rules) if rules else "not recorded"),
            ("disagreements with the kernel", str(len(highlights["disagreements"])))]
    parts = [kv_table(rows)]
    for number, item in enumerate(highlights["disagreements"], start=1):
        parts.append(f"<h4>Disagreement {number}: {escape(item['summary'])}</h4>")
        if item["snippet"]:
            parts.append(f"<pre>{escape(item['snippet'])}</pre>")
    return "".join(parts)


def _checks(report: Mapping[str, Any]) -> str:
    rows = []
    for check in report["checks"]:
        why = (check["skip"] or {}).get("reason") or check["known_deviation"] or ""
        if not why and check["outcome"] in ("failed", "error"):
            why = failure_summary(check["longrepr"])
        rows.append([check["nodeid"], check["platform"], ", ".join(check["claims"]),
                     check["layer"] or "", check["outcome"], f"{check['duration_s']:.3f}", why])
    counts = ", ".join(f"{n} {name}" for name, n in report["summary"]["checks"].items())
    return (f"<h2>Checks</h2><p>{escape(counts)}</p><details><summary>all checks</summary>"
            + table(["check", "platform", "entries", "layer", "outcome", "seconds", "why"], rows)
            + "</details>")


def render(report: Mapping[str, Any]) -> str:
    """Return the whole report as one self-contained HTML page."""
    entries = report["entries"]
    parts = [_head(report), _filters(report), "<main>", "<h2>Claims by document</h2>"]
    for document in report["documents"]:
        heading = (f"{escape(document['title'])} <small>{escape(document['file'])}</small>")
        claims = [e for e in entries if e["kind"] == "claim" and e["document"] == document["key"]]
        parts.append(_entries(document["key"], heading, document.get("summary", ""), claims,
                              report))
    posix = [e for e in entries if e["kind"] == "spec"]
    if posix:
        parts += ["<h2>POSIX</h2>", _entries("spec", "POSIX spec entries", "", posix, report),
                  crosswalk_html(report)]
    sections = report["sections"]
    for kind, title, name in (("fault", "Faults", "faults"), ("model", "Model", "model")):
        parts.append(f"<h2>{title}</h2>")
        own = [e for e in entries if e["kind"] == kind]
        if own:
            parts.append(_entries(kind, f"{title} entries", "", own, report))
        shown = _figures(sections[name])
        if name == "model":
            parts.append(_highlights(sections["model"]["highlights"]))
            if sections[name]["figures"]:
                # The highlights above are lifted from these; the rest stays on demand.
                shown = f"<details><summary>all model figures</summary>{shown}</details>"
        parts.append(shown)
    for name, section in sections.items():
        if name not in ("faults", "model"):
            parts.append(f"<h2>{escape(section['title'])}</h2>{_figures(section)}")
    parts += [_checks(report), "</main>"]
    commit = (report["run"]["commit"] or "unknown commit")[:12]
    return page(f"mmapcheck report ({commit})", "\n".join(parts), asset("report.js"))
