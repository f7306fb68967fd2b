"""Assemble the figure sections of a report: faults, load, model, bench and any other.

Figures arrive from two places: ``figures`` records of the run (per platform)
and the result files of other commands (see :mod:`reports.extras`).  Their
layout is decided by the code that measures, so sections keep the data as
given; only the model section also gets ``highlights`` (sequences and steps
explored, rules covered, disagreements with a replayable snippet) lifted
from whatever fields carry them, so a reader finds them in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reports.extras import Extra
from reports.raw import Figures

#: Sections every report has, in display order, with their titles.
TITLES = {
    "faults": "Fault injection",
    "load": "Load",
    "model": "Model of the address space",
    "bench": "Channel benchmark",
}

_COUNTS = {"sequences": ("sequences", "sequences_explored", "examples"),
           "steps": ("steps", "steps_explored")}
_RULES = ("rules_covered", "rules")
_DISAGREEMENTS = ("disagreements", "failures", "counterexamples")
_SUMMARY = ("summary", "message", "description", "error")
_SNIPPET = ("snippet", "program", "replay", "reproduction", "code")


def _first_str(item: Mapping[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        if isinstance(item.get(name), str):
            return item[name]
    return None


def _disagreement(item: Any) -> dict[str, str] | None:
    if isinstance(item, str):
        return {"summary": item.splitlines()[0] if item else "", "snippet": item}
    if not isinstance(item, Mapping):
        return None
    snippet = _first_str(item, _SNIPPET)
    summary = _first_str(item, _SUMMARY)
    if snippet is None and summary is None:
        return None
    return {"summary": summary or "", "snippet": snippet or ""}


def highlights(datasets: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the model figures a reader looks for first, pooled over ``datasets``.

    Counts are summed, rules united, disagreements listed; a field of an
    unexpected type is ignored rather than guessed at, and a figure no
    dataset carries stays None.
    """
    result: dict[str, Any] = {"sequences": None, "steps": None, "rules_covered": None,
                              "disagreements": []}
    for data in datasets:
        for figure, names in _COUNTS.items():
            for name in names:
                count = data.get(name)
                if isinstance(count, int) and not isinstance(count, bool):
                    result[figure] = (result[figure] or 0) + count
                    break
        for name in _RULES:
            rules = data.get(name)
            if isinstance(rules, Mapping):
                rules = list(rules)
            if isinstance(rules, list) and all(isinstance(r, str) for r in rules):
                known = result["rules_covered"] or []
                result["rules_covered"] = known + [r for r in rules if r not in known]
                break
        for name in _DISAGREEMENTS:
            items = data.get(name)
            if isinstance(items, list):
                found = (_disagreement(item) for item in items)
                result["disagreements"].extend(d for d in found if d is not None)
                break
    return result


def build(
    figures: Iterable[Figures], extras: Iterable[Extra], key_to_id: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Return the ``sections`` object of a report: each with a title and its figure sets."""
    sections: dict[str, dict[str, Any]] = {
        name: {"title": title, "figures": []} for name, title in TITLES.items()
    }

    def section(name: str) -> dict[str, Any]:
        return sections.setdefault(
            name, {"title": name.replace("_", " ").capitalize(), "figures": []}
        )

    for record in figures:
        platform = key_to_id.get(record.platform) if record.platform else None
        section(record.section)["figures"].append(
            {"source": "run", "platform": platform, "data": record.data}
        )
    for extra in extras:
        if extra.merged and extra.data is not None:
            section(extra.section)["figures"].append(
                {"source": extra.file, "platform": None, "data": extra.data}
            )
    sections["model"]["highlights"] = highlights(f["data"] for f in sections["model"]["figures"])
    return sections
