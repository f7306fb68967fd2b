"""Turn cases, probes and check records into short evidence lines people can read.

Every verdict carries its evidence; these lines are what the Markdown row,
the HTML details and ``diff`` show, so they are one line each, name errno
and signals the way the outcome does, and are cut to a bounded length (the
full data stays in the JSON report).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from helpers.isolate.outcome import Outcome
from reports.raw import Case, Check

MAX_VALUE = 120
MAX_LINE = 240


def clip(text: str, limit: int = MAX_LINE) -> str:
    """Return ``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def value(data: Any) -> str:
    """Return a JSON value as compact text (strings bare), cut to a readable length."""
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, ensure_ascii=False)
    return clip(text, MAX_VALUE)


def short_nodeid(nodeid: str) -> str:
    """Return the test part of a node id (``test_x[1]``), the file being in the JSON."""
    return nodeid.rsplit("::", 1)[-1]


def case_line(check: Check, case: Case) -> str:
    """Return ``test[id] case (layer): predicted P, observed O - matched`` for one case."""
    layer = check.layer_of(case)
    where = f"{short_nodeid(check.nodeid)} {case.case}" + (f" ({layer})" if layer else "")
    if case.matched is None:
        verdict = "no prediction"
        text = f"{where}: observed {value(case.observed)} - {verdict}"
    else:
        verdict = "matched" if case.matched else "did not match"
        text = (
            f"{where}: predicted {value(case.predicted)}, observed {value(case.observed)}"
            f" - {verdict}"
        )
    if case.central and case.matched is not None:
        text += " (central)"
    return clip(text)


def probe_summary(probe: dict[str, Any]) -> str:
    """Return the one-line reading of a probe outcome, tolerant of malformed data."""
    try:
        outcome = Outcome.from_dict(probe)
    except (KeyError, TypeError, ValueError):
        return clip(f"{probe.get('kind', '?')}: {probe.get('message', '')}".rstrip(": "))
    text = outcome.summary()
    return clip(f"{outcome.target}: {text}" if outcome.target else text)


def failure_summary(longrepr: str | None) -> str:
    """Return the line of a pytest failure text that says what failed.

    pytest marks the assertion message with ``E`` at the start of its lines;
    the first such line is the reason, else the last non-empty line.
    """
    if not longrepr:
        return "no details recorded"
    lines = [line.strip() for line in longrepr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E "):
            return clip(line[2:].strip())
    return clip(lines[-1]) if lines else "no details recorded"


def check_lines(check: Check, claim: str, cases: Sequence[str] | None = None, *,
                max_probes: int = 5) -> list[str]:
    """Return the evidence lines one check gives about ``claim``: status, cases, probes.

    ``cases`` are the check's case lines as the verdict judged them; without
    them the records' own predictions are shown.
    """
    name = short_nodeid(check.nodeid)
    lines: list[str] = []
    if check.skip is not None:
        lines.append(clip(f"{name}: {check.skip.kind}: {check.skip.reason}"))
    elif check.outcome == "error":
        lines.append(clip(f"{name}: the check broke: {failure_summary(check.longrepr)}"))
    elif check.outcome == "failed":
        lines.append(clip(f"{name}: failed: {failure_summary(check.longrepr)}"))
    elif check.outcome == "xfailed":
        reason = check.known_deviation or failure_summary(check.longrepr)
        lines.append(clip(f"{name}: known deviation (expected failure): {reason}"))
    lines.extend(cases if cases is not None
                 else [case_line(check, case) for case in check.cases_of(claim)])
    probes = [p for p in check.probes if isinstance(p, dict)]
    lines.extend(f"{name}: probe {probe_summary(p)}" for p in probes[:max_probes])
    if len(probes) > max_probes:
        lines.append(f"{name}: and {len(probes) - max_probes} more probes")
    return lines
