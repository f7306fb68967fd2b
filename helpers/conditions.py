"""Platform predicates of the catalogue's side cases: ``when = "scratch_fs in [tmpfs, ramfs]"``.

A side case that is expected to differ somewhere names the circumstance in
words (``condition``) and, where a fact of the platform decides it, as a
predicate (``when``) over a small closed set of facts, so that ``reports``
can tell a mismatch the condition explains from one it does not.

Grammar: comparisons joined by ``and``; a comparison is ``FACT OP VALUE``
with OP one of ``==``, ``!=``, ``>=``, ``<=``, ``>``, ``<``, ``in``,
``not in``; VALUE a bare word, a number, a dotted version (``5.8``),
``true``/``false``, or a list ``[a, b]``.  Versions compare numerically part
by part, so ``kernel >= 5.8`` holds for ``6.18.44-fc``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The facts a predicate may name, and what each means.
FACTS = {
    "layer": "the layer the case ran in: libc or pymmap",
    "page_size": "the page size in bytes (sysconf(_SC_PAGESIZE))",
    "scratch_fs": "filesystem type of the scratch directory the checks' files live in",
    "scratch_data_fs": "filesystem type holding the data of the scratch directory's files: "
                       "scratch_fs itself, or for an overlay its upper layer's (writes go there)",
    "shm_fs": "filesystem type behind /dev/shm (POSIX shared memory)",
    "shm_data_fs": "filesystem type holding the data of /dev/shm's files: shm_fs itself, or "
                   "for an overlay its upper layer's",
    "scratch_noexec": "true when the scratch directory is on a mount with noexec "
                      "(PROT_EXEC: EPERM)",
    "shm_noexec": "true when /dev/shm is on a mount with noexec (PROT_EXEC: EPERM)",
    "scratch_huge": "huge page policy of the tmpfs holding the scratch files (its huge= option, "
                    "or shmem_enabled's force or deny): never, always, within_size, advise",
    "shm_huge": "huge page policy of the tmpfs behind /dev/shm, as scratch_huge",
    "arch": "machine architecture (uname -m)",
    "kernel": "kernel release (uname -r), compared as a version",
    "privileged": "true when the run holds CAP_SYS_ADMIN in the initial user namespace",
    "libc": "C library name, e.g. glibc or musl",
    "in_container": "true when the run is in a PID namespace other than the initial one",
}

_OPS = ("not in", "in", "==", "!=", ">=", "<=", ">", "<")
_COMPARISON = re.compile(
    r"^\s*(?P<fact>[a-z_]+)\s*(?P<op>not\s+in|in|==|!=|>=|<=|>|<)\s*(?P<value>.+?)\s*$"
)


class ConditionError(ValueError):
    """A ``when`` predicate is malformed; the message says what and how to write it."""


@dataclass(frozen=True)
class Comparison:
    """One ``FACT OP VALUE`` of a predicate."""

    fact: str
    op: str
    value: Any

    def holds(self, facts: Mapping[str, Any]) -> bool | None:
        """Return whether the comparison holds on ``facts``; None when the fact is unknown."""
        actual = facts.get(self.fact)
        if actual is None:
            return None
        if self.op in ("in", "not in"):
            inside = any(_equal(actual, v) for v in self.value)
            return inside if self.op == "in" else not inside
        if self.op in ("==", "!="):
            return _equal(actual, self.value) == (self.op == "==")
        left, right = _version(actual), _version(self.value)
        if left is None or right is None:
            return None
        return {">=": left >= right, "<=": left <= right,
                ">": left > right, "<": left < right}[self.op]


def _scalar(text: str) -> Any:
    text = text.strip().strip("'\"")
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _version(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    parts = re.match(r"^(\d+(?:\.\d+)*)", str(value))
    return tuple(int(p) for p in parts.group(1).split(".")) if parts else None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return str(actual) == str(expected)


def parse(text: str) -> tuple[Comparison, ...]:
    """Return the comparisons of predicate ``text``; raise ConditionError when malformed."""
    comparisons = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _COMPARISON.match(part)
        if match is None:
            raise ConditionError(
                f"{part!r} is not 'FACT OP VALUE' (OP one of {', '.join(_OPS)})")
        fact, op, raw = match["fact"], re.sub(r"\s+", " ", match["op"]), match["value"]
        if fact not in FACTS:
            raise ConditionError(f"unknown fact {fact!r}; the facts are {sorted(FACTS)}")
        if op in ("in", "not in"):
            if not (raw.startswith("[") and raw.endswith("]")):
                raise ConditionError(f"{part!r}: '{op}' takes a list such as [tmpfs, ramfs]")
            value: Any = tuple(_scalar(v) for v in raw[1:-1].split(",") if v.strip())
        else:
            value = _scalar(raw)
            if op not in ("==", "!=") and _version(value) is None:
                raise ConditionError(f"{part!r}: '{op}' compares numbers or versions")
        comparisons.append(Comparison(fact, op, value))
    return tuple(comparisons)


def holds(text: str, facts: Mapping[str, Any]) -> bool | None:
    """Return whether predicate ``text`` holds on ``facts``.

    None when a fact it names is unknown on this platform (a report built
    from an older or partial fingerprint): the caller then cannot say the
    condition explains anything, and must not pretend it does.
    """
    results = [c.holds(facts) for c in parse(text)]
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True
