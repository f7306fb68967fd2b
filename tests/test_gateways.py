"""Self-test: one run over two gateways running different Pythons keeps them apart.

The interpreters are the suite's own tox environments (``.tox/py3XX``), which
have its dependencies; the test runs where at least two of them exist beside
the running one with another Python version, as in a full ``tox`` run after
its first environment, and is skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import catalogue
from reports import build as build_
from reports import raw as raw_

ROOT = Path(__file__).resolve().parent.parent


def _interpreters() -> dict[str, str]:
    """Return ``{"3.11": path}`` for the tox environments' Pythons that can run the suite."""
    found: dict[str, str] = {}
    for python in sorted(ROOT.glob(".tox/py3*/bin/python")):
        done = subprocess.run(
            [str(python), "-c", "import sys, pytest, xdist, hypothesis, pytest_timeout; "
             "print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60,
        )
        if done.returncode == 0:
            found.setdefault(done.stdout.strip(), str(python))
    return found


def test_each_gateway_keeps_its_own_platform(tmp_path):
    pythons = _interpreters()
    mine = "{}.{}".format(*sys.version_info[:2])
    others = [path for version, path in pythons.items() if version != mine]
    if not others:
        pytest.skip(f"no tox environment with another Python than {mine} exists yet "
                    f"(found {sorted(pythons)})")
    raw_path = tmp_path / "raw.jsonl"
    command = [sys.executable, "-m", "pytest", "conformance/test_lifetime.py", "-q",
               "-p", "no:cacheprovider", "--dist", "each", f"--mmapcheck-raw={raw_path}",
               f"--tx=popen//python={sys.executable}", f"--tx=popen//python={others[0]}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    report = build_.build(raw_.read(raw_path), catalogue.default())
    versions = sorted(p["fingerprint"]["python"]["version"][:4] for p in report["platforms"])
    assert len(report["platforms"]) == 2 and versions[0] != versions[1], versions
    by_platform: dict[str, int] = {}
    for check in report["checks"]:
        by_platform[check["platform"]] = by_platform.get(check["platform"], 0) + 1
    # --dist each: every check ran once on each platform, none merged away.
    assert len(by_platform) == 2 and len(set(by_platform.values())) == 1, by_platform
    assert json.dumps(report)  # the report stays plain data
