"""Load and validate the claim catalogue (``conformance/catalogue/*.toml``).

The catalogue is data: one TOML file per source document (``[[entry]]``
tables) plus ``faults.toml`` and ``model.toml`` for entries that come from
man pages rather than documents, and ``documents.toml`` naming the documents.
An entry is

``id``           stable id: ``<document key>.<slug>`` for a claim,
                 ``fault.<slug>`` or ``model.<slug>`` otherwise
``kind``         ``claim`` | ``fault`` | ``model``
``source``       ``{document = key, section = "..."}`` for a claim,
                 ``{man = "mmap(2)", section = "ERRORS"}`` otherwise
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

Loading validates every field, so a typo is a clear error naming the file and
the entry, not a confusing verdict later.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "conformance" / "catalogue"

KINDS = ("claim", "fault", "model")
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
    file: str = field(default="", compare=False)

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
_OPTIONAL_STR = ("prediction", "method", "untestable")
_OPTIONAL_LIST = ("references", "conditions", "needs", "layers", "deviations")


def _fail(path: Path, where: str, message: str) -> CatalogueError:
    return CatalogueError(f"{path.name}: {where}: {message}")


def _entry(raw: Mapping[str, Any], path: Path, documents: Mapping[str, Document]) -> Entry:
    where = f"entry {raw.get('id', '?')!r}"
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL_STR) - set(_OPTIONAL_LIST)
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
    for deviation in lists["deviations"]:
        if not isinstance(deviation, dict) or "summary" not in deviation:
            raise _fail(path, where, "each deviation is a table with at least 'summary'")
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
        file=path.name,
    )


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
