"""Self-tests of the pytest plugin, each in a pytest run of its own (pytester)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import catalogue, names

ROOT = Path(__file__).resolve().parent.parent
# A claim any run can check, with declared cases: the self-tests must pass without root too.
CLAIM = next(e.id for e in catalogue.default().entries.values()
             if e.kind == "claim" and e.cases and not e.needs)
CASE = catalogue.default()[CLAIM].cases[0]


@pytest.fixture
def run(pytester: pytest.Pytester):
    """Return ``run(source, *args) -> (result, raw records)`` for a test file in a fresh run."""

    def go(source: str, *args: str):
        pytester.makepyfile(test_sample=source)
        raw = pytester.path / "raw.jsonl"
        env_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        pytester._monkeypatch.setenv("PYTHONPATH", env_path)
        pytester._monkeypatch.delenv(names.OWNER_ENV, raising=False)
        result = pytester.runpytest_subprocess("-p", "fixtures.plugin", f"--mmapcheck-raw={raw}",
                                               "-p", "no:cacheprovider", *args, timeout=120)
        records = [json.loads(line) for line in raw.read_text().splitlines()] \
            if raw.exists() else []
        return result, records

    return go


def test_unknown_claim_fails_collection_with_a_suggestion(run):
    result, _ = run(f"""
import pytest
@pytest.mark.claim({CLAIM[:-1]!r})
def test_x(): pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*not in the catalogue; did you mean {CLAIM!r}?*"])


def test_unmet_need_is_unsupported_with_the_reason(run):
    result, records = run("""
import pytest
@pytest.mark.needs("dax")
def test_x(): pass
@pytest.mark.needs("dax", "root")
def test_y(): pass
""", "-rs")
    checks = [r for r in records if r["type"] == "check"]
    if not any("dax" in line for line in result.outlines if "SKIPPED" in line):
        pytest.skip("this machine has a DAX filesystem")
    assert {c["skip"]["kind"] for c in checks} == {"unsupported"}
    assert all("needs dax" in c["skip"]["reason"] for c in checks)


def test_a_probe_whose_setup_was_refused_ends_the_check_unsupported_with_the_reason(run):
    result, records = run(f"""
import pytest
from helpers.probes import selftest
@pytest.mark.claim({CLAIM!r})
def test_x(probe):
    probe(selftest.refuse_setup, "cannot become uid 65534: setresgid failed with EINVAL")
    raise AssertionError("a refused setup must end the check before it asserts anything")
""")
    assert result.ret == 0
    (check,) = [r for r in records if r["type"] == "check"]
    assert check["outcome"] == "skipped" and check["skip"]["kind"] == "unsupported"
    assert "setresgid failed with EINVAL" in check["skip"]["reason"]


def test_raw_results_hold_cases_probes_and_platform(run):
    result, records = run(f"""
import pytest
from helpers import observe
from helpers.probes import selftest
@pytest.mark.claim({CLAIM!r})
def test_x(probe, prediction):
    outcome = probe(selftest.echo, {CASE.predicted!r})
    prediction.observe({CASE.id!r}, observe.field(outcome, "args", 0), instance="echoed")
    prediction.observe({CASE.id!r}, observe.result(outcome), instance="how it ended")
""")
    assert result.ret == 0
    kinds = [r["type"] for r in records]
    assert kinds[0] == "run" and kinds[-1] == "end" and "platform" in kinds
    (check,) = [r for r in records if r["type"] == "check"]
    assert check["claims"] == [CLAIM] and check["outcome"] == "passed"
    assert [(c["case"], c["instance"], c["status"]) for c in check["cases"]] == [
        (CASE.id, "echoed", "observed"), (CASE.id, "how it ended", "observed")]
    assert [c["observed"] for c in check["cases"]] == [CASE.predicted, "ok"]
    assert check["probes"][0]["kind"] == "returned"


def test_results_survive_a_crashed_worker_and_keep_gateway_keys(run):
    _, records = run("""
import os, signal
def test_a(): pass
def test_b(): os.kill(os.getpid(), signal.SIGKILL)
def test_c(): pass
""", "-n", "1", "--max-worker-restart=1")
    checks = {r["nodeid"].split("::")[-1]: r for r in records if r["type"] == "check"}
    assert checks["test_a"]["outcome"] == "passed"
    assert checks["test_c"]["outcome"] == "passed"
    assert checks["test_b"]["outcome"] in ("failed", "error")
    platforms = [r for r in records if r["type"] == "platform"]
    assert platforms and all(p["key"].startswith("gw") for p in platforms)


def test_junit_carries_claim_ids_and_prediction_summary(run, pytester):
    junit = pytester.path / "junit.xml"
    run(f"""
import pytest
from helpers import observe
from helpers.probes import selftest
@pytest.mark.claim({CLAIM!r})
def test_x(probe, prediction):
    prediction.observe({CASE.id!r}, observe.result(probe(selftest.echo, 1)))
""", f"--junitxml={junit}")
    text = junit.read_text()
    assert f'name="claims" value="{CLAIM}"' in text
    assert 'name="predictions_matched" value="no"' in text


def test_run_that_leaves_a_file_behind_fails_and_the_file_is_removed(run, pytester):
    result, _ = run("""
import tempfile, os
from helpers import names
def test_leak():
    path = os.path.join(tempfile.gettempdir(), names.unique_name("leak"))
    open(path, "w").close()
    print("LEAKED", path)
""", "-s")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*the run left things behind*"])
    line = next(line for line in result.outlines if "LEAKED " in line)
    leaked = line.split("LEAKED ")[1].split()[0]
    assert names.NAME_PATTERN.match(os.path.basename(leaked))
    assert not os.path.exists(leaked)


def test_prediction_refuses_an_undeclared_claim(run):
    result, _ = run(f"""
import pytest
from helpers import observe
from helpers.probes import selftest
@pytest.mark.claim({CLAIM!r})
def test_other_claim(probe, prediction):
    prediction.observe({CASE.id!r}, observe.result(probe(selftest.echo)), claim="other.claim")
@pytest.mark.claim({CLAIM!r})
def test_undeclared_case(probe, prediction):
    prediction.observe("no-such-case", observe.result(probe(selftest.echo)))
@pytest.mark.claim({CLAIM!r})
def test_literal(prediction):
    prediction.observe({CASE.id!r}, {CASE.predicted!r})
""")
    result.stdout.fnmatch_lines(["*does not declare*", "*is not declared in the catalogue*",
                                 "*takes an Observation made by helpers.observe*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_check_of_many_entries_names_the_ones_its_failure_speaks_of(run):
    other = next(e.id for e in catalogue.default().entries.values()
                 if e.kind == "model")
    _, records = run(f"""
import pytest
@pytest.mark.claim({CLAIM!r}, {other!r})
def test_x(implicate):
    implicate(iter([{other!r}]))
    assert False, "the platform broke one rule"
@pytest.mark.claim({CLAIM!r})
def test_y(implicate):
    implicate(["model.no-such-rule"])
""", "-p", "no:xdist")
    found = {r["nodeid"].rsplit("::", 1)[1]: r for r in records if r["type"] == "check"}
    assert found["test_x"]["outcome"] == "failed"
    assert found["test_x"]["implicated"] == [other]
    assert "name entries the check claims" in found["test_y"]["longrepr"]

