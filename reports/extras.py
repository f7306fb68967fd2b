"""Find the result files of the bench, stress, deep-model and mutant commands of a run.

Those commands run apart from pytest and write ``bench.json``, ``stress.json``,
``model.json`` and ``mutants.json`` (the mutation score of the claims) beside
the reports.  Their figures only mean something
next to the verdicts of the same code, so a file joins the report only when
its ``commit`` equals the run's; otherwise the report says why it was left
out instead of silently mixing two versions.  Their inner layout is free
(the renderers show any JSON object), and a broken file is reported, never
fatal: the conformance verdicts do not depend on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: File name -> report section it fills.
FILES = {"bench.json": "bench", "stress.json": "load", "model.json": "model",
         "mutants.json": "mutation_score"}


@dataclass(frozen=True)
class Extra:
    """One result file found beside the run: merged with its data, or left out with the reason."""

    file: str
    section: str
    commit: str | None
    merged: bool
    reason: str
    data: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the provenance entry the report lists for this file (data goes elsewhere)."""
        return {"file": self.file, "section": self.section, "commit": self.commit,
                "merged": self.merged, "reason": self.reason}


def _read(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON (line {exc.lineno}: {exc.msg})"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, ""


def collect(directory: Path, commit: str | None) -> list[Extra]:
    """Return every known result file in ``directory``, each merged or left out with the reason."""
    extras: list[Extra] = []
    for name, section in FILES.items():
        path = directory / name
        if not path.is_file():
            continue
        data, problem = _read(path)
        if data is None:
            extras.append(Extra(name, section, None, False, f"left out: {problem}"))
            continue
        theirs = data.get("commit")
        theirs = theirs if isinstance(theirs, str) else None
        if commit is None or theirs is None:
            reason = "left out: the commit of the run or of the file is unknown"
            extras.append(Extra(name, section, theirs, False, reason))
        elif theirs != commit:
            reason = f"left out: written at commit {theirs[:12]}, the run is at {commit[:12]}"
            extras.append(Extra(name, section, theirs, False, reason))
        else:
            extras.append(Extra(name, section, theirs, True, "same commit as the run", data))
    return extras
