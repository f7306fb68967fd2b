"""The mutant family's files: how groups combine, and what the loader refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.mutants import load

BLOCK = '[[mutant]]\nid = "{id}"\nbehaviour = "b"\nreference = "r(2)"\ntargets = {targets}\n'


def _family(tmp_path: Path, files: dict[str, str], reasons: str = "") -> tuple[Path, Path]:
    folder = tmp_path / "family"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    unprovable = tmp_path / "unprovable.toml"
    unprovable.write_text(reasons)
    return folder, unprovable


@pytest.fixture
def sources(monkeypatch, tmp_path):
    monkeypatch.setattr("helpers.mutants.SOURCES", tmp_path)
    for name in ("one", "two"):
        (tmp_path / f"{name}.c").write_text("")


def test_a_group_can_add_targets_to_a_mutant_of_another_file(tmp_path, sources):
    family = load(*_family(tmp_path, {
        "a.toml": BLOCK.format(id="one", targets='["d.x"]'),
        "b.toml": '[[mutant]]\nid = "one"\ntargets = ["d.y", "d.x"]\n'
                  + BLOCK.format(id="two", targets='["d.z"]')}, '"d.w" = "history"\n'))
    assert family.get("one").targets == ("d.x", "d.y")
    assert family.get("two").targets == ("d.z",)
    assert family.unprovable == {"d.w": "history"}


@pytest.mark.parametrize(("files", "reasons", "complaint"), [
    ({"a.toml": BLOCK.format(id="one", targets="[]"),
      "b.toml": BLOCK.format(id="one", targets="[]")}, "", "defined twice"),
    ({"a.toml": '[[mutant]]\nid = "two"\ntargets = ["d.x"]\n'}, "", "no file defines"),
    ({"a.toml": BLOCK.format(id="one", targets='["d.x"]')}, '"d.x" = "why"\n',
     "so not unprovable"),
    ({"a.toml": BLOCK.format(id="one", targets="[]") + 'target = ["d.x"]\n'}, "",
     "unknown keys"),
    ({"a.toml": BLOCK.format(id="three", targets="[]")}, "", "lacks three.c"),
])
def test_the_loader_names_what_is_wrong(tmp_path, sources, files, reasons, complaint):
    with pytest.raises(ValueError, match=complaint):
        load(*_family(tmp_path, files, reasons))
