"""Self-tests of the POSIX crosswalk and of ``suitebench --opts`` on a tiny fake suite."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import catalogue, opts, suitebench

#: Assertions per interface: Open POSIX's assertions.xml (LTP, read for this table) and the
#: numbered shall sentences of the POSIX.1-2017 msync and mprotect pages.
COUNTS = {"mmap": 32, "munmap": 10, "shm_open": 42, "shm_unlink": 11, "msync": 13,
          "mprotect": 11}


def test_every_assertion_maps_to_an_entry():
    walk = opts.crosswalk(catalogue.default())
    expected = [f"{name}/{n}" for name, count in COUNTS.items() for n in range(1, count + 1)]
    assert list(walk) == expected, "an entry names an assertion the index lacks"
    assert [a for a, ids in walk.items() if not ids] == []


def test_spec_entries_cite_an_edition_and_declare_cases_unless_untestable():
    spec = [e for e in catalogue.default().entries.values() if e.kind == "spec"]
    assert spec
    for entry in spec:
        assert entry.source.get("edition") and entry.opts, entry.id
        assert bool(entry.cases) != bool(entry.untestable), entry.id


def test_a_malformed_assertions_file_still_gives_its_ids(tmp_path):
    path = tmp_path / "assertions.xml"
    path.write_text('<assertions>\n<assertion id="1" tag="ref:XSH6:1:2">a</assertion>\n'
                    '<assertion id="32">\nlen zero\n<assertion>\n</assertions>\n')
    assert opts.read_assertion_ids(path) == [1, 32]


def _fake_suite(root: Path) -> Path:
    """Write a two-interface Open POSIX look-alike: one C test, one shell test, one that fails."""
    mmap_dir = root / "conformance" / "interfaces" / "mmap"
    mmap_dir.mkdir(parents=True)
    (root / "conformance" / "interfaces" / "munmap").mkdir()
    (root / "include").mkdir()
    (root / "include" / "posixtest.h").write_text("#define PTS_PASS 0\n#define PTS_FAIL 1\n")
    (mmap_dir / "assertions.xml").write_text(
        '<assertions><assertion id="1">a</assertion><assertion id="2">b</assertion>'
        '<assertion id="3">c</assertion></assertions>')
    (mmap_dir / "1-1.c").write_text('#include "posixtest.h"\nint main(void) { return PTS_PASS; }\n')
    (mmap_dir / "2-1.sh").write_text("exit 4\n")
    (mmap_dir / "3-1.sh").write_text("exit 1\n")
    (root / "conformance" / "interfaces" / "munmap" / "assertions.xml").write_text(
        '<assertions><assertion id="1">x</assertion></assertions>')
    return root


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to build the fake test")
def test_run_checkout_builds_runs_and_counts_a_fake_suite(tmp_path):
    run = opts.run_checkout(_fake_suite(tmp_path / "ltp"))
    assert {(r.interface, r.name, r.result) for r in run.results} == {
        ("mmap", "1-1", "PASS"), ("mmap", "2-1", "UNSUPPORTED"), ("mmap", "3-1", "FAIL")}
    assert run.assertions == ("mmap/1", "mmap/2", "mmap/3", "munmap/1")
    assert run.decided() == {"mmap/1", "mmap/3"}
    assert run.tested() == {"mmap/1", "mmap/2", "mmap/3"}


def _stand_in(decided: dict[str, str]) -> suitebench.SpecRun:
    """Return a spec run that runs nothing and answers with ``decided`` verdicts."""
    def run(_tmp: Path) -> tuple[float, dict[str, Any]]:
        rows = [{"assertion": a, "entries": [], "verdicts": {"p1": v}}
                for a, v in decided.items()]
        return 1.5, {"crosswalk": rows}
    return run


def test_opts_comparison_without_a_checkout_says_why_and_still_runs_mmapcheck(tmp_path, capsys):
    status = suitebench.compare_with_opts(tmp_path / "absent", _stand_in(
        {"mmap/1": "conforms", "mmap/2": "untestable", "msync/1": "conforms"}))
    out = capsys.readouterr().out
    assert status == 0
    assert "Open POSIX Test Suite: skipped:" in out and "holds no conformance/interfaces" in out
    assert "mmapcheck spec, -n 2" in out and "1 of 2    assertions decided (50 %)" in out
    assert "also answers 1 msync and mprotect" in out


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to build the fake test")
def test_opts_comparison_prints_both_times_and_coverages(tmp_path, capsys):
    suitebench.compare_with_opts(_fake_suite(tmp_path / "ltp"), _stand_in(
        {"mmap/1": "conforms", "mmap/2": "differs", "mmap/3": "unsupported"}))
    out = capsys.readouterr().out
    assert "Open POSIX (build)" in out and "Open POSIX (run)" in out
    assert "Open POSIX                      2 of 4" in out  # 1-1 PASS and 3-1 FAIL decide
    assert "mmapcheck                       2 of 4" in out  # munmap/1 unknown to the stand-in
