"""The verdict rules for entries that declare their cases: a table of small runs -> verdict.

Each row is a tiny run (a few checks with their observations) of one claim
or spec entry whose cases are declared below, on a platform with known
facts; the row names the verdict the rules of ``reports/verdicts.py`` give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.catalogue import Catalogue, load
from reports import build, facts, raw, validate
from reports.raw import Case, Check
from reports.verdicts import Verdict, judge

CATALOGUE = """
[[entry]]
id = "doc.empty-file"
kind = "claim"
source = { document = "doc", section = "s" }
statement = "An empty file maps, and touching it raises SIGBUS."
rule = "mmap(2)"
prediction = "SIGBUS on the first touch."
layers = ["libc", "pymmap"]

[[entry.case]]
id = "touch"
predicted = "SIGBUS"

[[entry.case]]
id = "length"
predicted = { one_of = ["ok", "EINVAL"] }

[[entry.case]]
id = "pymmap-refuses"
predicted = "SIGBUS"
central = false
condition = "Python's mmap refuses an empty file before mapping"
when = "layer == pymmap"

[[entry.case]]
id = "tmpfs-only"
predicted = "ok"
central = false
condition = "tmpfs has no writeback"
when = "scratch_fs == tmpfs"

[[entry.case]]
id = "anywhere"
predicted = "ok"
central = false
condition = "some libraries round the length up"

[[entry.case]]
id = "unnamed"
predicted = "ok"
central = false

[[entry]]
id = "doc.hidden"
kind = "claim"
source = { document = "doc", section = "s" }
statement = "Intent."
rule = "none"
prediction = "It was meant."
untestable = "a statement about the author's intent (no experiment sees it)"

[[entry.case]]
id = "x"
predicted = "ok"

[[entry]]
id = "spec.mmap-einval"
kind = "spec"
source = { posix = "mmap", section = "ERRORS" }
statement = "EINVAL for an unaligned offset."
rule = "POSIX mmap ERRORS"

[[entry.case]]
id = "unaligned"
predicted = "EINVAL"

[[entry.case]]
id = "huge-length"
predicted = "ENOMEM"
central = false
condition = "a 32-bit address space"
when = "arch in [i686, armv7l]"
"""

EXT4 = {"layer": None, "scratch_fs": "ext4", "shm_fs": "tmpfs", "page_size": 4096,
        "kernel": "6.1.0", "arch": "x86_64", "privileged": True}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """Return the small catalogue above."""
    directory: Path = tmp_path_factory.mktemp("catalogue")
    (directory / "documents.toml").write_text(
        '[[document]]\nkey = "doc"\nfile = "doc.txt"\ntitle = "Doc"\n')
    (directory / "doc.toml").write_text(CATALOGUE)
    return load(directory)


def obs(case: str, observed: Any = None, *, status: str = "observed", layer: str = "libc",
        reason: str = "", claim: str = "doc.empty-file", instance: str | None = None) -> Case:
    """Return an observation record as ``prediction.observe`` writes it."""
    return Case(claim, case, layer, None, observed, None, False, {}, status, instance,
                "result", reason)


def run(*cases: Case, outcome: str = "passed", probes: tuple[dict[str, Any], ...] = (),
        claim: str = "doc.empty-file") -> Check:
    """Return one check record holding ``cases``."""
    return Check("conformance/t.py::test_x", "local", (claim,), "libc", outcome,
                 cases=cases, probes=probes, longrepr="E   AssertionError: contract")


CENTRAL_OK = (obs("touch", "SIGBUS"), obs("length", "EINVAL"))
BROKEN_PROBE = ({"kind": "error", "target": "map_file", "message": "fork server died"},)

#: (name, checks, platform facts, verdict, words the reason holds)
TABLE = [
    ("all matched", [run(*CENTRAL_OK, obs("tmpfs-only", "ok"))], EXT4,
     Verdict.CONFIRMED, "all 3 observed cases matched"),
    ("one_of matches either", [run(obs("touch", "SIGBUS"), obs("length", "ok"))], EXT4,
     Verdict.CONFIRMED, ""),
    ("central differed", [run(obs("touch", "ok"), obs("length", "EINVAL"))], EXT4,
     Verdict.REFUTED, "central case differed"),
    ("central differed in one instance", [run(obs("touch", "SIGBUS", instance="a"),
                                              obs("touch", "ok", instance="b"),
                                              obs("length", "ok"))], EXT4,
     Verdict.REFUTED, "touch[b]"),
    ("a failed check that observed is judged on its observations",
     [run(obs("touch", "ok"), obs("length", "ok"), outcome="failed")], EXT4,
     Verdict.REFUTED, "observed ok"),
    ("side differed, its when holds (layer)",
     [run(*CENTRAL_OK, obs("pymmap-refuses", "ValueError", layer="pymmap"))], EXT4,
     Verdict.QUALIFIED, "not where Python's mmap refuses"),
    ("side differed, its when does not hold",
     [run(*CENTRAL_OK, obs("pymmap-refuses", "ValueError", layer="libc"))], EXT4,
     Verdict.REFUTED, "no named condition explains it"),
    ("side differed, its when names an unknown fact",
     [run(*CENTRAL_OK, obs("tmpfs-only", "EIO"))], {**EXT4, "scratch_fs": None},
     Verdict.REFUTED, "no named condition explains it"),
    ("side differed, its when holds (filesystem)",
     [run(*CENTRAL_OK, obs("tmpfs-only", "EIO"))], {**EXT4, "scratch_fs": "tmpfs"},
     Verdict.QUALIFIED, "not where tmpfs has no writeback"),
    ("side differed, a condition without when always explains",
     [run(*CENTRAL_OK, obs("anywhere", "EINVAL"))], EXT4, Verdict.QUALIFIED, "holds where"),
    ("side differed, no condition at all",
     [run(*CENTRAL_OK, obs("unnamed", "EINVAL"))], EXT4, Verdict.REFUTED, "unnamed"),
    ("central unobservable", [run(obs("touch", status="unobservable", reason="no writeback"),
                                  obs("length", "ok"))], EXT4,
     Verdict.UNSUPPORTED, "no writeback"),
    ("central undecided", [run(obs("touch", status="undecided", reason="race did not show"),
                               obs("length", "ok"))], EXT4,
     Verdict.INCONCLUSIVE, "race did not show"),
    ("side undecided does not decide", [run(*CENTRAL_OK, obs("tmpfs-only", status="undecided",
                                                             reason="noise"))], EXT4,
     Verdict.CONFIRMED, "side case tmpfs-only (libc) undecided: noise"),
    ("machinery broke before a central case", [run(obs("tmpfs-only", "ok"), outcome="error")],
     EXT4, Verdict.ERROR, "the check broke"),
    ("a probe that could not run, before a central case",
     [run(obs("tmpfs-only", "ok"), probes=BROKEN_PROBE, outcome="failed")], EXT4,
     Verdict.ERROR, "fork server died"),
    ("machinery broke after a central case was observed",
     [run(*CENTRAL_OK, probes=BROKEN_PROBE, outcome="failed")], EXT4, Verdict.CONFIRMED, ""),
    ("a central case never observed while checks ran",
     [run(obs("touch", "SIGBUS"), outcome="failed")], EXT4, Verdict.ERROR,
     "central case length was never observed"),
    ("every check skipped", [Check("t.py::test_x", "local", ("doc.empty-file",), "libc",
                                   "skipped")], EXT4, Verdict.SKIPPED, "skipped"),
    ("not run", [], EXT4, Verdict.SKIPPED, "not run"),
]


@pytest.mark.parametrize(("checks", "platform", "verdict", "words"),
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_rule(catalogue: Catalogue, checks: list[Check], platform: dict[str, Any],
              verdict: Verdict, words: str) -> None:
    judgement = judge(catalogue["doc.empty-file"], checks, facts=platform)
    assert judgement.verdict is verdict, judgement.reason
    assert words in judgement.reason


def test_a_refuted_verdict_attaches_the_platform_facts(catalogue: Catalogue) -> None:
    checks = [run(*CENTRAL_OK, obs("pymmap-refuses", "ValueError", layer="libc"))]
    judgement = judge(catalogue["doc.empty-file"], checks, facts=EXT4)
    assert judgement.facts == {**EXT4, "layer": "libc"}
    assert "scratch_fs=ext4" in judgement.reason


def test_a_qualified_verdict_names_its_conditions(catalogue: Catalogue) -> None:
    checks = [run(*CENTRAL_OK, obs("pymmap-refuses", "ValueError", layer="pymmap"))]
    judgement = judge(catalogue["doc.empty-file"], checks, facts=EXT4)
    assert judgement.conditions == ({"case": "pymmap-refuses", "when": "layer == pymmap",
                                     "condition": "Python's mmap refuses an empty file before "
                                     "mapping"},)
    assert judgement.holds.startswith("holds where touch, length, not where Python's mmap")
    explained = [c for c in judgement.cases if c.explained]
    assert [c.case for c in explained] == ["pymmap-refuses"]


def test_layers_are_judged_apart(catalogue: Catalogue) -> None:
    checks = [run(*CENTRAL_OK, obs("touch", "SIGBUS", layer="pymmap"),
                  obs("length", "ValueError", layer="pymmap"))]
    entry = catalogue["doc.empty-file"]
    assert judge(entry, checks, "libc", EXT4).verdict is Verdict.CONFIRMED
    assert judge(entry, checks, "pymmap", EXT4).verdict is Verdict.REFUTED
    assert judge(entry, checks, facts=EXT4).verdict is Verdict.REFUTED


def test_an_untestable_entry_is_untestable_with_its_reason(catalogue: Catalogue) -> None:
    judgement = judge(catalogue["doc.hidden"], [])
    assert judgement.verdict is Verdict.UNTESTABLE
    assert "author's intent" in judgement.reason


SPEC = "spec.mmap-einval"


@pytest.mark.parametrize(("checks", "platform", "verdict"), [
    ([run(obs("unaligned", "EINVAL", claim=SPEC), claim=SPEC)], EXT4, Verdict.CONFORMS),
    ([run(obs("unaligned", "ok", claim=SPEC), claim=SPEC)], EXT4, Verdict.DIFFERS),
    ([run(obs("unaligned", "EINVAL", claim=SPEC), obs("huge-length", "ok", claim=SPEC),
          claim=SPEC)], EXT4, Verdict.DIFFERS),
    ([run(obs("unaligned", "EINVAL", claim=SPEC), obs("huge-length", "ok", claim=SPEC),
          claim=SPEC)], {**EXT4, "arch": "i686"}, Verdict.DIFFERS),
    ([run(obs("unaligned", "ok", claim=SPEC), outcome="xfailed", claim=SPEC)], EXT4,
     Verdict.KNOWN_DEVIATION),
    ([run(obs("unaligned", status="unobservable", reason="no such call", claim=SPEC),
          claim=SPEC)], EXT4, Verdict.UNSUPPORTED),
], ids=["conforms", "central differs", "side differs unexplained", "side differs explained",
        "strict xfail", "unobservable"])
def test_spec_rule(catalogue: Catalogue, checks: list[Check], platform: dict[str, Any],
                   verdict: Verdict) -> None:
    assert judge(catalogue[SPEC], checks, facts=platform).verdict is verdict


def test_an_explained_spec_difference_carries_its_condition(catalogue: Catalogue) -> None:
    checks = [run(obs("unaligned", "EINVAL", claim=SPEC), obs("huge-length", "ok", claim=SPEC),
                  claim=SPEC)]
    judgement = judge(catalogue[SPEC], checks, facts={**EXT4, "arch": "i686"})
    assert [c["case"] for c in judgement.conditions] == ["huge-length"]
    assert "32-bit address space" in judgement.reason


def test_facts_come_from_the_fingerprint_and_unknown_stays_unknown() -> None:
    found = facts.of({"kernel_release": "6.1.0", "machine": "x86_64", "page_size": 4096,
                      "filesystems": {"/tmp": "ext4", "/dev/shm": "tmpfs"}}, "pymmap")
    assert found["shm_fs"] == "tmpfs" and found["kernel"] == "6.1.0"
    assert found["layer"] == "pymmap"
    assert found["scratch_fs"] is None and found["privileged"] is None
    assert facts.of(None)["page_size"] is None


def test_platforms_that_split_are_qualified_by_the_facts_that_separate_them() -> None:
    new = {**EXT4, "kernel": "6.1.0"}
    old = {**EXT4, "kernel": "5.4.0"}
    across = facts.across([("confirmed", new, "p1"), ("refuted", old, "p2")])
    assert across is not None and across["verdict"] == "qualified"
    assert across["holds"] == "holds where kernel == 6.1.0, not where kernel == 5.4.0"
    assert facts.across([("confirmed", new, "p1"), ("confirmed", old, "p2")]) is None
    same = facts.across([("confirmed", new, "p1"), ("refuted", new, "p2")])
    assert same is not None and "no recorded platform fact separates them" in same["holds"]
    unknown = facts.across([("confirmed", new, "p1"), ("refuted", {**old, "kernel": None},
                                                      "p2")])
    assert unknown is not None and unknown["conditions"] == []


def _observation_run(tmp_path: Path, fingerprints: list[dict[str, Any]],
                     observed: list[str]) -> Path:
    """Write a raw-2 file: one platform per fingerprint, each observing ``touch`` as given."""
    lines: list[dict[str, Any]] = [{
        "type": "run", "format": "mmapcheck-raw", "version": 2, "run_id": "r", "commit": "c",
        "dirty": False, "catalogue_digest": "x", "command": ["pytest"], "started": "t",
        "hypothesis_seed": None, "dist": "each", "workers": len(fingerprints)}]
    for n, (fingerprint, value) in enumerate(zip(fingerprints, observed, strict=True)):
        lines.append({"type": "platform", "key": f"gw{n}", "gateway": None,
                      "fingerprint": fingerprint})
        cases = [{"claim": "doc.empty-file", "case": case, "instance": None, "layer": "libc",
                  "status": "observed", "how": "signal", "observed": seen,
                  "evidence": {"probe": "touch"}}
                 for case, seen in (("touch", value), ("length", "ok"))]
        lines.append({"type": "check", "nodeid": "conformance/t.py::test_x",
                      "platform": f"gw{n}", "claims": ["doc.empty-file"], "layer": "libc",
                      "outcome": "passed", "skip": None, "duration_s": 0.1, "longrepr": None,
                      "known_deviation": None, "cases": cases, "probes": []})
    lines.append({"type": "end", "finished": "t", "exitstatus": 0, "duration_s": 1.0,
                  "counts": {}})
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_report_of_observations_is_valid_report_2_and_split_across_platforms(
        tmp_path: Path, catalogue: Catalogue) -> None:
    new = {"kernel_release": "6.1.0", "machine": "x86_64", "page_size": 4096}
    old = {**new, "kernel_release": "5.4.0"}
    path = _observation_run(tmp_path, [new, old], ["SIGBUS", "ok"])
    report = build.build(raw.read(path), catalogue, [], generated="2025-01-01T00:00:00Z")
    assert validate.report_error(report) is None
    entry = next(e for e in report["entries"] if e["id"] == "doc.empty-file")
    assert [r["verdict"] for r in entry["results"]] == ["confirmed", "refuted"]
    assert entry["results"][1]["facts"]["kernel"] == "5.4.0"
    assert entry["across"]["holds"] == "holds where kernel == 6.1.0, not where kernel == 5.4.0"
    assert entry["rerun"] == "python -m pytest conformance --mmapcheck-claim doc.empty-file"
    row = entry["results"][1]["cases"][0]
    assert (row["case"], row["predicted"], row["observed"], row["matched"], row["central"]) \
        == ("touch", "SIGBUS", "ok", False, True)


def test_findings_show_cases_where_they_hold_and_the_rerun_command(
        tmp_path: Path, catalogue: Catalogue) -> None:
    from reports import render_html, render_md

    fingerprints = [{"kernel_release": "6.1.0"}, {"kernel_release": "5.4.0"}]
    report = build.build(raw.read(_observation_run(tmp_path, fingerprints, ["SIGBUS", "ok"])),
                         catalogue, [], generated="2025-01-01T00:00:00Z")
    rerun = "python -m pytest conformance --mmapcheck-claim doc.empty-file"
    markdown = render_md.render(report)
    assert f"- rerun: `{rerun}`" in markdown
    assert "| touch | libc | SIGBUS | ok | no | yes |  |" in markdown
    assert "holds where kernel == 6.1.0, not where kernel == 5.4.0" in markdown
    page = render_html.render(report)
    assert rerun in page and "<table class=\"cases\">" in page
    assert "<td>touch</td><td>libc</td><td>SIGBUS</td><td>ok</td><td>no</td>" in page
