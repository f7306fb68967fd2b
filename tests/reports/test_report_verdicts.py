"""The verdict rules: every rule of DESIGN.md gives its verdict, and only its verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_samples import EXPECTED

from helpers.catalogue import Catalogue
from reports import raw
from reports.raw import Case, Check
from reports.verdicts import (
    CLAIM_VERDICTS,
    MARKERS,
    POSIX_VERDICTS,
    SPEC_VERDICTS,
    Verdict,
    judge,
)


@pytest.fixture
def judged(raw_file: Path, synthetic_catalogue: Catalogue) -> dict[str, tuple[str, str]]:
    """Return entry id -> (verdict, reason) for the synthetic run."""
    run = raw.read(raw_file)
    return {
        entry.id: (j.verdict.value, j.reason)
        for entry in synthetic_catalogue.entries.values()
        for j in [judge(entry, run.checks)]
    }


@pytest.mark.parametrize("entry_id", sorted(EXPECTED))
def test_each_rule_gives_its_verdict(judged: dict[str, tuple[str, str]], entry_id: str) -> None:
    verdict, reason = judged[entry_id]
    assert verdict == EXPECTED[entry_id], f"{entry_id}: {reason}"
    assert reason, f"{entry_id} has a verdict without a reason"


def test_reasons_name_what_decided(judged: dict[str, tuple[str, str]]) -> None:
    assert judged["doc-a.conditional"][1] == "all 1 predicted cases matched"
    assert "size=0" in judged["doc-a.refuted"][1] and "SIGBUS" in judged["doc-a.refuted"][1]
    assert judged["doc-b.not-run"][1] == "not run"
    assert judged["doc-b.untestable"][1] == "untestable: no experiment can observe intent"
    assert "ENOSPC" in judged["doc-b.broken"][1]
    assert "fork server died" in judged["doc-b.probe-broken"][1]
    assert judged["doc-b.no-prediction"][1] == "the check recorded no prediction"
    assert "MS_INVALIDATE" in judged["model.known"][1]
    # Both reasons of the two skipped checks are kept, the unsupported one first.
    assert judged["doc-b.unsupported"][1] == "unsupported here: no hugetlbfs mounted; needs root"


def _check(cases: list[Case], layer: str | None = "libc") -> Check:
    return Check("t.py::test_x", "local", ("doc-a.refuted",), layer, "passed", cases=tuple(cases))


def _case(label: str, matched: bool | None, layer: str | None, central: bool = True) -> Case:
    return Case("doc-a.refuted", label, layer, "EINVAL", "EINVAL", matched, central, {})


def test_layers_are_judged_apart(synthetic_catalogue: Catalogue) -> None:
    entry = synthetic_catalogue["doc-a.refuted"]
    check = _check([_case("a", True, None), _case("b", False, "pymmap")])
    assert judge(entry, [check]).verdict is Verdict.REFUTED
    assert judge(entry, [check], "libc").verdict is Verdict.CONFIRMED  # case a takes the check's
    assert judge(entry, [check], "pymmap").verdict is Verdict.REFUTED


def test_a_layer_without_cases_of_the_entry_was_not_run(synthetic_catalogue: Catalogue) -> None:
    entry = synthetic_catalogue["doc-a.refuted"]
    judgement = judge(entry, [_check([_case("a", True, "libc")])], "pymmap")
    assert (judgement.verdict, judgement.reason) == (Verdict.SKIPPED, "not run in the pymmap layer")


def test_a_failed_check_does_not_change_a_claim_verdict(synthetic_catalogue: Catalogue) -> None:
    entry = synthetic_catalogue["doc-a.refuted"]
    check = Check("t.py::test_x", "local", (entry.id,), "libc", "failed",
                  cases=(_case("a", True, "libc"),))
    assert judge(entry, [check]).verdict is Verdict.CONFIRMED


def test_cases_of_other_claims_are_not_counted(synthetic_catalogue: Catalogue) -> None:
    entry = synthetic_catalogue["doc-a.confirmed"]
    check = Check("t.py::test_x", "local", (entry.id,), "libc", "passed",
                  cases=(_case("a", False, "libc"),))  # a case of doc-a.refuted only
    assert judge(entry, [check]).verdict is Verdict.ERROR


def test_verdicts_are_published_strings() -> None:
    assert Verdict("known-deviation") is Verdict.KNOWN_DEVIATION
    assert str(Verdict.CONFIRMED) == "confirmed" and f"{Verdict.REFUTED}" == "refuted"
    assert repr(Verdict.QUALIFIED) == "Verdict.QUALIFIED"
    assert set(CLAIM_VERDICTS) | set(SPEC_VERDICTS) | set(POSIX_VERDICTS) == set(Verdict) \
        == set(MARKERS)
    assert all(marker.isascii() and marker.strip() for marker in MARKERS.values())


def _many(outcome: str, implicated: tuple[str, ...] | None, name: str = "shard1") -> Check:
    return Check(f"t.py::test_rules[{name}]", "local", ("fault.survives", "fault.breaks"), None,
                 outcome, longrepr="E   Disagreement: mmap accepted offset 2048",
                 implicated=implicated)


def test_a_check_of_many_entries_fails_only_those_it_implicates(
        synthetic_catalogue: Catalogue) -> None:
    broken, other = synthetic_catalogue["fault.breaks"], synthetic_catalogue["fault.survives"]
    stopped = _many("failed", ("fault.breaks",))
    finished = _many("passed", None, "shard2")
    assert judge(broken, [stopped, finished]).verdict is Verdict.DEVIATES
    assert judge(other, [stopped, finished]).verdict is Verdict.CONFORMS
    # Without another check that finished, nothing is known of the other entry.
    alone = judge(other, [stopped])
    assert alone.verdict is Verdict.INCONCLUSIVE and "fault.breaks" in alone.reason
    # A failure that names nothing speaks of every entry, as before.
    assert judge(other, [_many("failed", None)]).verdict is Verdict.DEVIATES


def test_the_entries_a_failure_implicates_survive_the_raw_file(make_raw) -> None:
    def narrow(lines: list[dict]) -> list[dict]:
        for line in lines:
            if line.get("nodeid", "").endswith("test_breaks"):
                line["implicated"] = ["fault.breaks"]
        return lines

    run = raw.read(make_raw(narrow))
    found = {c.nodeid.rsplit("::", 1)[1]: c for c in run.checks}
    assert found["test_breaks"].implicated == ("fault.breaks",)
    assert found["test_known"].implicated is None
