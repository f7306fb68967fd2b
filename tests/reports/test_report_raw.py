"""Reading raw results: a crashed run is read, a foreign or corrupt file is a named error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reports import raw
from reports.errors import ReportError


def test_a_complete_run_is_read(raw_file: Path) -> None:
    run = raw.read(raw_file)
    assert run.end is not None and run.warnings == []
    assert list(run.platforms) == ["local"]
    assert len(run.checks) == 13 and [f.section for f in run.figures] == ["faults", "model"]


def test_a_crashed_run_keeps_what_was_written(raw_file: Path) -> None:
    lines = raw_file.read_text().splitlines()
    # Drop the end record and cut the last check in half, as a crash mid-write would.
    cut = [*lines[:-4], lines[-4][: len(lines[-4]) // 2]]
    raw_file.write_text("\n".join(cut))
    run = raw.read(raw_file)
    assert run.end is None and len(run.checks) == 12
    assert any("cut short" in w for w in run.warnings)
    assert any("did not finish" in w for w in run.warnings)


def test_unknown_record_types_are_skipped_with_a_warning(
        make_raw: Callable[..., Path]) -> None:
    path = make_raw(lambda lines: [*lines[:2], {"type": "newthing"}, *lines[2:]])
    run = raw.read(path)
    assert run.warnings == ["line 3: unknown record type 'newthing' ignored"]


def test_a_missing_file_says_to_run_the_checks(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"run the checks first \(tox -e report"):
        raw.read(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ("hello\n", "not a mmapcheck raw results file"),
    (json.dumps({"type": "run", "format": "other"}) + "\n", "not a mmapcheck raw results file"),
])
def test_a_foreign_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(content)
    with pytest.raises(ReportError, match=message):
        raw.read(path)


def test_a_newer_version_is_refused(make_raw: Callable[..., Path]) -> None:
    path = make_raw(lambda lines: [{**lines[0], "version": 3}, *lines[1:]])
    with pytest.raises(ReportError, match="version 3 is newer"):
        raw.read(path)


def test_corruption_in_the_middle_names_the_line(raw_file: Path) -> None:
    lines = raw_file.read_text().splitlines()
    lines[3] = lines[3][:10]
    raw_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match=r"results.jsonl:4: not valid JSON"):
        raw.read(raw_file)


def test_a_record_breaking_the_schema_names_line_and_field(
        make_raw: Callable[..., Path]) -> None:
    def bad_outcome(lines: list[dict]) -> list[dict]:
        lines[2] = {**lines[2], "outcome": "exploded"}
        return lines

    with pytest.raises(ReportError, match=r":3: bad check record: at /outcome: 'exploded'"):
        raw.read(make_raw(bad_outcome))
