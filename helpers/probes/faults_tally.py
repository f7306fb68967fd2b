"""The fault section's figures: per fault kind, the errnos and signals its checks saw.

Each fault test module keeps one :class:`FaultTally`; after every check it
adds the check's record (claims and probe outcomes, as the ``probe`` fixture
keeps them) and at the end of the module it publishes one table through
the plugin's ``report_figures``.  Pure data in, data out, so the report's
"faults survived" table can be rebuilt from the raw records as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_ERRNO = re.compile(r"^E[A-Z0-9]+$")


def _errno_names(value: Any) -> Iterable[str]:
    """Yield every errno name found in a probe's returned evidence, at any depth."""
    if isinstance(value, str) and _ERRNO.match(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _errno_names(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _errno_names(item)


def observed(outcome: Mapping[str, Any]) -> set[str]:
    """Return what one probe outcome (as ``Outcome.to_dict``) shows: errnos, signals."""
    kind = outcome.get("kind")
    if kind == "signalled":
        code = outcome.get("si_code")
        return {f"{outcome.get('signal')}/{code}" if code else str(outcome.get("signal"))}
    if kind == "raised":
        return {outcome.get("errno") or str(outcome.get("exception"))}
    if kind == "returned":
        return set(_errno_names(outcome.get("value"))) or {"no error"}
    return {str(kind)}


class FaultTally:
    """Collects, for the checks of one test module, what each fault kind produced."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._seen: dict[str, set[str]] = {}
        self._checks: dict[str, int] = {}
        self._publish: Callable[[str, dict[str, Any]], None] | None = None

    def add(self, record: Mapping[str, Any],
            publish: Callable[[str, dict[str, Any]], None]) -> None:
        """Count one check's record; keep ``publish`` (``report_figures``) for the end."""
        self._publish = publish
        seen: set[str] = set()
        for outcome in record.get("probes", ()):
            seen |= observed(outcome)
        for fault in record.get("claims", ()):
            if fault.startswith("fault."):
                self._checks[fault] = self._checks.get(fault, 0) + 1
                self._seen.setdefault(fault, set()).update(seen)

    def figures(self) -> dict[str, Any]:
        """Return the module's table: one row per fault kind."""
        rows = [{"fault": fault, "checks": self._checks[fault],
                 "observed": ", ".join(sorted(self._seen[fault]))}
                for fault in sorted(self._checks)]
        return {"module": self.module, "faults": rows}

    def publish(self) -> None:
        """Hand the table to ``report_figures`` if any check of the module ran."""
        if self._publish is not None and self._checks:
            self._publish("faults", self.figures())
