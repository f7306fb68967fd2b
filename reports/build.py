"""Assemble the report (a JSON-able dict following ``report-2.schema.json``) from a run.

The report is built once, as data, and every format is rendered from that
data: the Markdown and HTML can then never disagree with the JSON, and
``diff``/``matrix`` can read reports written on other machines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from helpers.catalogue import KINDS, LAYERS, Catalogue, Entry
from reports import facts as facts_
from reports import platforms as platforms_
from reports import posix, sections
from reports.evidence import check_lines, probe_summary
from reports.extras import Extra
from reports.raw import Check, RawRun
from reports.validate import REPORT_FORMAT, REPORT_VERSION
from reports.verdicts import judge, verdicts_for

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")
#: How each pytest outcome counts: an expected failure is CI-green, so it passes.
RESULTS = {"passed": "pass", "xpassed": "pass", "xfailed": "pass", "failed": "fail",
           "skipped": "skip", "error": "error"}
MAX_EVIDENCE = 100
MAX_LONGREPR = 4000


def _layers(entry: Entry, checks: Iterable[Check]) -> list[str]:
    """Return the layers to give per-layer results for: declared ones and any that ran."""
    seen = set(entry.layers)
    for check in checks:
        seen.update(layer for case in check.cases_of(entry.id) if (layer := check.layer_of(case)))
        if check.layer:
            seen.add(check.layer)
    return [layer for layer in LAYERS if layer in seen] + sorted(seen - set(LAYERS))


def rerun_command(entry_id: str) -> str:
    """Return the command that reruns the checks of one entry."""
    return f"python -m pytest conformance --mmapcheck-claim {entry_id}"


def _result(entry: Entry, platform: str, checks: Sequence[Check],
            facts: Mapping[str, Any]) -> dict[str, Any]:
    mine = [check for check in checks if entry.id in check.claims]
    overall = judge(entry, mine, facts=facts)
    layers = {}
    if any(check.layer or any(c.layer for c in check.cases) for check in mine):
        for layer in _layers(entry, mine):
            judged = judge(entry, mine, layer, facts)
            cases = [c for c in judged.cases if c.matched is not None]
            layers[layer] = {
                "verdict": judged.verdict.value,
                "reason": judged.reason,
                "cases": len(cases),
                "matched": sum(1 for c in cases if c.matched),
                "holds": judged.holds,
            }
    lines: dict[str, list[str]] = defaultdict(list)
    for case in overall.cases:
        lines[case.check].append(case.line())
    evidence = [line for check in mine
                for line in check_lines(check, entry.id, lines.get(check.nodeid, []))]
    if len(evidence) > MAX_EVIDENCE:
        evidence = [*evidence[:MAX_EVIDENCE], f"and {len(evidence) - MAX_EVIDENCE} more lines"]
    return {
        "platform": platform,
        "verdict": overall.verdict.value,
        "reason": overall.reason,
        "holds": overall.holds,
        "conditions": [dict(c) for c in overall.conditions],
        "facts": dict(overall.facts) if overall.facts is not None else None,
        "layers": layers,
        "checks": list(dict.fromkeys(check.nodeid for check in mine)),
        "cases": [case.as_data() for case in overall.cases],
        "evidence": evidence,
    }


def _across(results: Sequence[Mapping[str, Any]],
            platform_facts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Return the verdict across platforms when they disagree (confirmed here, refuted there)."""
    if len(results) < 2:
        return None
    return facts_.across([(r["verdict"], platform_facts[r["platform"]], r["platform"])
                          for r in results])


def _entry(entry: Entry, catalogue: Catalogue, by_platform: Mapping[str, list[Check]],
           platform_facts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    document = catalogue.documents.get(entry.document) if entry.document else None
    results = [_result(entry, pid, checks, platform_facts[pid])
               for pid, checks in by_platform.items()]
    return {
        "id": entry.id,
        "kind": entry.kind,
        "document": entry.document,
        "source": dict(entry.source),
        "source_file": document.file if document else None,
        "catalogue_file": entry.file,
        "quote": entry.quote,
        "statement": entry.statement,
        "rule": entry.rule,
        "references": list(entry.references),
        "prediction": entry.prediction,
        "opts": list(entry.opts),
        "editions": entry.editions,
        "conditions": list(entry.conditions),
        "needs": list(entry.needs),
        "layers": list(entry.layers),
        "method": entry.method,
        "untestable": entry.untestable,
        "deviations": [dict(d) for d in entry.deviations],
        "cases": [{"id": c.id, "predicted": c.predicted, "central": c.central,
                   "condition": c.condition, "when": c.when} for c in entry.cases],
        "rerun": rerun_command(entry.id),
        "results": results,
        "across": _across(results, platform_facts),
    }


def _check(check: Check, platform: str) -> dict[str, Any]:
    longrepr = check.longrepr
    if longrepr is not None and len(longrepr) > MAX_LONGREPR:
        longrepr = longrepr[: MAX_LONGREPR - 20] + "\n... (cut short)"
    return {
        "nodeid": check.nodeid,
        "platform": platform,
        "claims": list(check.claims),
        "layer": check.layer,
        "outcome": check.outcome,
        "result": RESULTS[check.outcome],
        "duration_s": round(check.duration_s, 6),
        "skip": {"kind": check.skip.kind, "reason": check.skip.reason} if check.skip else None,
        "known_deviation": check.known_deviation,
        "longrepr": longrepr,
        "cases": len(check.cases),
        "probes": [probe_summary(p) for p in check.probes if isinstance(p, dict)],
    }


def _counts(entries: Sequence[dict[str, Any]], checks: Sequence[dict[str, Any]],
            platform: str | None) -> dict[str, Any]:
    """Return verdict counts per kind and check outcome counts, for one platform or all."""
    verdicts: dict[str, dict[str, int]] = {}
    for kind in KINDS:
        tally = Counter(
            result["verdict"]
            for entry in entries if entry["kind"] == kind
            for result in entry["results"] if platform in (None, result["platform"])
        )
        verdicts[kind] = {v.value: tally.get(v.value, 0) for v in verdicts_for(kind)}
    outcomes = Counter(c["outcome"] for c in checks if platform in (None, c["platform"]))
    check_counts = {"total": sum(outcomes.values())}
    check_counts.update({name: outcomes.get(name, 0) for name in OUTCOMES})
    return {"verdicts": verdicts, "checks": check_counts}


def _warnings(raw: RawRun, catalogue: Catalogue) -> list[str]:
    warnings = list(raw.warnings)
    if raw.run["catalogue_digest"] != catalogue.digest:
        warnings.append(
            f"the catalogue changed since the run (run {raw.run['catalogue_digest']}, now "
            f"{catalogue.digest}): verdicts use the current catalogue; run the checks again"
        )
    unknown = sorted({cid for c in raw.checks for cid in c.claims if cid not in catalogue})
    if unknown:
        warnings.append(f"checks name entries the catalogue lacks: {', '.join(unknown)}")
    return warnings


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build(raw: RawRun, catalogue: Catalogue, extras: Sequence[Extra] = (), *,
          generated: str | None = None) -> dict[str, Any]:
    """Return the report of ``raw`` judged against ``catalogue``, with ``extras`` merged.

    ``generated`` is the report's creation time (ISO 8601); tests pass a
    fixed one so that two builds of the same input are equal.
    """
    used = [c.platform for c in raw.checks] + [f.platform for f in raw.figures if f.platform]
    platforms, key_to_id = platforms_.merge(raw.platforms.values(), used)
    by_platform: dict[str, list[Check]] = defaultdict(list)
    for platform in platforms:
        by_platform[platform["id"]] = []
    for check in raw.checks:
        by_platform[key_to_id[check.platform]].append(check)
    platform_facts = {p["id"]: facts_.of(p["fingerprint"]) for p in platforms}
    entries = [_entry(e, catalogue, by_platform, platform_facts)
               for e in catalogue.entries.values()]
    checks = [_check(c, key_to_id[c.platform]) for c in raw.checks]
    end = raw.end or {}
    checks_duration = round(sum(c.duration_s for c in raw.checks), 3)
    run = raw.run
    summary = {
        "duration_s": end.get("duration_s", checks_duration),
        "checks_duration_s": checks_duration,
        "entries": {kind: sum(1 for e in entries if e["kind"] == kind)
                    for kind in KINDS},
        **_counts(entries, checks, None),
        "by_platform": [{"platform": p["id"], **_counts(entries, checks, p["id"])}
                        for p in platforms],
    }
    return {
        "format": REPORT_FORMAT,
        "schema_version": REPORT_VERSION,
        "generated": generated or _iso_now(),
        "run": {
            "run_id": run["run_id"],
            "commit": run.get("commit"),
            "dirty": run.get("dirty"),
            "command": list(run["command"]),
            "hypothesis_seed": run.get("hypothesis_seed"),
            "started": run["started"],
            "finished": end.get("finished"),
            "duration_s": end.get("duration_s"),
            "exitstatus": end.get("exitstatus"),
            "complete": raw.end is not None,
            "dist": run.get("dist"),
            "workers": run.get("workers"),
            "counts": end.get("counts"),
            "catalogue": {
                "digest": catalogue.digest,
                "run_digest": run["catalogue_digest"],
                "matches": run["catalogue_digest"] == catalogue.digest,
                "entries": len(catalogue.entries),
                "documents": len(catalogue.documents),
            },
            "extras": [extra.as_json() for extra in extras],
        },
        "warnings": _warnings(raw, catalogue),
        "platforms": platforms,
        "summary": summary,
        "documents": [
            {"key": d.key, "file": d.file, "title": d.title, "summary": d.summary}
            for d in catalogue.documents.values()
        ],
        "entries": entries,
        "checks": checks,
        "sections": sections.build(raw.figures, extras, key_to_id),
        "posix": posix.build(catalogue, entries, [p["id"] for p in platforms]),
    }


_NOUNS = {"claim": ("claim", "claims"), "spec": ("POSIX spec entry", "POSIX spec entries"),
          "fault": ("fault", "faults"),
          "model": ("model property", "model properties")}


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """Return the one-line summary of a report, one line per platform when it has several.

    ``mmapcheck: 97 claims: 40 confirmed, ...; 12 faults: ...; 180 checks: 178 passed, ...``;
    fault and model counts appear only when the catalogue has such entries.
    """
    summary = report["summary"]
    rows = [(None, summary)]
    if len(summary["by_platform"]) > 1:
        labels = {p["id"]: p["label"] for p in report["platforms"]}
        rows = [(f"{row['platform']} ({labels[row['platform']]})", row)
                for row in summary["by_platform"]]
    lines = []
    for name, counts in rows:
        parts = []
        for kind, (one, many) in _NOUNS.items():
            total = summary["entries"].get(kind, 0)
            if kind != "claim" and not total:
                continue
            # Every claim verdict is always named (zeros are news too); fault and
            # model verdicts only when they occur, to keep the line short.
            tally = ", ".join(f"{n} {v}" for v, n in counts["verdicts"][kind].items()
                              if n or kind == "claim")
            parts.append(f"{total} {one if total == 1 else many}: {tally}")
        c = counts["checks"]
        text = f"{c['total']} checks: {c['passed']} passed, {c['failed']} failed, " \
               f"{c['skipped']} skipped, {c['error']} error"
        text += "".join(f", {c[o]} {o}" for o in ("xfailed", "xpassed") if c[o])
        parts.append(text)
        prefix = f"mmapcheck {name}: " if name else "mmapcheck: "
        lines.append(prefix + "; ".join(parts))
    if not report["platforms"]:
        lines = ["mmapcheck: no platform recorded a result"]
    return lines

