"""Read the raw results of a run (``results.jsonl``) into typed records.

The format (version 2; the contract is ``reports/schema/raw-2.schema.json``,
one definition per record type; version 1 files are read too) is one JSON
object per line:

``run``       first line: ``format`` "mmapcheck-raw", ``version``, ``run_id``,
              ``commit``, ``dirty``, ``catalogue_digest``, ``command`` (argv),
              ``started`` (ISO 8601 UTC), ``hypothesis_seed``, ``dist``, ``workers``
``platform``  one per worker: ``key`` ("local", or the xdist id "gw0"...),
              ``gateway`` (xdist spec or null), ``fingerprint``
``check``     one per test item after its teardown: ``nodeid``, ``platform``
              (a key), ``claims``, ``layer``, ``outcome`` (passed, failed,
              skipped, xfailed, xpassed, error), ``skip`` ({kind, reason} or
              null), ``duration_s``, ``longrepr``, ``known_deviation``,
              ``cases`` (observations: {claim, case, instance, layer, status,
              how, observed, reason, evidence}; records of version 1 checks:
              {claim, case, layer, predicted, observed, matched, central,
              evidence}) and ``probes`` (``Outcome.to_dict()``)
``figures``   any number: ``section`` (faults, load, model, ...), ``platform``, ``data``
``end``       last line: ``finished``, ``exitstatus``, ``duration_s``, ``counts``

The plugin appends one line at a time and flushes each, so a run that
crashed leaves a file that is valid up to its last complete line: that file
is still read, and what is missing (a cut-short last line, the ``end``
record) becomes a warning the report shows instead of an error.  Anything
else that breaks the raw schema is an error naming the line, because a
report built from records it misread would state wrong verdicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.errors import ReportError
from reports.validate import RAW_FORMAT, RAW_VERSION, raw_record_error


@dataclass(frozen=True)
class Skip:
    """Why a check was skipped: ``unsupported`` (feature missing) or ``skipped`` (need unmet)."""

    kind: str
    reason: str


@dataclass(frozen=True)
class Case:
    """One case of a check: what the platform did, and (in old records) what was predicted.

    A record written through ``prediction.observe`` has a ``status``
    (observed, unobservable, undecided) and no prediction: the catalogue
    holds that, and the verdict compares.  A record of the older
    ``prediction.record`` has ``status`` None and carries ``predicted``,
    ``matched`` and ``central`` itself; ``matched`` is read as written, never
    recomputed.
    """

    claim: str
    case: str
    layer: str | None
    predicted: Any
    observed: Any
    matched: bool | None
    central: bool
    evidence: dict[str, Any]
    status: str | None = None
    instance: str | None = None
    how: str | None = None
    reason: str = ""

    @property
    def is_observation(self) -> bool:
        """Return True for a record made by ``prediction.observe`` (judged from the catalogue)."""
        return self.status is not None


@dataclass(frozen=True)
class Check:
    """The record of one test item on one platform, after its teardown."""

    nodeid: str
    platform: str
    claims: tuple[str, ...]
    layer: str | None
    outcome: str
    skip: Skip | None = None
    duration_s: float = 0.0
    longrepr: str | None = None
    known_deviation: str | None = None
    cases: tuple[Case, ...] = ()
    probes: tuple[dict[str, Any], ...] = ()
    #: The entries its failure speaks of (a check of many rules that found one
    #: broken); None: every entry it names.
    implicated: tuple[str, ...] | None = None

    def implicates(self, entry: str) -> bool:
        """Return whether a failure of this check speaks of ``entry``."""
        return self.implicated is None or entry in self.implicated

    def cases_of(self, claim: str) -> list[Case]:
        """Return the cases this check recorded for ``claim``."""
        return [case for case in self.cases if case.claim == claim]

    def layer_of(self, case: Case) -> str | None:
        """Return the layer a case ran in: its own, else the check's."""
        return case.layer or self.layer


@dataclass(frozen=True)
class PlatformRecord:
    """A platform line: the worker key, its xdist gateway and its fingerprint."""

    key: str
    gateway: str | None
    fingerprint: dict[str, Any] | None


@dataclass(frozen=True)
class Figures:
    """Figures a check or a run section published (faults survived, load held, ...)."""

    section: str
    platform: str | None
    data: dict[str, Any]


@dataclass
class RawRun:
    """Everything one raw results file holds, plus warnings about what it lacks."""

    run: dict[str, Any]
    platforms: dict[str, PlatformRecord] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    figures: list[Figures] = field(default_factory=list)
    end: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def _check(record: dict[str, Any]) -> Check:
    skip = record.get("skip")
    cases = tuple(
        Case(
            claim=c["claim"],
            case=c["case"],
            layer=c.get("layer"),
            predicted=c.get("predicted"),
            observed=c.get("observed"),
            matched=c.get("matched"),
            central=bool(c.get("central", False)),
            evidence=c.get("evidence") or {},
            status=c.get("status"),
            instance=c.get("instance"),
            how=c.get("how"),
            reason=c.get("reason") or "",
        )
        for c in record.get("cases", ())
    )
    return Check(
        nodeid=record["nodeid"],
        platform=record["platform"],
        claims=tuple(record["claims"]),
        layer=record.get("layer"),
        outcome=record["outcome"],
        skip=Skip(skip["kind"], skip["reason"]) if skip else None,
        duration_s=float(record.get("duration_s") or 0.0),
        longrepr=record.get("longrepr"),
        known_deviation=record.get("known_deviation"),
        cases=cases,
        probes=tuple(record.get("probes", ())),
        implicated=(tuple(record["implicated"]) if record.get("implicated") is not None
                    else None),
    )


def _first_line(path: Path, lines: list[str]) -> dict[str, Any]:
    """Return the run record; raise ReportError when the file is not a raw results file."""
    try:
        run = json.loads(lines[0])
    except json.JSONDecodeError:
        run = None
    if not isinstance(run, dict) or run.get("format") != RAW_FORMAT or run.get("type") != "run":
        raise ReportError(
            f"{path}: not a mmapcheck raw results file (its first line is not a "
            f"\"{RAW_FORMAT}\" run record)"
        )
    version = run.get("version")
    if isinstance(version, int) and version > RAW_VERSION:
        raise ReportError(
            f"{path}: raw results version {version} is newer than this builder reads "
            f"(up to {RAW_VERSION}); update mmapcheck"
        )
    if (problem := raw_record_error(run, version)) is not None:
        raise ReportError(f"{path}:1: bad run record: {problem}")
    return run


def read(path: Path) -> RawRun:
    """Return the records of the raw results file at ``path``.

    Raises ReportError (one line, naming the file and line) when the file is
    missing, empty, not raw results, of a newer version, or has a record
    that breaks the raw schema anywhere but on a cut-short last line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReportError(
            f"{path}: no raw results; run the checks first (tox -e report, or pytest "
            "followed by python -m reports build)"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReportError(f"{path}: cannot read the raw results: {reason}") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ReportError(f"{path}: the raw results file is empty; run the checks again")
    raw = RawRun(run=_first_line(path, lines))
    version = raw.run["version"]
    last = len(lines)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == last:
                raw.warnings.append(
                    f"line {number} of the raw results is cut short (the run was "
                    "interrupted while writing it); it was ignored"
                )
                continue
            raise ReportError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise ReportError(f"{path}:{number}: a raw record must be a JSON object")
        _add(raw, record, path, number, version)
    if raw.end is None:
        raw.warnings.append(
            "the run did not finish (no end record): the report shows what was recorded "
            "before it stopped"
        )
    return raw


def _add(raw: RawRun, record: dict[str, Any], path: Path, number: int, version: int) -> None:
    """Add one parsed record to ``raw``; raise ReportError when it breaks the schema."""
    kind = record.get("type")
    if kind == "run":
        raise ReportError(f"{path}:{number}: a second run record; one file holds one run")
    if kind not in ("platform", "check", "figures", "end"):
        # A newer plugin of the same version may add record types: skip them, say so.
        raw.warnings.append(f"line {number}: unknown record type {kind!r} ignored")
        return
    if (problem := raw_record_error(record, version)) is not None:
        raise ReportError(f"{path}:{number}: bad {kind} record: {problem}")
    if raw.end is not None:
        raw.warnings.append(f"line {number}: {kind} record after the end record ignored")
    elif kind == "platform":
        key = record["key"]
        if key in raw.platforms and raw.platforms[key].fingerprint != record["fingerprint"]:
            raw.warnings.append(f"platform {key!r} was described twice; the first is kept")
        else:
            raw.platforms.setdefault(
                key, PlatformRecord(key, record.get("gateway"), record["fingerprint"])
            )
    elif kind == "check":
        raw.checks.append(_check(record))
    elif kind == "figures":
        raw.figures.append(Figures(record["section"], record.get("platform"), record["data"]))
    else:
        raw.end = record
