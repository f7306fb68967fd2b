"""Self-tests of the catalogue: it loads, matches its published schema, its quotes are
found in their documents, and checks and entries cover each other."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest

from helpers import catalogue, documents

ROOT = Path(__file__).resolve().parent.parent


def test_catalogue_loads_and_every_claim_names_a_known_document():
    loaded = catalogue.load()
    assert loaded.entries
    for entry in loaded.entries.values():
        if entry.kind == "claim":
            assert entry.document in loaded.documents, entry.id


def test_every_entry_has_a_check_and_every_check_a_known_entry(tmp_path):
    # Collection itself refuses unknown ids (fixtures.markers); this run
    # proves it succeeds, then that no entry is left without a check.
    out = tmp_path / "coverage.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "conformance",
         "--mmapcheck-no-raw", f"--mmapcheck-coverage={out}", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    coverage = json.loads(out.read_text())
    loaded = catalogue.load()
    uncovered = [i for i, nodes in coverage.items()
                 if not nodes and not loaded[i].untestable]
    assert uncovered == [], f"{len(uncovered)} entries have no check: {uncovered}"


@pytest.mark.parametrize(("text", "words"), [
    ('[[entry]]\nid = "x.y"\n', "missing required field 'kind'"),
    ('[[entry]]\nid = "Bad Id"\nkind="claim"\nsource={document="d"}\nstatement=""\nrule=""\n',
     "id must look like"),
    ('[[entry]]\nid = "d.y"\nkind="claim"\nsource={document="nope"}\nstatement="s"\nrule="r"\n',
     "not in documents.toml"),
    ('[[entry]]\nid = "fault.y"\nkind="fault"\nsource={man="mmap(2)"}\nstatement="s"\n'
     'rule="r"\nneeds=["rooot"]\n', "not in the closed list"),
    ('[[entry]]\nid = "fault.y"\nkind="fault"\nsource={man="mmap(2)"}\nstatement="s"\n'
     'rule="r"\ncolour="red"\n', "unknown field(s) ['colour']"),
])
def test_malformed_entries_are_named_errors(tmp_path, text, words):
    (tmp_path / "documents.toml").write_text('[[document]]\nkey="d"\nfile="d.txt"\ntitle="t"\n')
    (tmp_path / "d.toml").write_text(text)
    with pytest.raises(catalogue.CatalogueError, match=re.escape(words)):
        catalogue.load(tmp_path)


# --- the published format ------------------------------------------------------------------

SCHEMA = json.loads((catalogue.CATALOGUE_DIR / "catalogue.schema.json").read_text())
CATALOGUE_FILES = sorted(catalogue.CATALOGUE_DIR.glob("*.toml"))


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", CATALOGUE_FILES, ids=lambda p: p.name)
def test_every_catalogue_file_matches_the_schema(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)]
    assert errors == [], f"{path.name}: {errors[:10]}"


CLAIM_TEMPLATE = {"id": "d.y", "kind": "claim", "source": {"document": "d"},
                  "quote": "原文", "statement": "s", "rule": "r", "prediction": "p"}


@pytest.mark.parametrize(("change", "words"), [
    ({"quote": None}, "'quote' is a required property"),
    ({"quote": "长" * 61}, "is too long"),
    ({"prediction": None}, "'prediction' is a required property"),
    ({"case": [{"id": "c", "predicted": "ok", "when": "layer == libc"}]},
     "'condition' is a dependency of 'when'"),
    ({"case": [{"id": "c", "predicted": {"at_leest": 1}}]}, "is not valid under any"),
])
def test_the_schema_refuses_a_malformed_claim(change, words):
    entry = {k: v for k, v in {**CLAIM_TEMPLATE, **change}.items() if v is not None}
    messages = [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(
        {"entry": [entry]})]
    assert any(words in m for m in messages), messages


def test_the_schema_accepts_the_template_claim():
    jsonschema.Draft202012Validator(SCHEMA).validate({"entry": [CLAIM_TEMPLATE]})


# --- quotes: each claim's locator in its document ------------------------------------------

CLAIMS = [e for e in catalogue.default().entries.values() if e.kind == "claim"]


@pytest.mark.parametrize("entry", CLAIMS, ids=lambda e: e.id)
def test_every_claim_has_a_short_quote(entry):
    assert entry.quote, f"{entry.id} ({entry.file}) has no quote"
    assert len(entry.quote) <= documents.QUOTE_LENGTH, (entry.id, len(entry.quote))


@pytest.mark.parametrize("key", list(catalogue.default().documents))
def test_every_quote_occurs_once_in_its_document(source_documents, key):
    loaded = catalogue.default()
    text = source_documents.text(loaded, key)
    counts = {e.id: documents.occurrences(e.quote, text)
              for e in CLAIMS if e.document == key}
    assert counts, f"document {key!r} has no claims"
    assert {i: n for i, n in counts.items() if n != 1} == {}, (
        f"quotes of {key!r} not found exactly once in {loaded.documents[key].file} "
        "(after NFKC, whitespace removed)")


@pytest.mark.parametrize(("quote", "text", "count"), [
    ("返回MAP_FAILED,(void *) -1", "失败返回MAP_FAILED，(void *)\n   -1", 1),  # full-width comma
    ("ＭＡＰ＿ＳＨＡＲＥＤ", "flags: MAP_SHARED", 1),
    ("length = 0", "length=0 and length = 0", 2),
    ("MAP_PRIVATE", "MAP_SHARED", 0),
    ("", "anything", 0),
])
def test_quotes_are_compared_after_nfkc_without_whitespace(quote, text, count):
    assert documents.occurrences(quote, text) == count


def test_documents_directory_from_option_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(documents.ENVIRONMENT, raising=False)
    found, why = documents.locate(None)
    assert found is None and "--mmapcheck-documents" in why
    monkeypatch.setenv(documents.ENVIRONMENT, str(tmp_path))
    assert documents.locate(None)[0].directory == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert documents.locate(str(other))[0].directory == other.resolve()
    with pytest.raises(NotADirectoryError, match="--mmapcheck-documents"):
        documents.locate(str(tmp_path / "missing"))
