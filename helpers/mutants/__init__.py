"""Platform mutants: proof that every verdict can flip.

A verdict that cannot change whatever the platform does is no finding.
Each mutant here is a few lines of C (``sources/<id>.c``) built into a
library preloaded into the whole checking run, so that both layers (ctypes
and Python's ``mmap`` module) see a platform that breaks ONE behaviour the
man pages document, while the interpreter, the fork server and pytest run
unharmed.  A mutant may change file mappings for every caller (those three
map no files through the C library), but anonymous mappings only for probe
calls: ``probe_call()`` in ``sources/mutant.h`` looks at the object the
interposed function returns into, and only libffi (every ctypes call),
``_ctypes`` and Python's ``mmap`` module count, so the interpreter's own
arenas and glibc's malloc keep the real platform.  For the pymmap layer
that makes every ``mmap.mmap()`` a probe call: in a checking run only the
checks create mmap objects.  The files of ``family/`` list the mutants in groups, each with the
claims it must flip; ``unprovable.toml`` lists the claims no such mutant can
reach, with the reason.  ``python -m helpers.mutants`` runs the claim checks
unmutated and under every mutant and writes the mutation score
(:mod:`helpers.mutants.score`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
FAMILY = HERE / "family"
UNPROVABLE = HERE / "unprovable.toml"
#: The keys of a ``[[mutant]]`` block; a block of ``id`` and ``targets`` alone
#: adds targets to a mutant defined in another file of the family.
_KEYS = {"id", "behaviour", "reference", "targets", "control"}


@dataclass(frozen=True)
class Mutant:
    """One platform mutant: the behaviour it breaks and the claims that must notice."""

    id: str
    behaviour: str
    reference: str
    targets: tuple[str, ...]
    control: bool = False

    @property
    def source(self) -> Path:
        """Return the C source of this mutant."""
        return SOURCES / f"{self.id}.c"


@dataclass(frozen=True)
class Family:
    """Every mutant, and the claims none can flip with the reason."""

    mutants: tuple[Mutant, ...]
    unprovable: dict[str, str]

    def get(self, mutant_id: str) -> Mutant:
        """Return the mutant ``mutant_id``; KeyError names the known ones."""
        for mutant in self.mutants:
            if mutant.id == mutant_id:
                return mutant
        raise KeyError(f"no mutant {mutant_id!r}; known: {', '.join(m.id for m in self.mutants)}")


def load(family: Path = FAMILY, unprovable: Path = UNPROVABLE) -> Family:
    """Return the mutants of every file in ``family`` and the reasons in ``unprovable``.

    ValueError names the file and the mutant for a malformed block, an id
    defined twice, extra targets for an unknown mutant, a mutant without its
    source, or a claim that is both a target and listed as unprovable.
    """
    defined: dict[str, Mutant] = {}
    extra: list[tuple[str, str, tuple[str, ...]]] = []
    for path in sorted(family.glob("*.toml")):
        for item in tomllib.loads(path.read_text(encoding="utf-8")).get("mutant", []):
            where = f"{path.name}: mutant {item.get('id', '?')!r}"
            unknown = set(item) - _KEYS
            if unknown or "id" not in item:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)} or no id")
            targets = tuple(item.get("targets", ()))
            if set(item) <= {"id", "targets"}:
                extra.append((where, item["id"], targets))
                continue
            try:
                mutant = Mutant(item["id"], item["behaviour"], item["reference"], targets,
                                bool(item.get("control", False)))
            except KeyError as exc:
                raise ValueError(f"{where} lacks {exc}") from None
            if mutant.id in defined:
                raise ValueError(f"{where} is defined twice")
            if not mutant.source.is_file():
                raise ValueError(f"{where} lacks {mutant.source.name}")
            defined[mutant.id] = mutant
    for where, mutant_id, targets in extra:
        if mutant_id not in defined:
            raise ValueError(f"{where} adds targets to a mutant no file defines")
        base = defined[mutant_id]
        added = tuple(t for t in targets if t not in base.targets)
        defined[mutant_id] = replace(base, targets=base.targets + added)
    reasons = tomllib.loads(unprovable.read_text(encoding="utf-8"))
    for mutant in defined.values():
        if mutant.control and mutant.targets:
            raise ValueError(f"control mutant {mutant.id!r} has targets")
        both = sorted(set(mutant.targets) & set(reasons))
        if both:
            raise ValueError(f"{unprovable.name}: {', '.join(both)} is a target of "
                             f"{mutant.id!r}, so not unprovable: drop its reason")
    return Family(tuple(defined.values()), dict(reasons))
