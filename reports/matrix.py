"""Lay several reports side by side: entries down, platforms across (the ``matrix`` command).

Like a browser-compatibility table, it answers "where does this claim
hold?" at a glance.  Every platform of every report is a column, labelled
with the report it came from, because two runs on one machine (before and
after a kernel update, say) are exactly what people want to compare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from reports import facts as facts_
from reports import render_html as html_format
from reports import render_md as md_format
from reports.verdicts import Verdict


@dataclass(frozen=True)
class Column:
    """One platform of one report."""

    report: str
    platform: str
    label: str
    commit: str | None
    facts: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Row:
    """One catalogue entry: its verdict (and reason) per column, None where it is absent."""

    id: str
    kind: str
    group: str
    statement: str
    cells: tuple[tuple[str, str] | None, ...]
    across: str = ""

    @property
    def differs(self) -> bool:
        """Return True when the columns holding this entry disagree on its verdict.

        A column without the entry did not run it (a platform variant re-runs
        only the checks that can depend on it): that is no difference.
        """
        return len({cell[0] for cell in self.cells if cell is not None}) > 1


@dataclass(frozen=True)
class Grid:
    """The matrix: columns, rows and the group titles rows refer to."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    groups: Mapping[str, str]


def build(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> Grid:
    """Return the matrix of ``reports``, each given as (name, report)."""
    columns: list[Column] = []
    rows: dict[str, dict[str, Any]] = {}
    groups: dict[str, str] = {}
    for name, report in reports:
        for document in report["documents"]:
            groups.setdefault(document["key"], f"{document['title']} ({document['file']})")
        for platform in report["platforms"]:
            index = len(columns)
            columns.append(Column(name, platform["id"], platform["label"],
                                  report["run"]["commit"], facts_.of(platform["fingerprint"])))
            for entry in report["entries"]:
                row = rows.setdefault(entry["id"], {
                    "kind": entry["kind"], "group": entry["document"] or entry["kind"],
                    "statement": entry["statement"], "cells": {}})
                for result in entry["results"]:
                    # A platform that ran none of the entry's checks leaves its cell empty
                    # (a variant re-runs only what can depend on it), unless no check can.
                    ran = result.get("checks") or result["verdict"] == "untestable"
                    if result["platform"] == platform["id"] and ran:
                        row["cells"][index] = (result["verdict"], result["reason"])
    groups.setdefault("fault", "Faults")
    groups.setdefault("model", "Model")
    groups.setdefault("spec", "POSIX")
    built = [Row(entry_id, row["kind"], row["group"], row["statement"], cells,
                 _across(columns, cells))
             for entry_id, row in rows.items()
             for cells in [tuple(row["cells"].get(i) for i in range(len(columns)))]]
    return Grid(
        columns=tuple(columns),
        rows=tuple(sorted(built, key=lambda row: not row.differs)),  # differences first
        groups=groups,
    )


def _across(columns: Sequence[Column], cells: Sequence[tuple[str, str] | None]) -> str:
    """Return "qualified: holds where ..., not where ..." when the columns split, else ""."""
    found = facts_.across([(cell[0], column.facts, str(n))
                           for n, (column, cell) in enumerate(zip(columns, cells, strict=True),
                                                              start=1) if cell is not None])
    return f"qualified: {found['holds']}" if found else ""


def _describe(column: Column) -> str:
    commit = (column.commit or "unknown")[:12]
    return f"{column.report} {column.platform}: {column.label} (commit {commit})"


def _tally(grid: Grid, index: int) -> str:
    counts = Counter(row.cells[index][0] for row in grid.rows if row.cells[index] is not None)
    return ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict if counts[v.value])


def render_md(grid: Grid) -> str:
    """Return the matrix as Markdown: a column legend, then one table."""
    lines = ["# mmapcheck matrix", ""]
    lines += [f"{n}. {md_format.esc(_describe(c))}: {md_format.esc(_tally(grid, n - 1))}"
              for n, c in enumerate(grid.columns, start=1)]
    lines.append("")
    body = [
        [md_format.code(row.id), md_format.esc(grid.groups.get(row.group, row.group)),
         *(md_format.verdict(cell[0]) if cell else "" for cell in row.cells),
         "yes" if row.differs else "", md_format.esc(row.across)]
        for row in grid.rows
    ]
    columns = ["entry", "source", *(str(n) for n in range(1, len(grid.columns) + 1)), "differs",
               "across platforms"]
    lines += md_format.table(columns, body)
    return "\n".join(lines) + "\n"


def render_html(grid: Grid) -> str:
    """Return the matrix as one self-contained HTML page with a "differences only" filter."""
    head = "".join(
        f"<th title=\"{escape(_describe(c))}\">{n}<br><small>{escape(c.report)} "
        f"{escape(c.platform)}</small></th>" for n, c in enumerate(grid.columns, start=1)
    )
    rows = []
    for row in grid.rows:
        cells = "".join(
            f"<td title=\"{escape(cell[1])}\">{html_format.verdict(cell[0])}</td>" if cell
            else "<td class=\"muted\">not run</td>" for cell in row.cells
        )
        css = "entry differs" if row.differs else "entry"
        rows.append(
            f"<tr class=\"{css}\"><td class=\"id\"><code>{escape(row.id)}</code></td>"
            f"<td>{escape(grid.groups.get(row.group, row.group))}</td>"
            f"<td>{escape(row.statement)}</td>{cells}<td>{escape(row.across)}</td></tr>"
        )
    legend = "".join(
        f"<li>{escape(_describe(c))}<br><small>{escape(_tally(grid, n - 1))}</small></li>"
        for n, c in enumerate(grid.columns, start=1)
    )
    body = (
        "<h1>mmapcheck matrix</h1>"
        f"<ol>{legend}</ol>"
        "<nav id=\"filters\"><label><input type=\"checkbox\" id=\"f-differs\"> "
        "only entries whose platforms differ</label>"
        "<span id=\"f-count\" class=\"muted\"></span></nav>"
        f"<table><thead><tr><th>entry</th><th>source</th><th>statement</th>{head}"
        "<th>across platforms</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return html_format.page("mmapcheck matrix", body, html_format.asset("matrix.js"))
