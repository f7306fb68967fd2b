"""Where a bench or stress result came from: commit, interpreter, kernel, times.

The report builder merges ``bench.json`` and ``stress.json`` only when their
``commit`` equals the run's, so both commands record it the same way.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "reports" / "out"


def commit() -> str | None:
    """Return the checkout's commit (``git rev-parse HEAD``), None when there is none."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def now() -> str:
    """Return the current UTC time in ISO 8601."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def describe(command: str) -> dict[str, Any]:
    """Return the provenance block both result files start with."""
    return {
        "commit": commit(),
        "command": command,
        "started": now(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "argv": sys.argv[1:],
    }
