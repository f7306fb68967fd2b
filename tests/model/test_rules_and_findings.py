"""Self-tests tying the model to its catalogue, and known deviations to findings."""

from __future__ import annotations

import inspect

from helpers import catalogue
from helpers.model import rules, space
from helpers.model.deviations import KNOWN
from helpers.model.figures import Stats
from helpers.model.session import Session


def test_every_rule_is_a_model_entry_of_the_catalogue_and_back():
    entries = {e.id for e in catalogue.load().entries.values() if e.kind == "model"}
    assert set(rules.RULES) == entries


def test_every_rule_is_applied_somewhere_in_the_model():
    source = inspect.getsource(space)
    names = {name for name, value in vars(rules).items()
             if isinstance(value, str) and value in rules.RULES}
    unused = sorted(name for name in names if f"rules.{name}" not in source)
    assert not unused, f"rules the model never fires: {unused}"


def test_each_known_deviation_names_a_catalogued_deviation():
    entries = catalogue.load().entries
    for deviation in KNOWN:
        assert entries[deviation.entry].deviations, deviation.id


def test_a_known_deviation_is_recorded_as_a_finding_not_a_failure():
    stats = Stats()
    with Session(stats=stats) as session:
        for deviation in KNOWN:
            session.begin()
            for step in deviation.example:
                session.run(step)
            session.end()
    found = {f["id"]: f for f in stats.figures()["findings"]}
    for deviation in KNOWN:
        assert found[deviation.id]["count"] >= 1
        assert "replay([" in found[deviation.id]["replay"]
