"""The figures of model runs: what was explored, what was covered, what disagreed.

One :class:`Stats` gathers a run (every sequence of a test, a benchmark, a
deep run); :meth:`Stats.figures` is what goes into the report's ``model``
section and into ``reports/out/model.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.model.rules import RULES

#: Where a deep run writes its figures (merged into the report by ``reports``).
MODEL_JSON = Path(__file__).resolve().parents[2] / "reports" / "out" / "model.json"


@dataclass
class Stats:
    """Counters of one run of the model against the platform."""

    sequences: int = 0
    steps: int = 0
    lives: int = 0
    deaths: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    disagreement: dict[str, Any] | None = None
    session_seconds: float = 0.0
    stopped_by_time_budget: bool = False
    started: float = field(default_factory=time.time)

    def figures(self, **extra: Any) -> dict[str, Any]:
        """Return the figures as JSON-able data."""
        covered = sorted(r for r in RULES if self.rules[r])
        elapsed = time.time() - self.started
        return {
            "sequences": self.sequences,
            "steps": self.steps,
            "executor_lives": self.lives,
            "deaths_by_signal": self.deaths,
            "rules_covered": covered,
            "rules_missing": sorted(set(RULES) - set(covered)),
            "rules_total": len(RULES),
            "rule_counts": dict(sorted(self.rules.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "steps_per_second_executor": round(self.steps / self.session_seconds, 1)
            if self.session_seconds else None,
            "steps_per_second_overall": round(self.steps / elapsed, 1) if elapsed else None,
            "stopped_by_time_budget": self.stopped_by_time_budget,
            "findings": list(self.findings.values()),
            # Findings are disagreements too (the platform breaks its man page), listed
            # first; a disagreement nothing explains comes last, with its minimal sequence.
            "disagreements": [{"kind": "finding", **f} for f in self.findings.values()]
            + ([{"kind": "unexplained", **self.disagreement}] if self.disagreement else []),
            **extra,
        }


def commit() -> str | None:
    """Return the checkout's commit (``git rev-parse HEAD``), None when there is none."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=MODEL_JSON.parents[2],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and len(text) == 40 else None


def write_model_json(figures: dict[str, Any], path: Path = MODEL_JSON) -> Path:
    """Write ``{"commit": ..., **figures}`` to ``path`` (atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"commit": commit(), **figures}, indent=2) + "\n")
    temporary.replace(path)
    return path
