"""Self-test of the rule that lets mutants touch anonymous memory: probe calls only.

A mutant of anonymous mappings must change what the checks map and nothing
the interpreter maps for itself, or the run it judges would break instead
of observing.  An interpreter runs here under ``anonymous-backed-by-file``,
which turns every anonymous mapping it changes into a named memory file, so
that ``/proc/self/maps`` shows exactly which mappings counted as probe
calls: the two the script makes through ctypes and through Python's mmap
module, and none of the obmalloc arenas it fills meanwhile.  A real check
then runs under ``anonymous-not-zeroed`` and its claim must flip.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.mutants import build, load, run, score

#: The name anonymous-backed-by-file gives its memory files (sources/anonymous-backed-by-file.c).
MEMFD = "/memfd:mmapcheck-anonymous"
#: Maps anonymous memory through both layers, a file through the mmap module,
#: and allocates enough small objects to need fresh obmalloc arenas; prints
#: the pathnames /proc/self/maps shows for each mapping, and the memfd count.
SCRIPT = f"""
import ctypes, json, mmap, tempfile
from helpers import libc
from helpers.probes.regions import describe_at
from helpers.probes.fork import address_of

objects = [str(i) for i in range(300_000)]
by_ctypes = libc.mmap(0, libc.PAGE_SIZE, libc.PROT_READ | libc.PROT_WRITE,
                      libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
by_module = mmap.mmap(-1, libc.PAGE_SIZE)
with tempfile.TemporaryFile() as file:
    file.write(b"f" * libc.PAGE_SIZE)
    file.flush()
    of_file = mmap.mmap(file.fileno(), libc.PAGE_SIZE)
    more = [str(i) * 2 for i in range(300_000)]
    with open("/proc/self/maps") as maps:
        named = sum({MEMFD!r} in line for line in maps)
    print(json.dumps({{"ctypes": describe_at(by_ctypes)["path"],
                      "module": describe_at(address_of(by_module))["path"],
                      "file": describe_at(address_of(of_file))["path"],
                      "memfd_regions": named, "objects": len(objects) + len(more)}}))
    of_file.close()
"""
FRESH = "conformance/test_anonymous.py::test_fresh_anonymous_mapping_is_zero_and_has_no_file"
ZERO = "webserver-mmap.anonymous-zero-filled"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Return a function building one mutant of the family into a preloadable library."""
    scratch = tmp_path_factory.mktemp("anonymous")

    def built(mutant_id: str):
        try:
            found = build.build([load().get(mutant_id)], scratch)[mutant_id]
        except build.CannotBuild as exc:
            pytest.skip(str(exc))
        assert run.loaded(found) == mutant_id
        return found

    return built


def test_only_the_calls_of_the_checks_are_changed(library):
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=run.ROOT, capture_output=True,
                          text=True, timeout=60,
                          env=run.environment(library("anonymous-backed-by-file")))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # Both layers are probe calls: each anonymous mapping became a memory file.
    assert seen["ctypes"].startswith(MEMFD) and seen["module"].startswith(MEMFD), seen
    # The file mapping and the interpreter's own arenas are left as they were.
    assert not seen["file"].startswith(MEMFD), seen
    assert seen["memfd_regions"] == 2 and seen["objects"] == 600_000, seen


def test_a_check_of_anonymous_memory_flips_under_its_mutant(library, tmp_path):
    selection = (f"{FRESH}[MAP_PRIVATE-libc]", f"{FRESH}[MAP_PRIVATE-pymmap]")
    baseline = run.checks("unmutated", tmp_path / "unmutated.jsonl", selection=selection,
                          workers=0)
    mutated = run.checks("anonymous-not-zeroed", tmp_path / "mutated.jsonl",
                         preload=library("anonymous-not-zeroed"), selection=selection,
                         workers=0)
    assert not baseline.problem and not mutated.problem, (baseline.problem, mutated.problem)
    assert baseline.status == 0 and mutated.failed == frozenset(selection)
    assert baseline.verdicts[ZERO] == "confirmed" and mutated.verdicts[ZERO] == "refuted"
    assert score.flipped(baseline.verdicts[ZERO], mutated.verdicts[ZERO])
