"""Self-tests of the POSIX section: spec verdicts, the crosswalk, and diff and matrix over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_samples import check, records, write_raw

from helpers import catalogue as catalogue_module
from helpers import opts
from reports import build, compare, matrix, raw, render_html, render_md

GENERATED = "2025-01-01T10:02:00Z"
FLAGS = "spec.msync-flags"  # POSIX predicts EINVAL for all four of its cases


def _case(case: str, observed: Any, status: str = "observed") -> dict[str, Any]:
    return {"claim": FLAGS, "case": case, "layer": "libc", "observed": observed,
            "status": status, "how": "field:msync", "evidence": {}}


def _report(tmp_path: Path, name: str, spec_checks: list[dict[str, Any]]) -> dict[str, Any]:
    real = catalogue_module.default()
    lines = records(real)
    path = write_raw(tmp_path / f"{name}.jsonl", [lines[0], lines[1], *spec_checks, lines[-1]])
    return build.build(raw.read(path), real, [], generated=GENERATED)


def _verdict(report: dict[str, Any], entry_id: str) -> str:
    entry = next(e for e in report["entries"] if e["id"] == entry_id)
    return entry["results"][0]["verdict"]


CONFORMING = [_case(c, "EINVAL") for c in ("neither-flag", "invalidate-alone", "both-flags",
                                           "unknown-bit")]
LINUX = [_case("neither-flag", "ok"), *CONFORMING[1:]]


@pytest.mark.parametrize(("spec_check", "verdict"), [
    (check("test_flags", [FLAGS], cases=CONFORMING), "conforms"),
    (check("test_flags", [FLAGS], cases=LINUX), "differs"),
    (check("test_flags", [FLAGS], "xfailed", cases=LINUX, known_deviation="tmpfs"),
     "known-deviation"),
    (check("test_flags", [FLAGS], "skipped", skip={"kind": "unsupported", "reason": "no X"}),
     "unsupported"),
    (check("test_flags", [FLAGS], "skipped", skip={"kind": "skipped", "reason": "needs root"}),
     "skipped"),
    (check("test_flags", [FLAGS], "error", longrepr="E   OSError: boom"), "error"),
    (check("test_flags", [FLAGS], cases=[_case("neither-flag", None, "unobservable"),
                                         *CONFORMING[1:]]), "unsupported"),
    (check("test_flags", [FLAGS]), "error"),
], ids=["conforms", "differs", "known-deviation", "unsupported", "skipped", "error",
        "unobservable", "no-observation"])
def test_spec_verdict_follows_the_observations(tmp_path, spec_check, verdict):
    report = _report(tmp_path, "run", [spec_check])
    assert _verdict(report, FLAGS) == verdict


def test_spec_entry_without_a_check_is_untestable_or_skipped(tmp_path):
    report = _report(tmp_path, "run", [])
    assert _verdict(report, "spec.msync-data-integrity") == "untestable"
    assert _verdict(report, FLAGS) == "skipped"


def test_crosswalk_has_every_assertion_and_totals_per_interface(tmp_path):
    report = _report(tmp_path, "run", [check("test_flags", [FLAGS], cases=LINUX)])
    section = report["posix"]
    assert [r["assertion"] for r in section["crosswalk"]] == opts.all_assertions()
    verdicts = {r["assertion"]: r["verdicts"]["p1"] for r in section["crosswalk"]}
    assert verdicts["msync/7"] == verdicts["msync/12"] == "differs"
    msync = next(i for i in section["interfaces"] if i["name"] == "msync")
    assert msync["assertions"] == 13 and sum(msync["totals"]["p1"].values()) == 13


def test_posix_section_is_rendered_in_markdown_and_html(tmp_path):
    report = _report(tmp_path, "run", [check("test_flags", [FLAGS], cases=LINUX)])
    text = render_md.render(report)
    assert "## POSIX" in text and "### Crosswalk" in text
    assert "| `msync/7` | `spec.msync-flags` | `<>` differs |" in text
    page = render_html.render(report)
    assert 'id="posix-crosswalk"' in page and "<code>msync/12</code>" in page


def test_diff_and_matrix_include_the_posix_section(tmp_path):
    before = _report(tmp_path, "a", [check("test_flags", [FLAGS], cases=CONFORMING)])
    after = _report(tmp_path, "b", [check("test_flags", [FLAGS], cases=LINUX)])
    lines = compare.diff(before, after).lines
    assert f"  {FLAGS}: conforms -> differs" in lines
    assert "  msync/7: conforms -> differs" in lines
    grid = matrix.build([("a", before), ("b", after)])
    row = next(r for r in grid.rows if r.id == FLAGS)
    assert row.group == "spec" and row.differs
    assert "`<>` differs" in matrix.render_md(grid)
