"""Self-test: a spec verdict follows the platform, as claims do under a wrong platform.

The wrong-platform shim of ``tests/shims/wrong_platform.py`` makes munmap of
an unaligned address fail with EFAULT.  POSIX (XSH6) and munmap(2) both say
EINVAL, so under the shim the check of the man page fails and the entry's
POSIX verdict turns from ``conforms`` to ``differs``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import catalogue
from reports import build, raw

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "spec.munmap-addr-alignment"
CHECK = ("conformance/test_spec_munmap.py::test_munmap_assertion"
         "[munmap-addr-alignment/unaligned-addr]")


def _verdict(tmp_path: Path, shim: str | None) -> tuple[str, set[str]]:
    """Return the entry's verdict and the failed checks of one run, shimmed or not."""
    raw_path = tmp_path / f"raw-{shim}.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMAPCHECK_")}
    command = [sys.executable, "-m", "pytest", CHECK, "-q", "-p", "no:cacheprovider",
               "-p", "no:xdist", f"--mmapcheck-raw={raw_path}"]
    if shim:
        env.update(MMAPCHECK_SHIM=shim, MMAPCHECK_PRELOAD="tests.shims.wrong_platform")
        command += ["-p", "tests.shims.wrong_platform"]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
    report = build.build(raw.read(raw_path), catalogue.default())
    entry = next(e for e in report["entries"] if e["id"] == ENTRY)
    return (entry["results"][0]["verdict"],
            {c["nodeid"] for c in report["checks"] if c["outcome"] == "failed"})


def test_spec_verdict_flips_with_the_platform(tmp_path):
    assert _verdict(tmp_path, None) == ("conforms", set())
    assert _verdict(tmp_path, "wrong-errno") == ("differs", {CHECK})
