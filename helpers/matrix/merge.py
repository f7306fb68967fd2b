"""One raw results file out of the raw results of several variant runs.

Each variant's run wrote its own file, its workers keyed ``gw0``, ``gw1``,
...; in the merged file they become ``<variant>/gw0`` so that no two
variants share a key, and each platform's fingerprint names its variant
(which checks were re-run there, and why the rest were not).  The first
variant's run record heads the file; the end record sums the counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            break  # a run cut short ends in a partial line; what precedes it stands
    return records


def merge(runs: Iterable[tuple[dict[str, Any], Path]], out: Path,
          command: list[str]) -> dict[str, int]:
    """Write the records of ``runs`` ((variant description, raw file) pairs) to ``out``.

    Returns the summed check counts.
    """
    head: dict[str, Any] | None = None
    body: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    status, duration, finished = 0, 0.0, None
    for variant, path in runs:
        name = variant["name"]
        for record in _records(path):
            kind = record.get("type")
            if kind == "run":
                head = head or {**record, "command": command}
            elif kind == "end":
                for key, value in record.get("counts", {}).items():
                    counts[key] = counts.get(key, 0) + value
                status = max(status, int(record.get("exitstatus", 0)))
                duration += float(record.get("duration_s", 0.0))
                finished = record.get("finished", finished)
            elif kind == "platform":
                fingerprint = record.get("fingerprint")
                if isinstance(fingerprint, dict):
                    fingerprint = {**fingerprint, "variant": variant}
                body.append({**record, "key": f"{name}/{record['key']}",
                             "fingerprint": fingerprint})
            elif "platform" in record:
                body.append({**record, "platform": f"{name}/{record['platform']}"})
    if head is None:
        raise ValueError("no variant wrote a run record")
    end = {"type": "end", "finished": finished, "exitstatus": status,
           "duration_s": round(duration, 3), "counts": counts}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as stream:
        for record in (head, *body, end):
            stream.write(json.dumps(record) + "\n")
    return counts
