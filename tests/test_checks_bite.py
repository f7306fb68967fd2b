"""Self-test: against a deliberately wrong platform the checks fail and verdicts flip.

Each case runs a few real checks in a pytest run of its own with a shim of
``helpers.libc`` (``tests/shims/wrong_platform.py``) in the test process and
in the fork server, then judges the raw results with the report builder.  A
suite whose checks passed and whose verdicts stayed put here would be
checking nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import catalogue
from reports import build as build_
from reports import raw as raw_

ROOT = Path(__file__).resolve().parent.parent
OFFSET = "memmap-ipc.offset-multiple-of-4k"
MUNMAP = "webserver-mmap.munmap-after-increment-fails"
SELECTION = ["conformance/test_offsets.py::test_offset_maps_only_at_page_multiples",
             "conformance/test_lifetime.py::test_munmap_needs_page_aligned_address"]


def _run(tmp_path: Path, shim: str | None,
         selection: list[str] = SELECTION) -> tuple[int, dict[str, str], set[str]]:
    """Return the exit status, the verdict per claim and the failed node ids of one run."""
    raw_path = tmp_path / f"raw-{shim}.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMAPCHECK_")}
    command = [sys.executable, "-m", "pytest", *selection, "-q", "-p", "no:cacheprovider",
               "-p", "no:xdist", f"--mmapcheck-raw={raw_path}"]
    if shim:
        env.update(MMAPCHECK_SHIM=shim, MMAPCHECK_PRELOAD="tests.shims.wrong_platform")
        command += ["-p", "tests.shims.wrong_platform"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    report = build_.build(raw_.read(raw_path), catalogue.default())
    verdicts = {e["id"]: e["results"][0]["verdict"] for e in report["entries"]
                if e["id"] in (OFFSET, MUNMAP)}
    failed = {c["nodeid"] for c in report["checks"] if c["outcome"] == "failed"}
    return done.returncode, verdicts, failed


def test_the_real_platform_is_the_baseline(tmp_path):
    status, verdicts, failed = _run(tmp_path, None)
    assert (status, failed) == (0, set())
    # Every case of the offset claim matches where pages are 4096 bytes.
    assert verdicts == {OFFSET: "confirmed", MUNMAP: "qualified"}


def test_accepting_unaligned_offsets_fails_checks_and_refutes_the_claim(tmp_path):
    status, verdicts, failed = _run(tmp_path, "unaligned-offsets-accepted")
    assert status == 1
    assert f"{SELECTION[0]}[1]" in failed and f"{SELECTION[0]}[1000]" in failed
    assert f"{SELECTION[0]}[4096]" not in failed
    assert verdicts[OFFSET] == "refuted"


def test_64k_pages_keep_the_spec_but_refute_the_4k_claim(tmp_path):
    # The shimmed mmap is consistent with its own page size, so the offset
    # checks of the specification pass; the document's "4K" no longer holds.
    status, verdicts, failed = _run(tmp_path, "page-size-64k", SELECTION[:1])
    assert (status, failed) == (0, set())
    assert verdicts[OFFSET] == "refuted"


def test_wrong_errno_fails_the_check_but_not_the_claim(tmp_path):
    # The document only says munmap(ptr + 1) fails; the errno is the man page's.
    status, verdicts, failed = _run(tmp_path, "wrong-errno")
    assert status == 1
    assert f"{SELECTION[1]}[1-pointer-moved-by-one-EINVAL]" in failed
    assert verdicts[MUNMAP] == "qualified"


@pytest.mark.parametrize("kind", ["", "no-such-shim"])
def test_unknown_shim_is_refused(kind):
    from tests.shims import wrong_platform

    with pytest.raises(ValueError, match="is not one of"):
        wrong_platform.install(kind)
