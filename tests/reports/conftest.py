"""Fixtures of the report self-tests: the synthetic catalogue and run of ``report_samples``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_samples import records, write_catalogue, write_raw

from helpers.catalogue import Catalogue


@pytest.fixture
def synthetic_catalogue(tmp_path: Path) -> Catalogue:
    """Return the synthetic catalogue, written under the test's tmp path."""
    return write_catalogue(tmp_path / "catalogue")


@pytest.fixture
def raw_file(tmp_path: Path, synthetic_catalogue: Catalogue) -> Path:
    """Return the path of a complete synthetic raw results file."""
    return write_raw(tmp_path / "out" / "raw" / "results.jsonl", records(synthetic_catalogue))


@pytest.fixture
def make_raw(tmp_path: Path, synthetic_catalogue: Catalogue) -> Callable[..., Path]:
    """Return a function writing a raw file from lines edited by the caller."""

    def make(edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
             name: str = "results.jsonl") -> Path:
        return write_raw(tmp_path / "edited" / name, edit(records(synthetic_catalogue)))

    return make
