"""The JSON report: valid against its published schema, faithful to the run, multi-platform."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_samples import EXPECTED, FINGERPRINT, records, write_raw

from helpers import catalogue as catalogue_module
from helpers.catalogue import Catalogue
from reports import build, extras, raw
from reports.__main__ import main
from reports.validate import report_schema_path

GENERATED = "2025-01-01T10:02:00Z"


def _report(path: Path, catalogue: Catalogue, found: list[extras.Extra] | None = None) -> dict:
    return build.build(raw.read(path), catalogue, found or [], generated=GENERATED)


def _validate(report: dict[str, Any]) -> None:
    schema = json.loads(report_schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)


def test_the_report_matches_its_published_schema(raw_file: Path,
                                                  synthetic_catalogue: Catalogue) -> None:
    report = _report(raw_file, synthetic_catalogue)
    _validate(report)
    assert report["schema_version"] == 2 and report["format"] == "mmapcheck-report"


def test_the_schema_rejects_what_it_must(raw_file: Path, synthetic_catalogue: Catalogue) -> None:
    report = _report(raw_file, synthetic_catalogue)
    report["entries"][0]["results"][0]["verdict"] = "probably"
    with pytest.raises(jsonschema.ValidationError, match="probably"):
        _validate(report)


def test_the_report_says_where_it_came_from(raw_file: Path,
                                            synthetic_catalogue: Catalogue) -> None:
    run = _report(raw_file, synthetic_catalogue)["run"]
    assert run["commit"] == "c0ffee" and run["hypothesis_seed"] == 1234
    assert run["command"][0] == "pytest" and run["complete"] is True
    assert (run["started"], run["finished"]) == ("2025-01-01T10:00:00Z", "2025-01-01T10:01:00Z")
    assert run["catalogue"]["matches"] is True


def test_every_entry_and_check_is_in_the_report(raw_file: Path,
                                                synthetic_catalogue: Catalogue) -> None:
    report = _report(raw_file, synthetic_catalogue)
    verdicts = {e["id"]: e["results"][0]["verdict"] for e in report["entries"]}
    assert verdicts == EXPECTED
    entry = next(e for e in report["entries"] if e["id"] == "doc-a.confirmed")
    assert (entry["source_file"], entry["source"]["section"]) == ("a.txt", "section of confirmed")
    assert set(entry["results"][0]["layers"]) == {"libc", "pymmap"}
    assert len(report["checks"]) == 13
    results = {c["nodeid"].rsplit("::")[-1]: c["result"] for c in report["checks"]}
    assert (results["test_known"], results["test_breaks"], results["test_skipped"]) == (
        "pass", "fail", "skip")


def test_totals_are_honest(raw_file: Path, synthetic_catalogue: Catalogue) -> None:
    report = _report(raw_file, synthetic_catalogue)
    summary = report["summary"]
    assert summary["checks"] == {"total": 13, "passed": 7, "failed": 1, "skipped": 3,
                                 "xfailed": 1, "xpassed": 0, "error": 1}
    assert summary["verdicts"]["claim"] == {"confirmed": 2, "refuted": 1, "qualified": 1,
                                            "inconclusive": 0, "unsupported": 1, "skipped": 2,
                                            "untestable": 1, "error": 3}
    (line,) = build.summary_lines(report)
    assert line.startswith("mmapcheck: 11 claims: 2 confirmed, 1 refuted, 1 qualified, ")
    assert line.endswith("13 checks: 7 passed, 1 failed, 3 skipped, 1 error, 1 xfailed")


def _two_workers(lines: list[dict[str, Any]], other: dict[str, Any] | None) -> list[dict]:
    """Return the run on two workers gw0 and gw1; gw1 has fingerprint ``other`` if given."""
    head, platform, rest = lines[0], lines[1], lines[2:]
    gw0 = {**platform, "key": "gw0", "gateway": "popen//python=python3.11"}
    gw1 = {**platform, "key": "gw1", "gateway": "popen//python=python3.12",
           "fingerprint": other or platform["fingerprint"]}
    copies = []
    for record in rest:
        if record["type"] in ("check", "figures"):
            copies += [{**record, "platform": "gw0"}, {**record, "platform": "gw1"}]
        else:
            copies.append(record)
    return [{**head, "dist": "each", "workers": 2}, gw0, gw1, *copies]


def test_workers_with_equal_fingerprints_are_one_platform(
        make_raw: Callable[..., Path], synthetic_catalogue: Catalogue) -> None:
    report = _report(make_raw(lambda lines: _two_workers(lines, None)), synthetic_catalogue)
    (platform,) = report["platforms"]
    assert platform["keys"] == ["gw0", "gw1"] and len(platform["gateways"]) == 2
    assert all(len(e["results"]) == 1 for e in report["entries"])
    assert len(build.summary_lines(report)) == 1


def test_each_platform_keeps_its_own_results(
        make_raw: Callable[..., Path], synthetic_catalogue: Catalogue) -> None:
    other = {**FINGERPRINT, "page_size": 16384, "machine": "aarch64"}

    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines = _two_workers(lines, other)
        # On gw1 the refuted claim's central case matches: the claim holds there.
        for record in lines:
            if record.get("platform") == "gw1" and record.get("nodeid", "").endswith("refuted"):
                record["cases"] = [{**c, "matched": True} for c in record["cases"]]
        return lines

    report = _report(make_raw(edit), synthetic_catalogue)
    _validate(report)
    assert [p["keys"] for p in report["platforms"]] == [["gw0"], ["gw1"]]
    refuted = next(e for e in report["entries"] if e["id"] == "doc-a.refuted")
    assert [(r["platform"], r["verdict"]) for r in refuted["results"]] == [
        ("p1", "refuted"), ("p2", "confirmed")]
    assert {c["platform"] for c in report["checks"]} == {"p1", "p2"}
    lines = build.summary_lines(report)
    assert len(lines) == 2 and "aarch64" in lines[1]


def test_a_worker_that_never_described_itself_is_its_own_platform(
        make_raw: Callable[..., Path], synthetic_catalogue: Catalogue) -> None:
    path = make_raw(lambda lines: [*lines[:-1], {**lines[2], "platform": "gw7"}, lines[-1]])
    report = _report(path, synthetic_catalogue)
    assert [(p["keys"], p["fingerprint"]) for p in report["platforms"]][1] == (["gw7"], None)
    _validate(report)


def test_a_changed_catalogue_is_a_warning(make_raw: Callable[..., Path],
                                          synthetic_catalogue: Catalogue) -> None:
    path = make_raw(lambda lines: [{**lines[0], "catalogue_digest": "0123"}, *lines[1:]])
    report = _report(path, synthetic_catalogue)
    assert report["run"]["catalogue"]["matches"] is False
    assert any("catalogue changed since the run" in w for w in report["warnings"])


def test_result_files_join_only_from_the_same_commit(
        tmp_path: Path, raw_file: Path, synthetic_catalogue: Catalogue) -> None:
    (tmp_path / "bench.json").write_text(json.dumps({"commit": "c0ffee", "rate": 5}))
    (tmp_path / "stress.json").write_text(json.dumps({"commit": "deadbeef", "held": True}))
    (tmp_path / "model.json").write_text("[1, 2")
    found = extras.collect(tmp_path, "c0ffee")
    assert [(x.file, x.merged) for x in found] == [
        ("bench.json", True), ("stress.json", False), ("model.json", False)]
    report = _report(raw_file, synthetic_catalogue, found)
    assert report["sections"]["bench"]["figures"][0]["data"]["rate"] == 5
    assert report["sections"]["load"]["figures"] == []
    assert "deadbeef" in report["run"]["extras"][1]["reason"]
    assert extras.collect(tmp_path, None)[0].merged is False  # unknown commit: never merged


def test_model_highlights_tolerate_any_layout() -> None:
    from reports.sections import highlights

    found = highlights([{"steps": "many", "rules": {"map": 3}, "failures": ["x\ny", 5]},
                        {"sequences": 2, "steps": 10, "disagreements": "none"}])
    assert found == {"sequences": 2, "steps": 10, "rules_covered": ["map"],
                     "disagreements": [{"summary": "x", "snippet": "x\ny"}]}


def test_build_command_writes_every_format(tmp_path: Path, raw_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    status = main(["build", "--raw", str(raw_file), "--out", str(out),
                   "--catalogue", str(tmp_path / "catalogue")])
    printed = capsys.readouterr().out.splitlines()
    assert status == 0
    assert printed[:3] == [str(out / n) for n in ("report.json", "report.md", "report.html")]
    assert printed[3].startswith("mmapcheck: 11 claims: ")
    _validate(json.loads((out / "report.json").read_text()))


def test_build_without_a_run_is_one_line_of_advice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["build", "--raw", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "tox -e report" in err


def test_the_real_catalogue_builds_a_valid_report(tmp_path: Path) -> None:
    real = catalogue_module.default()
    lines = records(real)
    path = write_raw(tmp_path / "results.jsonl", [lines[0], lines[1], lines[-1]])
    report = build.build(raw.read(path), real, [], generated=GENERATED)
    _validate(report)
    assert len(report["entries"]) == len(real.entries)
    verdicts = {r["verdict"] for e in report["entries"] for r in e["results"]}
    assert verdicts <= {"skipped", "untestable"}
