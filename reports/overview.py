"""The head of every rendered report: where it came from and which platforms it ran on.

Markdown and HTML show the same facts in the same order, so both take
their rows from here; a reader comparing the two formats never has to
wonder which one is right.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from reports.evidence import value
from reports.figures import text


def provenance_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (name, value) rows: commit, catalogue, command, seed, times, duration."""
    run = report["run"]
    commit = run["commit"] or "unknown"
    if run["dirty"]:
        commit += " (with uncommitted changes)"
    catalogue = run["catalogue"]
    cat_text = catalogue["digest"]
    if not catalogue["matches"]:
        cat_text += f" (the run used {catalogue['run_digest']})"
    finished = run["finished"] or "not finished: the run was interrupted"
    duration = run["duration_s"]
    rows = [
        ("commit", commit),
        ("catalogue", cat_text),
        ("command", shlex.join(run["command"])),
        ("hypothesis seed", text(run["hypothesis_seed"])),
        ("started", run["started"]),
        ("finished", finished),
        ("duration", f"{duration:.1f} s" if isinstance(duration, (int, float)) else "unknown"),
        ("exit status", text(run["exitstatus"])),
        ("distribution", f"{run.get('dist') or 'no'}, {text(run.get('workers'))} workers"),
        ("report generated", report["generated"]),
    ]
    return rows


def _fingerprint_rows(fp: Mapping[str, Any] | None) -> dict[str, str]:
    if not fp:
        return {"host": "unknown (the worker never described itself)"}
    libc = fp.get("libc") or {}
    python = fp.get("python") or {}
    container = fp.get("container") or {}
    huge = fp.get("hugepages") or {}
    filesystems = fp.get("filesystems") or {}
    caps = fp.get("capabilities")
    return {
        "host": text(fp.get("hostname")),
        "system": " ".join(text(fp.get(k)) for k in ("system", "kernel_release", "machine")),
        "kernel build": text(fp.get("kernel_version")),
        "distribution": text(fp.get("os_release")),
        "page size": text(fp.get("page_size")),
        "libc": f"{text(libc.get('name'))} {text(libc.get('version'))}",
        "Python": f"{text(python.get('implementation'))} {text(python.get('version'))}",
        "filesystems": ", ".join(f"{k}: {v}" for k, v in filesystems.items()) or "none recorded",
        "privileges": f"euid {text(fp.get('euid'))}; capabilities: "
        + (", ".join(caps) if caps else "none"),
        "container": text(container.get("kind") or "none detected")
        + (f" ({', '.join(container['hints'])})" if container.get("hints") else ""),
        "CPUs": text(fp.get("cpu_count")),
        "huge pages": f"{text(huge.get('free'))} free of {text(huge.get('total'))}"
        f" ({text(huge.get('size_kb'))} kB)" if huge else "unknown",
        "user namespaces": text(fp.get("user_namespaces")),
    }


def platform_table(platforms: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Return (column names, rows) of the platforms side by side, one column per platform."""
    columns = ["", *(p["id"] for p in platforms)]
    described = [_fingerprint_rows(p["fingerprint"]) for p in platforms]
    names = list(dict.fromkeys(name for d in described for name in d))
    rows = [[name, *(d.get(name, "") for d in described)] for name in names]
    rows.append(["workers", *(
        ", ".join(p["keys"]) + (f" ({', '.join(p['gateways'])})" if p["gateways"] else "")
        for p in platforms
    )])
    return columns, rows


#: Columns of a finding's cases table.
CASE_COLUMNS = ["case", "layer", "predicted", "observed", "matched", "central", "condition"]
_FINDINGS = ("refuted", "qualified", "differs", "inconclusive")


def findings(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the results of ``entry`` that are findings (refuted, qualified, differs, ...)."""
    return [r for r in entry["results"] if r["verdict"] in _FINDINGS]


def case_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Return the cases table of one result: one row per observation, as plain text."""
    rows = []
    for case in result["cases"]:
        label = case["case"] + (f"[{case['instance']}]" if case.get("instance") else "")
        status = case.get("status")
        observed = (f"{status}: {case.get('reason', '')}" if status in ("unobservable",
                                                                          "undecided")
                    else value(case["observed"]))
        matched = {True: "yes", False: "no", None: "-"}[case["matched"]]
        condition = case.get("condition") or ""
        if condition and case.get("explained") is not None:
            condition += " (explains it here)" if case["explained"] else " (does not hold here)"
        rows.append([label, text(case["layer"]), value(case["predicted"]), observed, matched,
                     "yes" if case["central"] else "side", condition])
    return rows


def finding_lines(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (name, text) lines of a finding: why, holds where, conditions, facts."""
    lines = [("why", result["reason"])]
    if result.get("holds") and result["holds"] != result["reason"]:
        lines.append(("holds", result["holds"]))
    if result.get("facts"):
        lines.append(("platform facts", ", ".join(
            f"{k}={text(v)}" for k, v in result["facts"].items() if v is not None)))
    return lines
