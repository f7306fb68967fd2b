"""The command a finding gives to rerun it: choosing checks by claim or document, run alone.

``--mmapcheck-claim`` and ``--mmapcheck-document`` are what the report's
rerun command uses, so they are tested here beside it; the run lock is what
makes a ``serial`` check's timing its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.markers import RunLock

ROOT = Path(__file__).resolve().parents[2]


def _collect(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q",
         "--mmapcheck-no-raw", "-p", "no:cacheprovider", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_claim_selects_its_checks_only() -> None:
    done = _collect("--mmapcheck-claim", "mmap-notes.shm-not-synchronised")
    assert done.returncode == 0, done.stderr
    chosen = {line.rsplit("::", 1)[-1] for line in done.stdout.splitlines() if "::" in line}
    assert chosen == {"test_unsynchronised_increments_can_lose_updates",
                      "test_a_semaphore_around_each_increment_loses_none"}


def test_a_document_selects_the_checks_of_its_claims() -> None:
    done = _collect("--mmapcheck-document", "go-mmap", "--mmapcheck-claim",
                    "mmap-notes.shm-not-synchronised")
    assert done.returncode == 0, done.stderr
    chosen = "\n".join(line for line in done.stdout.splitlines() if "::" in line)
    assert "test_unsynchronised_increments_can_lose_updates" in chosen
    assert "test_shared_memory_versus_other_transports" in chosen  # go-mmap.shm-fastest-ipc
    assert "test_empty_pipe_blocks_while_mapping_read_returns" not in chosen


@pytest.mark.parametrize(("option", "typo", "hint"), [
    ("--mmapcheck-claim", "mmap-notes.shm-not-synchronized", "mmap-notes.shm-not-synchronised"),
    ("--mmapcheck-document", "go-map", "go-mmap"),
])
def test_an_unknown_id_is_a_usage_error_naming_the_closest(option: str, typo: str,
                                                           hint: str) -> None:
    done = _collect(option, typo)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"did you mean {hint!r}?" in done.stderr


def test_a_serial_holder_keeps_others_out_and_shared_holders_share(tmp_path: Path) -> None:
    lock = RunLock(str(tmp_path))
    # A serial check waits for both shared holders to end...
    with lock.hold(exclusive=False), lock.hold(exclusive=False), \
            pytest.raises(TimeoutError), lock.hold(exclusive=True, wait=0.05):
        pass
    # ... and keeps every other check out while it runs.
    with lock.hold(exclusive=True), pytest.raises(TimeoutError), \
            lock.hold(exclusive=False, wait=0.05):
        pass
    with lock.hold(exclusive=True):  # released: free again
        pass
    lock.remove()
    assert not list(tmp_path.iterdir())
