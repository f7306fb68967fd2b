"""Self-test: on a deliberately wrong platform the checks fail and verdicts flip.

A few real checks run in a pytest run of their own, once on this platform
and once under a platform mutant (``helpers/mutants``: a C library preloaded
into the whole run, so both layers see it), and the report builder judges
the raw results.  A suite whose checks passed and whose verdicts stayed put
here would be checking nothing; one whose verdicts moved under a mutant
that changes nothing the document predicts would be judging noise.  The
full family runs with ``tox -e mutants``; without a C compiler the runs
here are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import catalogue
from helpers.mutants import SOURCES, Family, Mutant, build, load, run, score
from reports import extras

OFFSET = "memmap-ipc.offset-multiple-of-4k"
MUNMAP = "webserver-mmap.munmap-after-increment-fails"
OFFSETS = "conformance/test_offsets.py::test_offset_maps_only_at_page_multiples"
UNALIGNED_MUNMAP = "conformance/test_lifetime.py::test_munmap_needs_page_aligned_address"
#: The POSIX entry whose errno the control mutant changes: POSIX and munmap(2) both say EINVAL.
SPEC = "spec.munmap-addr-alignment"
SPEC_CHECK = ("conformance/test_spec_munmap.py::test_munmap_assertion"
              "[munmap-addr-alignment/unaligned-addr]")
SELECTION = (OFFSETS, UNALIGNED_MUNMAP, SPEC_CHECK)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Return a function giving the judged run of SELECTION under a mutant (None: unmutated)."""
    family = load()
    scratch = tmp_path_factory.mktemp("mutants")
    done: dict[str | None, run.Run] = {}

    def judged(mutant_id: str | None) -> run.Run:
        if mutant_id not in done:
            library = None
            if mutant_id is not None:
                try:
                    library = build.build([family.get(mutant_id)], scratch)[mutant_id]
                except build.CannotBuild as exc:
                    pytest.skip(str(exc))
                assert run.loaded(library) == mutant_id
            done[mutant_id] = run.checks(mutant_id or "unmutated",
                                         scratch / f"{mutant_id}.jsonl", preload=library,
                                         selection=SELECTION, workers=0)
        assert not done[mutant_id].problem, done[mutant_id].problem
        return done[mutant_id]

    return judged


def test_the_real_platform_is_the_baseline(runs):
    baseline = runs(None)
    assert (baseline.status, baseline.failed) == (0, frozenset())
    assert baseline.verdicts[OFFSET] in score.HOLDS
    assert baseline.verdicts[MUNMAP] in score.HOLDS
    assert baseline.verdicts[SPEC] == "conforms"


def test_accepting_unaligned_offsets_fails_checks_and_refutes_the_claim(runs):
    mutated = runs("offset-rounded")
    assert mutated.status == 1
    assert {f"{OFFSETS}[1]", f"{OFFSETS}[1000]"} <= mutated.failed
    assert f"{OFFSETS}[4096]" not in mutated.failed
    assert mutated.verdicts[OFFSET] == "refuted"
    assert score.flipped(runs(None).verdicts[OFFSET], mutated.verdicts[OFFSET])


def test_wrong_errno_fails_the_check_but_not_the_claim(runs):
    # The document only says munmap(ptr + 1) fails; the errno is the man page's.
    mutated = runs("munmap-wrong-errno")
    assert mutated.status == 1
    assert any(n.startswith(f"{UNALIGNED_MUNMAP}[1-") for n in mutated.failed)
    assert mutated.verdicts[MUNMAP] == runs(None).verdicts[MUNMAP]
    assert load().get("munmap-wrong-errno").control


def test_a_spec_verdict_follows_the_platform_as_claims_do(runs):
    # POSIX names the errno, so the same mutant that leaves the claim alone makes
    # the spec entry differ, and the check of the man page fails beside it.
    mutated = runs("munmap-wrong-errno")
    assert mutated.verdicts[SPEC] == "differs"
    assert SPEC_CHECK in mutated.failed


def test_every_mutant_names_claims_of_the_catalogue_and_has_a_source():
    family = load()
    claims = {e.id for e in catalogue.default().entries.values() if e.kind == "claim"}
    for mutant in family.mutants:
        assert set(mutant.targets) <= claims, mutant.id
        assert not (mutant.control and mutant.targets), mutant.id
    assert set(family.unprovable) <= claims
    sources = {p.stem for p in SOURCES.glob("*.c")}
    assert sources == {m.id for m in family.mutants}


def _run(verdicts: dict[str, str], label: str = "m", failed: frozenset[str] = frozenset()
         ) -> run.Run:
    checks = {entry: frozenset({f"t::{entry}"}) for entry in verdicts}
    return run.Run(label, 1, Path("raw.jsonl"), verdicts, failed, commit="c0ffee",
                   checks=checks)


def test_the_score_counts_flips_of_targets_of_real_mutants_only():
    real = Mutant("real", "breaks x", "x(2)", ("a.x", "a.z", "a.u"))
    control = Mutant("control", "breaks nothing predicted", "x(2)", (), control=True)
    family = Family((real, control), {"a.v": "a statement about history"})
    claims = {"a.x": None, "a.y": None, "a.z": None, "a.w": "needs a crash", "a.v": None,
              "a.u": None}
    baseline = _run({"a.x": "qualified", "a.y": "refuted", "a.z": "confirmed",
                     "a.w": "untestable", "a.v": "confirmed", "a.u": "confirmed"}, "unmutated")
    runs = {"real": _run({"a.x": "refuted", "a.y": "confirmed", "a.z": "error",
                          "a.w": "untestable", "a.v": "confirmed", "a.u": "confirmed"},
                         failed=frozenset({"t::a.x", "t::a.u"})),
            "control": _run({"a.x": "qualified", "a.y": "confirmed", "a.z": "confirmed",
                             "a.w": "untestable", "a.v": "refuted", "a.u": "confirmed"})}
    document = score.score(family, claims, baseline, runs)
    assert document["proven_claims"] == [{"claim": "a.x", "by": ["real"]}]
    assert (document["proven"], document["claim_entries"], document["score_percent"]) == \
        (1, 6, 16.7)
    assert document["errors"] == 1 and document["unstable_claims"] == ["a.v", "a.y"]
    row = document["mutants"][0]
    assert row["side_effects"] == ["a.y: refuted -> confirmed"]  # not a target: no proof
    assert row["errors"] == ["a.z: confirmed -> error"]
    reasons = {u["claim"]: u["reason"] for u in document["unproven"]}
    assert reasons["a.w"] == "untestable: needs a crash"
    assert reasons["a.v"] == "a statement about history"
    assert reasons["a.z"] == ("a mutant of its behaviour did not flip it: under real its "
                              "check broke instead of observing (error)")
    assert reasons["a.y"] == "no mutant changes the behaviour it predicts"
    assert "its checks failed but the verdict stayed confirmed" in reasons["a.u"]


def test_spec_entries_that_follow_a_real_mutant_are_counted_apart():
    family = Family((Mutant("real", "breaks x", "x(2)", ("a.x",)),
                     Mutant("control", "nothing", "x(2)", (), control=True)), {})
    baseline = _run({"a.x": "confirmed", "spec.p": "conforms", "spec.q": "conforms"},
                    "unmutated")
    runs = {"real": _run({"a.x": "refuted", "spec.p": "differs", "spec.q": "conforms"}),
            "control": _run({"a.x": "confirmed", "spec.p": "conforms", "spec.q": "differs"})}
    document = score.score(family, {"a.x": None}, baseline, runs, {"spec.p", "spec.q"})
    assert document["spec_flipped"] == [{"entry": "spec.p", "by": ["real"]}]
    assert document["spec_entries"] == 2 and document["proven"] == 1


def test_runs_of_another_commit_prove_nothing():
    family = Family((Mutant("real", "breaks x", "x(2)", ("a.x",)),), {})
    baseline = _run({"a.x": "confirmed"}, "unmutated")
    stale = run.Run("real", 1, Path("raw.jsonl"), {"a.x": "refuted"}, commit="deadbeef")
    document = score.score(family, {"a.x": None}, baseline, {"real": stale})
    assert document["proven"] == 0
    assert "commit deadbeef" in document["mutants"][0]["problem"]


def test_without_a_compiler_the_mutants_say_why(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler-anywhere")
    with pytest.raises(build.CannotBuild, match="no C compiler found"):
        build.build(load().mutants[:1], tmp_path)


def test_the_mutation_score_joins_the_report_of_the_same_commit(tmp_path):
    (tmp_path / "mutants.json").write_text(json.dumps({"commit": "c0ffee", "proven": 3}))
    found = {x.file: x for x in extras.collect(tmp_path, "c0ffee")}
    assert found["mutants.json"].merged
    assert found["mutants.json"].section == "mutation_score"
    assert not extras.collect(tmp_path, "deadbeef")[0].merged


def test_a_stopped_run_lets_its_workers_clean_up_and_leaves_no_process(tmp_path):
    # The "controller" forks a "worker" that cleans up on KeyboardInterrupt, as
    # fixtures do; both must see the interrupt, and nothing of the group survives.
    cleaned = tmp_path / "cleaned"
    ready = tmp_path / "ready"
    script = (
        "import os, pathlib, time\n"
        "if os.fork() == 0:\n"
        "    try:\n"
        f"        pathlib.Path({str(ready)!r}).touch()\n"
        "        time.sleep(60)\n"
        "    except KeyboardInterrupt:\n"
        f"        pathlib.Path({str(cleaned)!r}).touch()\n"
        "    os._exit(0)\n"
        "try:\n"
        "    os.wait()\n"
        "except KeyboardInterrupt:\n"
        "    os.wait()\n")
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    run.stop(process)
    assert cleaned.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
