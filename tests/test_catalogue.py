"""Self-tests of the catalogue: it loads, and checks and entries cover each other."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import catalogue

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
