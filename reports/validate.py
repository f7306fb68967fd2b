"""Validate raw records and reports against the published JSON Schemas.

The schemas in ``reports/schema/`` are the contract with whoever writes the
raw results (the pytest plugin) and whoever reads a report (people, CI,
``diff`` and ``matrix`` on another machine), so both sides are checked
against the same files rather than against code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from reports.errors import ReportError

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
REPORT_FORMAT = "mmapcheck-report"
#: The report schema version this code writes and the newest it reads.
REPORT_VERSION = 2
#: Older report versions ``diff`` and ``matrix`` still read.
REPORT_VERSIONS = (1, 2)
RAW_FORMAT = "mmapcheck-raw"
RAW_VERSION = 2
RAW_VERSIONS = (1, 2)


@cache
def _schema(name: str) -> dict[str, Any]:
    """Return the parsed schema file ``name``; it ships with the code, so a bad one is a bug."""
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def report_schema_path() -> Path:
    """Return the path of the report schema this version writes."""
    return SCHEMA_DIR / f"report-{REPORT_VERSION}.schema.json"


@cache
def _validator(name: str, definition: str | None = None) -> jsonschema.protocols.Validator:
    """Return a validator of schema ``name``, or of its ``$defs[definition]`` when given."""
    schema = dict(_schema(name))
    if definition is not None:
        schema = {**schema, "$ref": f"#/$defs/{definition}"}
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def first_error(validator: jsonschema.protocols.Validator, instance: Any) -> str | None:
    """Return the most relevant violation as ``at /path: message``, or None when valid.

    Only one error is reported because the messages go on one line: the most
    relevant (deepest) is the one that tells the user what to fix.
    """
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"at /{where.lstrip('/')}: {message}" if where != "(top level)" else message


def raw_record_error(record: dict[str, Any], version: Any = RAW_VERSION) -> str | None:
    """Return why a raw record breaks the raw schema (of ``version``) of its ``type``."""
    if version not in RAW_VERSIONS:
        return f"raw results version {version!r} is not one of {RAW_VERSIONS}"
    kind = record.get("type")
    if kind not in _schema(f"raw-{version}.schema.json")["$defs"]:
        return f"unknown record type {kind!r}"
    return first_error(_validator(f"raw-{version}.schema.json", kind), record)


def report_error(report: dict[str, Any]) -> str | None:
    """Return why ``report`` breaks the report schema of its version, or None when valid."""
    version = report.get("schema_version", REPORT_VERSION)
    if version not in REPORT_VERSIONS:
        return f"schema_version {version!r} is not one of {REPORT_VERSIONS}"
    return first_error(_validator(f"report-{version}.schema.json"), report)


def load_report(path: Path) -> dict[str, Any]:
    """Return the report read from ``path``; raise ReportError naming the file if unusable.

    Unusable means: unreadable, not JSON, not a mmapcheck report, written by a
    newer schema version than this code knows, or invalid against the schema.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReportError(f"{path}: cannot read the report: {reason}") from exc
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise ReportError(
            f"{path}: not a mmapcheck report (expected \"format\": \"{REPORT_FORMAT}\"); "
            "give the report.json written by 'python -m reports build'"
        )
    version = report.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportError(f"{path}: the report has no integer schema_version")
    if version > REPORT_VERSION or version not in REPORT_VERSIONS:
        raise ReportError(
            f"{path}: report schema version {version} is newer than this mmapcheck reads "
            f"(up to {REPORT_VERSION}); update mmapcheck to compare it"
        )
    if (problem := report_error(report)) is not None:
        raise ReportError(f"{path}: not a valid mmapcheck report: {problem}")
    return report
