"""Load and validate the claim catalogue (``conformance/catalogue/*.toml``).

The catalogue is data: one TOML file per source document (``[[entry]]``
tables) plus ``faults.toml`` and ``model.toml`` for entries that come from
man pages rather than documents, and ``documents.toml`` naming the documents.
An entry is

``id``           stable id: ``<document key>.<slug>`` for a claim,
                 ``fault.<slug>`` or ``model.<slug>`` otherwise
``kind``         ``claim`` | ``spec`` | ``fault`` | ``model``
``source``       ``{document = key, section = "..."}`` for a claim,
                 ``{posix = "mmap", section = "...", edition = "XSH6 ..."}`` for a
                 spec entry, ``{man = "mmap(2)", section = "ERRORS"}`` otherwise
``opts``         (optional) the POSIX assertions
                 the entry states, ``["mmap/11"]``: Open POSIX Test Suite ids for
                 mmap, munmap, shm_open and shm_unlink, and the numbered "shall"
                 sentences of the msync and mprotect pages (:mod:`helpers.opts`)
``editions``     (optional) how the 2017 and 2024 editions word the rule
                 differently from the edition the assertion cites
``quote``        (claims) a short verbatim locator of the sentence in the
                 document (at most about 60 characters, never more)
``statement``    what the source says, paraphrased in English
``rule``         what POSIX and the Linux man pages actually specify
``references``   where the rule is written (``["mmap(2) ERRORS", ...]``)
``prediction``   (claims) the testable prediction the document makes
``conditions``   (claims) conditions the document leaves out, e.g.
                 ``page_size == 4096``
``needs``        needs from the closed list :data:`NEEDS`
``layers``       ``libc`` and/or ``pymmap``
``method``       how the check tests it, in a sentence
``untestable``   (optional) why no experiment here can decide it
``deviations``   (optional) known platform deviations from the man page:
                 ``[{summary, evidence, since}]``
``case``         (claims and spec entries) ``[[entry.case]]`` tables, one per
                 case the prediction makes: ``id``, ``predicted`` (a scalar, or
                 ``{one_of = [...]}``, ``{at_least = N}``, ``{at_most = N}``),
                 ``central`` (default true), and for a case expected to differ
                 somewhere, ``condition`` (the named condition, in words) and
                 ``when`` (a platform predicate, :mod:`helpers.conditions`)

Loading validates every field, so a typo is a clear error naming the file and
the entry, not a confusing verdict later.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from helpers import conditions

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "conformance" / "catalogue"

KINDS = ("claim", "spec", "fault", "model")
LAYERS = ("libc", "pymmap")
#: What a check may declare it needs; anything else is a typo.
NEEDS = (
    "root",
    "posix_shm",
    "sysv_shm",
    "memfd",
    "user_namespace",
    "hugetlb",
    "dax",
    "ptrace",
    "proc_pagemap",
    "dev_zero",
    "compiler",
)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$")


class CatalogueError(ValueError):
    """The catalogue files are malformed; the message names file and entry."""


@dataclass(frozen=True)
class Document:
    """A source document the claims come from."""

    key: str
    file: str
    title: str
    summary: str = ""


@dataclass(frozen=True)
class Case:
    """One case of an entry's prediction: what the source says happens in it.

    ``predicted`` is a JSON scalar compared for equality with the observed
    value, or a one-key table (``one_of``, ``at_least``, ``at_most``).  A
    central case carries the entry's main point; a side case that is
    expected to differ under some circumstance names it in ``condition``
    and, where a platform fact decides it, in ``when``.
    """

    id: str
    predicted: Any
    central: bool = True
    condition: str = ""
    when: str = ""

    def matches(self, observed: Any) -> bool:
        """Return True when ``observed`` is what this case predicts."""
        return predicted_matches(self.predicted, observed)


def predicted_matches(predicted: Any, observed: Any) -> bool:
    """Return True when ``observed`` satisfies the prediction ``predicted``."""
    if isinstance(predicted, dict):
        (form, operand), = predicted.items()
        if form == "one_of":
            return observed in operand
        if isinstance(observed, bool) or not isinstance(observed, int | float):
            return False
        return observed >= operand if form == "at_least" else observed <= operand
    if isinstance(predicted, bool) or isinstance(observed, bool):
        return type(predicted) is type(observed) and predicted == observed
    return bool(predicted == observed)


_PREDICTION_FORMS = ("one_of", "at_least", "at_most")


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: a claim, a fault kind or a model property."""

    id: str
    kind: str
    source: Mapping[str, str]
    statement: str
    rule: str
    references: tuple[str, ...] = ()
    prediction: str = ""
    conditions: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    layers: tuple[str, ...] = ("libc",)
    method: str = ""
    untestable: str = ""
    deviations: tuple[Mapping[str, str], ...] = ()
    quote: str = ""
    cases: tuple[Case, ...] = ()
    opts: tuple[str, ...] = ()
    editions: str = ""
    file: str = field(default="", compare=False)

    def case(self, case_id: str) -> Case | None:
        """Return the declared case ``case_id``, None when the entry has no such case."""
        return next((case for case in self.cases if case.id == case_id), None)

    @property
    def document(self) -> str | None:
        """Return the document key of a claim, None for faults and models."""
        return self.source.get("document")


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue, keyed by entry id."""

    documents: Mapping[str, Document]
    entries: Mapping[str, Entry]
    digest: str

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.entries

    def __getitem__(self, entry_id: str) -> Entry:
        return self.entries[entry_id]

    def suggest(self, unknown: str) -> str | None:
        """Return the known id closest to ``unknown``, for error messages."""
        close = difflib.get_close_matches(unknown, list(self.entries), n=1, cutoff=0.5)
        return close[0] if close else None

    def by_document(self) -> dict[str, list[Entry]]:
        """Return claims grouped by document key, in catalogue order."""
        groups: dict[str, list[Entry]] = {key: [] for key in self.documents}
        for entry in self.entries.values():
            if entry.kind == "claim":
                groups[entry.source["document"]].append(entry)
        return groups


_REQUIRED = ("id", "kind", "source", "statement", "rule")
_OPTIONAL_STR = ("prediction", "method", "untestable", "quote", "editions")
_OPTIONAL_LIST = ("references", "conditions", "needs", "layers", "deviations", "opts")
_OPTS = re.compile(r"^(mmap|munmap|msync|mprotect|shm_open|shm_unlink)/[1-9][0-9]*$")


def _fail(path: Path, where: str, message: str) -> CatalogueError:
    return CatalogueError(f"{path.name}: {where}: {message}")


def _entry(raw: Mapping[str, Any], path: Path, documents: Mapping[str, Document]) -> Entry:
    where = f"entry {raw.get('id', '?')!r}"
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL_STR) - set(_OPTIONAL_LIST) - {"case"}
    if unknown:
        raise _fail(path, where, f"unknown field(s) {sorted(unknown)}")
    for name in _REQUIRED:
        if name not in raw:
            raise _fail(path, where, f"missing required field {name!r}")
    entry_id, kind, source = raw["id"], raw["kind"], raw["source"]
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        raise _fail(path, where, "id must look like '<prefix>.<slug>' in lower case")
    if kind not in KINDS:
        raise _fail(path, where, f"kind {kind!r} is not one of {KINDS}")
    if not isinstance(source, dict):
        raise _fail(path, where, "source must be a table")
    if kind == "claim":
        doc = source.get("document")
        if doc not in documents:
            raise _fail(path, where, f"source.document {doc!r} is not in documents.toml")
        if not entry_id.startswith(f"{doc}."):
            raise _fail(path, where, f"a claim of {doc!r} has an id starting with '{doc}.'")
        if not raw.get("prediction"):
            raise _fail(path, where, "a claim needs a 'prediction'")
    elif kind == "spec":
        if "posix" not in source:
            raise _fail(path, where, "a spec entry names its POSIX interface in source.posix")
        if not entry_id.startswith("spec."):
            raise _fail(path, where, "a spec entry has an id starting with 'spec.'")
    else:
        if "man" not in source:
            raise _fail(path, where, "a fault or model entry names its man page in source.man")
        if not entry_id.startswith(f"{kind}."):
            raise _fail(path, where, f"a {kind} entry has an id starting with '{kind}.'")
    for name in ("statement", "rule", *_OPTIONAL_STR):
        if name in raw and not isinstance(raw[name], str):
            raise _fail(path, where, f"{name} must be a string")
    lists = {name: tuple(raw.get(name, ())) for name in _OPTIONAL_LIST}
    if bad := [n for n in lists["needs"] if n not in NEEDS]:
        raise _fail(path, where, f"needs {bad} not in the closed list {NEEDS}")
    if bad := [n for n in lists["layers"] if n not in LAYERS]:
        raise _fail(path, where, f"layers {bad} not in {LAYERS}")
    if bad := [a for a in lists["opts"] if not isinstance(a, str) or not _OPTS.match(a)]:
        raise _fail(path, where, f"opts {bad} must look like 'mmap/11' (interface/number)")
    for deviation in lists["deviations"]:
        if not isinstance(deviation, dict) or "summary" not in deviation:
            raise _fail(path, where, "each deviation is a table with at least 'summary'")
    cases = _cases(raw.get("case", []), path, where)
    if cases and kind not in ("claim", "spec"):
        raise _fail(path, where, "only claim and spec entries declare cases")
    return Entry(
        id=entry_id,
        kind=kind,
        source=dict(source),
        statement=raw["statement"].strip(),
        rule=raw["rule"].strip(),
        references=lists["references"],
        prediction=raw.get("prediction", "").strip(),
        conditions=lists["conditions"],
        needs=lists["needs"],
        layers=lists["layers"] or ("libc",),
        method=raw.get("method", "").strip(),
        untestable=raw.get("untestable", "").strip(),
        deviations=lists["deviations"],
        quote=raw.get("quote", "").strip(),
        cases=cases,
        opts=lists["opts"],
        editions=raw.get("editions", "").strip(),
        file=path.name,
    )


_CASE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CASE_FIELDS = {"id", "predicted", "central", "condition", "when"}


def _cases(raw_cases: Any, path: Path, where: str) -> tuple[Case, ...]:
    """Return an entry's validated ``[[entry.case]]`` tables."""
    if not isinstance(raw_cases, list):
        raise _fail(path, where, "case must be an array of tables ([[entry.case]])")
    cases: list[Case] = []
    for raw in raw_cases:
        if not isinstance(raw, dict):
            raise _fail(path, where, "each case is a table ([[entry.case]])")
        if unknown := set(raw) - _CASE_FIELDS:
            raise _fail(path, where, f"case {raw.get('id', '?')!r}: unknown field(s) "
                        f"{sorted(unknown)}; a case has {sorted(_CASE_FIELDS)}")
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
            raise _fail(path, where, f"case id {case_id!r} must be lower-case kebab-case")
        if any(c.id == case_id for c in cases):
            raise _fail(path, where, f"case {case_id!r} is declared twice")
        if "predicted" not in raw:
            raise _fail(path, where, f"case {case_id!r} has no 'predicted' value")
        predicted = raw["predicted"]
        if isinstance(predicted, dict) and (
            len(predicted) != 1 or next(iter(predicted)) not in _PREDICTION_FORMS
        ):
            raise _fail(path, where, f"case {case_id!r}: a predicted table has one key of "
                        f"{_PREDICTION_FORMS}, not {sorted(predicted)}")
        central = raw.get("central", True)
        if not isinstance(central, bool):
            raise _fail(path, where, f"case {case_id!r}: central must be true or false")
        when = raw.get("when", "")
        if when:
            try:
                conditions.parse(when)
            except conditions.ConditionError as exc:
                raise _fail(path, where, f"case {case_id!r}: when: {exc}") from exc
            if not raw.get("condition"):
                raise _fail(path, where, f"case {case_id!r}: a 'when' needs its 'condition' "
                            "in words")
        cases.append(Case(case_id, predicted, central, str(raw.get("condition", "")), when))
    return tuple(cases)


def load(directory: Path = CATALOGUE_DIR) -> Catalogue:
    """Return the catalogue read from ``directory``; raise CatalogueError if malformed."""
    digest = hashlib.sha256()
    files = sorted(directory.glob("*.toml"))
    parsed: dict[Path, dict[str, Any]] = {}
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        try:
            parsed[path] = tomllib.loads(data.decode("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path.name}: not valid TOML: {exc}") from exc
    doc_path = directory / "documents.toml"
    if doc_path not in parsed:
        raise CatalogueError(f"{directory}: documents.toml is missing")
    documents = {
        d["key"]: Document(**d) for d in parsed.pop(doc_path).get("document", [])
    }
    entries: dict[str, Entry] = {}
    for path, data in parsed.items():
        if set(data) - {"entry"}:
            raise CatalogueError(f"{path.name}: only [[entry]] tables belong here")
        for raw in data.get("entry", []):
            entry = _entry(raw, path, documents)
            if entry.id in entries:
                other = entries[entry.id].file
                raise _fail(path, f"entry {entry.id!r}", f"duplicate id (also in {other})")
            entries[entry.id] = entry
    return Catalogue(documents=documents, entries=entries, digest=digest.hexdigest()[:16])


@cache
def default() -> Catalogue:
    """Return the checkout's catalogue, loaded once per process."""
    return load()


def unknown_ids(ids: Iterable[str], catalogue: Catalogue) -> list[str]:
    """Return the ids among ``ids`` that the catalogue lacks."""
    return [i for i in ids if i not in catalogue]
