"""Build every format of a run's report and write them: the ``build`` command.

The JSON is validated against its published schema before anything is
written, so a report on disk always matches the schema its readers rely
on; a mismatch is a bug of this builder and stops it with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.catalogue import Catalogue
from reports import build, extras, raw, render_html, render_md
from reports.errors import ReportError
from reports.validate import report_error

REPORTS_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = REPORTS_DIR / "out"
DEFAULT_RAW = DEFAULT_OUT / "raw" / "results.jsonl"


@dataclass(frozen=True)
class Written:
    """What ``build`` produced: the report and the path of each file written."""

    report: dict[str, Any]
    paths: tuple[Path, ...]


def _write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary name, so readers never see half a file."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report: {exc.strerror or exc}") from exc
    return path


def build_reports(raw_path: Path, out_dir: Path, catalogue: Catalogue, *,
                  extras_dir: Path | None = None, generated: str | None = None) -> Written:
    """Return the report of the run at ``raw_path`` after writing its three formats to ``out_dir``.

    ``extras_dir`` is where bench/stress/model result files are looked for
    (``out_dir`` when None).  Raises ReportError for unusable input.
    """
    run = raw.read(raw_path)
    found = extras.collect(extras_dir or out_dir, run.run.get("commit"))
    report = build.build(run, catalogue, found, generated=generated)
    problem = report_error(report)
    if problem is not None:
        raise ReportError(
            f"internal error: the report built from {raw_path} breaks its own schema "
            f"({problem}); please report this with the raw file"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot create the output folder: {exc.strerror}") from exc
    paths = (
        _write(out_dir / "report.json",
               json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"),
        _write(out_dir / "report.md", render_md.render(report)),
        _write(out_dir / "report.html", render_html.render(report)),
    )
    return Written(report, paths)
