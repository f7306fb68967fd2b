"""The speed claims are judged the way their catalogue entries say: margin, cases, alone."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import catalogue
from helpers.probes.timing import MARGIN

ROOT = Path(__file__).resolve().parents[2]
TIMING = ROOT / "conformance" / "test_performance.py"


def _claims_of(path: Path) -> set[str]:
    """Return the entry ids the ``claim`` markers of a check module name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "claim":
            found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant))
    return found


def test_every_speed_claim_states_the_margin_the_checks_use() -> None:
    claims = _claims_of(TIMING)
    assert len(claims) == 5
    known = catalogue.default()
    for entry_id in claims:
        entry = known[entry_id]
        assert f"{round(MARGIN * 100)} percent" in entry.method, entry_id
        assert "serial" in entry.method and entry.cases, entry_id


def test_the_speed_checks_run_alone() -> None:
    assert "pytestmark = pytest.mark.serial" in TIMING.read_text()
