"""The search for a run's leftovers on a machine that other users' runs share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import leftovers


def _entry(directory: Path, owner: str, rest: str) -> Path:
    return directory / f"mmapcheck-{owner}-{rest}"


def test_a_run_finds_its_files_beside_another_users_unreadable_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, theirs = "111-aaaaaa", "222-bbbbbb"
    foreign = _entry(tmp_path, theirs, "files")
    foreign.mkdir()
    leaked = _entry(tmp_path, mine, "111.0-leak")
    leaked.write_bytes(b"")
    own_dir = _entry(tmp_path, mine, "files")
    own_dir.mkdir()
    (own_dir / "inner").write_bytes(b"")
    listing = Path.iterdir

    def iterdir(self: Path) -> Iterator[Path]:  # another user's 0700 directory, unseen by root
        if self == foreign:
            raise PermissionError(13, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    found = {item.ident for item in leftovers._named(tmp_path, "file", mine)}
    assert found == {str(leaked), str(own_dir / "inner")}
    # Without an owner (the cleanup command), the unreadable directory stands for itself.
    everyone = {item.ident for item in leftovers._named(tmp_path, "file")}
    assert everyone == {str(leaked), str(own_dir / "inner"), str(foreign)}
