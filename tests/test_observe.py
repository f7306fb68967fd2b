"""Self-tests of the observation functions, and that no check builds an observation elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import observe
from helpers.isolate.outcome import Outcome, OutcomeKind
from helpers.probes import selftest

ROOT = Path(__file__).resolve().parent.parent

RETURNED = Outcome(OutcomeKind.RETURNED, target="t", value={"a": b"xy".hex(), "b": "7879",
                                                             "n": {"k": 3}})
BUS = Outcome(OutcomeKind.SIGNALLED, target="t", signal="SIGBUS", si_code="BUS_ADRERR")
EINVAL = Outcome(OutcomeKind.RAISED, target="t", errno="EINVAL", exception="OSError")


def test_the_constructor_refuses_anyone_but_the_module():
    with pytest.raises(TypeError, match=r"built only by the functions of helpers\.observe"):
        observe.Observation("SIGBUS", "literal")


@pytest.mark.parametrize(("outcome", "value"), [
    (RETURNED, "ok"), (BUS, "SIGBUS"), (EINVAL, "EINVAL"),
    (Outcome(OutcomeKind.TIMEOUT), "timeout"), (Outcome(OutcomeKind.EXITED, exit_code=3), "exit 3"),
    (Outcome(OutcomeKind.RAISED, exception="ValueError"), "ValueError"),
])
def test_result_names_how_the_probe_ended(outcome, value):
    assert observe.result(outcome).value == value


def test_signal_adds_the_si_code_only_when_the_kernel_gave_one():
    assert observe.signal(BUS).value == "SIGBUS/BUS_ADRERR"
    assert observe.signal(Outcome(OutcomeKind.SIGNALLED, signal="SIGSEGV")).value == "SIGSEGV"
    assert observe.signal(RETURNED).value == "ok"


def test_field_reads_nested_values_and_stands_in_for_missing_ones():
    assert observe.field(RETURNED, "n", "k").value == 3
    missing = observe.field(RETURNED, "nope")
    assert missing.value == "no field:nope" and missing.how.startswith(observe.STAND_IN)
    died = observe.field(BUS, "a")
    assert died.value == "SIGBUS" and died.how.startswith(observe.STAND_IN)


def test_succeeded_never_takes_a_crash_for_a_failure():
    assert observe.succeeded(RETURNED).value is True
    assert observe.succeeded(EINVAL).value is False
    assert observe.succeeded(BUS).value == "SIGBUS"


def test_compare_of_stand_ins_is_never_equal():
    assert observe.compare(observe.field(RETURNED, "a"), observe.field(RETURNED, "b")).value
    # Two fields of a probe that died both stand in as "SIGBUS": not a match.
    assert observe.compare(observe.field(BUS, "a"), observe.field(BUS, "b")).value == "SIGBUS"
    assert observe.compare(observe.field(RETURNED, "x"), observe.field(RETURNED, "y")).value \
        == "no field:x"
    assert observe.same(BUS, "a", "b").value == "SIGBUS"


def test_classify_renames_values_but_never_a_stand_in():
    assert observe.classify(observe.result(RETURNED), {"ok": "maps"}).value == "maps"
    assert observe.classify(observe.field(BUS, "a"), {"SIGBUS": "fine"}).value == "SIGBUS"


def test_happened_and_median_count_what_returned():
    hit = Outcome(OutcomeKind.RETURNED, value={"lost": 2, "t": 1.0})
    miss = Outcome(OutcomeKind.RETURNED, value={"lost": 0, "t": 3.0})
    seen = observe.happened([miss, hit, BUS], "lost")
    assert seen.value is True and seen.evidence == {"trials": 2, "hits": 1, "failed_trials": 1}
    assert observe.happened([miss, miss], "lost").value is False
    assert observe.median([hit, miss], "t").value == 2.0
    assert observe.median([BUS], "t").value == "SIGBUS"


def test_faster_decides_outside_the_margin_and_is_undecided_inside():
    fast, slow = [1.0, 1.01, 0.99, 1.0, 1.02], [2.0, 2.01, 1.99, 2.0, 2.02]
    assert observe.faster(fast, slow, margin=0.1).value is True
    assert observe.faster(slow, fast, margin=0.1).value is False
    close = observe.faster([1.0, 1.2, 0.9, 1.1, 1.0], [1.1, 1.0, 1.2, 1.05, 1.15], margin=0.1)
    assert close.status is observe.Status.UNDECIDED and "straddles" in close.reason
    assert observe.faster([1.0], [2.0], margin=0.1).status is observe.Status.UNDECIDED
    assert "unpaired" in observe.faster([1.0] * 4, [2.0] * 5, margin=0.1).reason


def test_faster_pairs_each_run_so_a_phase_that_slows_both_sides_divides_out():
    # Half the runs in a phase twice as slow: resampled apart, either side's median jumps between
    # the phases and a ratio of medians spans far across the margin; paired, every run's is 1.25.
    fast = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    slow = [1.25 * f for f in fast]
    seen = observe.faster(fast, slow, margin=0.1)
    assert seen.value is True and seen.evidence["interval"] == [1.25, 1.25]


def test_faster_is_undecided_when_rounds_fall_on_both_sides_of_the_margin():
    # Each round is tight, one above the margin and one below it: pooled, the many runs would
    # give a narrow interval around the middle; round by round it spans both.
    fast = [1.0] * 14
    slow = [1.18] * 7 + [1.04] * 7
    seen = observe.faster(fast, slow, margin=0.1, rounds=[7, 7])
    assert seen.status is observe.Status.UNDECIDED, seen
    assert seen.evidence["round_ratios"] == [1.18, 1.04]
    assert seen.evidence["interval"] == [1.04, 1.18]
    agreeing = observe.faster(fast, [1.18] * 7 + [1.15] * 7, margin=0.1, rounds=[7, 7])
    assert agreeing.value is True
    assert "add up" in observe.faster(fast, slow, margin=0.1, rounds=[7, 6]).reason


def test_unobservable_and_undecided_carry_their_reason():
    assert observe.unobservable("tmpfs has no writeback").to_dict() == {
        "status": "unobservable", "how": "unobservable", "observed": None,
        "reason": "tmpfs has no writeback"}
    assert observe.undecided("the race did not show").status is observe.Status.UNDECIDED


def test_access_takes_an_errno_for_a_setup_that_failed_never_for_the_access():
    refused = observe.access(EINVAL, "the guard layout")
    assert refused.status is observe.Status.UNOBSERVABLE
    assert refused.to_dict()["reason"] == ("the guard layout could not be set up: "
                                           "it failed with EINVAL")
    assert observe.access(BUS, "the guard layout").value == "SIGBUS"
    assert observe.access(RETURNED, "the guard layout").value == "ok"


REFUSED = Outcome(OutcomeKind.RAISED, target="t", exception="SetupRefused",
                  message="cannot become uid 65534: setresgid failed with EINVAL")


@pytest.mark.parametrize("view", [
    observe.result, observe.succeeded, observe.signal,
    lambda outcome: observe.field(outcome, "mmap"), lambda outcome: observe.note(outcome, "k"),
])
def test_a_refused_setup_is_unobservable_never_the_result_of_the_call(view):
    seen = view(REFUSED)
    assert seen.status is observe.Status.UNOBSERVABLE and seen.value is None
    assert seen.reason == "cannot become uid 65534: setresgid failed with EINVAL"


def test_a_field_whose_step_was_refused_is_unobservable_and_the_others_observed():
    outcome = Outcome(OutcomeKind.RETURNED, target="t", value=selftest.refused_step(
        "cannot become uid 65534: setgroups failed with EPERM"))
    refused = observe.field(outcome, "refused")
    assert refused.status is observe.Status.UNOBSERVABLE
    assert refused.reason == "cannot become uid 65534: setgroups failed with EPERM"
    assert observe.field(outcome, "ran").value == "EACCES"


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_no_check_or_probe_builds_an_observation_or_records_a_literal():
    """Observations come only from helpers.observe, and checks record only through observe()."""
    problems = []
    for path in _python_files("conformance", "helpers", "fixtures"):
        if path == ROOT / "helpers" / "observe.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative = path.relative_to(ROOT)  # once per file: per node it took half a minute
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("Observation", "_make"):
                    problems.append(f"{where}: builds an Observation directly")
                if name == "record" and isinstance(func, ast.Attribute) and \
                        getattr(func.value, "id", "") == "prediction":
                    problems.append(f"{where}: prediction.record() takes literals; use observe()")
            if isinstance(node, ast.Attribute) and node.attr in ("_TOKEN", "_make"):
                problems.append(f"{where}: reaches into helpers.observe's private builder")
    assert problems == []


def test_every_testable_claim_and_spec_entry_declares_its_cases():
    """The report judges from declared cases alone: an entry without them could not be judged."""
    from helpers import catalogue

    bare = [e.id for e in catalogue.load().entries.values()
            if e.kind in ("claim", "spec") and not e.cases and not e.untestable]
    assert bare == []
