"""Markdown and HTML: escaped, complete, self-contained, and robust to any figures."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.catalogue import Catalogue
from reports import build, figures, raw, render_html, render_md

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@pytest.fixture
def report(raw_file: Path, synthetic_catalogue: Catalogue) -> dict[str, Any]:
    """Return the report of the synthetic run."""
    return build.build(raw.read(raw_file), synthetic_catalogue, [],
                       generated="2025-01-01T10:02:00Z")


def _tables(markdown: str) -> list[list[str]]:
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_markdown_tables_keep_their_columns(report: dict[str, Any]) -> None:
    tables = _tables(render_md.render(report))
    assert len(tables) >= 5
    for table in tables:
        widths = {len(UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(widths) == 1, f"a cell split its row: {table}"


def test_markdown_groups_claims_by_document(report: dict[str, Any]) -> None:
    text = render_md.render(report)
    assert "### Document A (`a.txt`)" in text
    assert "### Document B \\| with a pipe (`b.txt`)" in text
    assert text.index("`doc-a.partly`") < text.index("### Document B")
    assert "| `doc-a.refuted` | The refuted claim holds. | `NO` refuted |" in text
    assert "<script>" not in text and "\\<script\\>" in text
    for heading in ("## Platforms", "## Faults", "## Model", "## Load", "## Checks"):
        assert heading in text
    assert "```\nstate.map(1)\nstate.unmap(0)\n```" in text  # the replayable snippet


class _Page(HTMLParser):
    """Collects what the self-containment and filter tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.scripts = 0
        self.rows: list[dict[str, str | None]] = []
        self.details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.links += [(tag, k) for k in ("src", "href", "srcset", "action") if k in found]
        self.scripts += tag == "script"
        self.details += tag == "details"
        if tag == "tr" and "entry" in (found.get("class") or ""):
            self.rows.append(found)


def test_html_is_self_contained_and_escaped(report: dict[str, Any]) -> None:
    page_text = render_html.render(report)
    page = _Page()
    page.feed(page_text)
    assert page.links == [], "the page must load nothing"
    assert "://" not in page_text
    assert page.scripts == 1 and "Content-Security-Policy" in page_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text


def test_html_rows_carry_what_the_filters_need(report: dict[str, Any]) -> None:
    page = _Page()
    page.feed(render_html.render(report))
    assert len(page.rows) == len(report["entries"])
    assert page.details >= len(report["entries"])
    rows = {row["id"]: row for row in page.rows}
    assert rows["e-doc-a.refuted"]["data-verdicts"] == "refuted"
    assert rows["e-doc-a.refuted"]["data-document"] == "doc-a"
    assert rows["e-doc-a.refuted"]["data-layers"] == "libc pymmap"
    assert rows["e-fault.breaks"]["data-document"] == "fault"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_any_figures_render(report: dict[str, Any], data: dict[str, Any]) -> None:
    report["sections"]["load"]["figures"] = [{"source": "stress.json", "platform": None,
                                              "data": data}]
    markdown = render_md.render(report)
    for table in _tables(markdown):
        assert len({len(UNESCAPED_PIPE.findall(row)) for row in table}) == 1
    assert render_html.render(report).endswith("</html>\n")
    assert len(figures.blocks(data)) <= figures.MAX_BLOCKS
