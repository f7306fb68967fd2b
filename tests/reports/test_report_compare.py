"""diff and matrix across platforms, and one-line errors for input they cannot use."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_samples import FINGERPRINT, records, write_raw

from helpers.catalogue import Catalogue
from reports import build, compare, matrix, raw
from reports.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture
def make_report(tmp_path: Path, synthetic_catalogue: Catalogue) -> Callable[..., Path]:
    """Return a function writing the report of the synthetic run, edited, as ``name``."""

    def make(name: str, edit: Edit = lambda lines: lines) -> Path:
        lines = edit(records(synthetic_catalogue))
        path = write_raw(tmp_path / f"{name}.jsonl", lines)
        report = build.build(raw.read(path), synthetic_catalogue, [], generated="2025-01-01")
        out = tmp_path / f"{name}.json"
        out.write_text(json.dumps(report))
        return out

    return make


def _on_arm(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the run as if on a 16 KiB-page arm64 machine where the refuted claim holds."""
    out = []
    for record in lines:
        if record["type"] == "platform":
            record = {**record, "fingerprint": {**FINGERPRINT, "page_size": 16384,
                                                "machine": "aarch64"}}
        name = record.get("nodeid", "")
        if name.endswith("test_refuted"):
            record = {**record, "cases": [{**c, "matched": True} for c in record["cases"]]}
        if name.endswith("test_conditional"):  # same verdict, other errno observed
            record = {**record, "cases": [{**c, "observed": "ENOMEM"} for c in record["cases"]]}
        if not name.endswith("test_skipped"):  # a check only the first side ran
            out.append(record)
    return out


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_diff_of_a_report_with_itself_is_empty(make_report: Callable[..., Path]) -> None:
    a = _load(make_report("a"))
    result = compare.diff(a, a)
    assert not result.differs
    assert result.lines[-1] == "no differences in verdicts, evidence or checks"


def test_diff_shows_what_changed_between_platforms(make_report: Callable[..., Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    a, b = make_report("a"), make_report("b", _on_arm)
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "  page_size: 4096 -> 16384" in out
    assert "  doc-a.refuted: refuted -> confirmed" in out
    assert "  doc-a.conditional (still confirmed):" in out and "observed ENOMEM" in out
    checks_only_a = out.split(f"checks only {a} ran (1):")[1].splitlines()[1]
    assert checks_only_a == "  conformance/test_synth.py::test_skipped"
    assert "checks whose outcome differs" not in out


def test_diff_asks_which_platform_of_a_multi_platform_report(
        make_report: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    def two(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        other = [{**r, "platform": "gw1"} if r["type"] in ("check", "figures") else r
                 for r in _on_arm(lines)[2:-1]]
        gw1 = {**_on_arm(lines)[1], "key": "gw1"}
        return [lines[0], lines[1], gw1, *lines[2:-1], *other, lines[-1]]

    both = make_report("both", two)
    assert main(["diff", str(both), str(both)]) == 2
    err = capsys.readouterr().err
    assert "has 2 platforms (p1: box / Linux 6.1.0 x86_64" in err and "--platform-a" in err
    assert main(["diff", str(both), str(both), "--platform-a", "p1", "--platform-b", "p2"]) == 1
    assert "doc-a.refuted: refuted -> confirmed" in capsys.readouterr().out


def test_matrix_lays_platforms_side_by_side(make_report: Callable[..., Path],
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    a, b = make_report("a"), make_report("b", _on_arm)
    grid = matrix.build([("a", _load(a)), ("b", _load(b))])
    rows = {row.id: row for row in grid.rows}
    assert [c[0] for c in rows["doc-a.refuted"].cells] == ["refuted", "confirmed"]
    assert rows["doc-a.refuted"].differs and not rows["doc-a.confirmed"].differs
    assert main(["matrix", str(a), str(b)]) == 0
    markdown = capsys.readouterr().out
    assert "| `doc-a.refuted` | Document A (a.txt) | `NO` refuted | `OK` confirmed | yes |" \
        in markdown
    out = tmp_path / "matrix.html"
    assert main(["matrix", str(a), str(b), "-o", str(out)]) == 0
    page = out.read_text()
    assert page.count("<tr class=\"entry differs\">") == sum(r.differs for r in grid.rows) > 0
    assert "://" not in page


def _bad_inputs(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    report = _load(good)
    (tmp_path / "broken.json").write_text("{\"format\": ")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "newer.json").write_text(json.dumps({**report, "schema_version": 3}))
    invalid = {**report, "checks": [{"nodeid": 1}]}
    (tmp_path / "invalid.json").write_text(json.dumps(invalid))
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    return {
        "invalid JSON": (tmp_path / "broken.json", "not valid JSON (line 1, column 12"),
        "not a report": (tmp_path / "list.json", "not a mmapcheck report"),
        "newer schema": (tmp_path / "newer.json", "schema version 3 is newer"),
        "breaks the schema": (tmp_path / "invalid.json",
                              "not a valid mmapcheck report: at /checks/0"),
        "missing": (tmp_path / "missing.json", "cannot read the report: No such file"),
        "a folder": (tmp_path, "cannot read the report: Is a directory"),
        "not text": (tmp_path / "binary.json", "cannot read the report"),
    }


@pytest.mark.parametrize("case", ["invalid JSON", "not a report", "newer schema",
                                  "breaks the schema", "missing", "a folder", "not text"])
@pytest.mark.parametrize("command", ["diff", "matrix"])
def test_bad_input_is_one_line_on_stderr(make_report: Callable[..., Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str], case: str,
                                         command: str) -> None:
    good = make_report("good")
    bad, message = _bad_inputs(tmp_path, good)[case]
    assert main([command, str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert captured.err.startswith(f"python -m reports {command}: error: {bad}")


def test_the_command_line_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("nonsense")
    done = subprocess.run([sys.executable, "-m", "reports", "diff", str(bad), str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    usage = subprocess.run([sys.executable, "-m", "reports", "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60, check=False)
    assert usage.returncode == 0
    assert all(word in usage.stdout for word in ("build", "diff", "matrix"))


def test_matrix_output_needs_a_known_extension(make_report: Callable[..., Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(make_report("a")), "-o", str(tmp_path / "m.txt")]) == 2
    assert "say .html or .md" in capsys.readouterr().err


V1_REPORT = Path(__file__).parent / "data" / "report-1.json"


def test_matrix_names_the_facts_that_split_platforms(make_report: Callable[..., Path]) -> None:
    a, b = make_report("a"), make_report("b", _on_arm)
    rows = {row.id: row for row in matrix.build([("a", _load(a)), ("b", _load(b))]).rows}
    assert rows["doc-a.refuted"].across == (
        "qualified: holds where page_size == 16384 and arch == aarch64, "
        "not where page_size == 4096 and arch == x86_64")
    assert rows["doc-a.confirmed"].across == ""


def test_version_1_reports_are_still_read(make_report: Callable[..., Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    new = make_report("new")
    assert _load(new)["schema_version"] == 2 and _load(V1_REPORT)["schema_version"] == 1
    assert main(["matrix", str(V1_REPORT), str(new)]) == 0
    assert "| `doc-a.refuted` | Document A (a.txt) | `NO` refuted | `NO` refuted |" \
        in capsys.readouterr().out
    assert main(["diff", str(V1_REPORT), str(new)]) == 1
    out = capsys.readouterr().out
    assert "doc-a.conditional: qualified -> confirmed" in out
    assert "doc-b.untestable: skipped -> untestable" in out
