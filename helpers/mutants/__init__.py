"""Platform mutants: proof that every verdict can flip.

A verdict that cannot change whatever the platform does is no finding.
Each mutant here is a few lines of C (``sources/<id>.c``) built into a
library preloaded into the whole checking run, so that both layers (ctypes
and Python's ``mmap`` module) see a platform that breaks ONE behaviour the
man pages document, for file mappings only.  ``mutants.toml`` lists the
mutants, the claims each must flip, and the claims no such mutant can reach
with the reason.  ``python -m helpers.mutants`` runs the claim checks
unmutated and under every mutant and writes the mutation score
(:mod:`helpers.mutants.score`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DATA = HERE / "mutants.toml"


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


def load(path: Path = DATA) -> Family:
    """Return the mutant family described in ``path``; ValueError for a malformed entry."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    mutants = []
    for item in raw.get("mutant", []):
        try:
            mutant = Mutant(item["id"], item["behaviour"], item["reference"],
                            tuple(item.get("targets", ())), bool(item.get("control", False)))
        except KeyError as exc:
            raise ValueError(f"{path.name}: a mutant lacks {exc}") from None
        if not mutant.source.is_file():
            raise ValueError(f"{path.name}: mutant {mutant.id!r} lacks {mutant.source.name}")
        mutants.append(mutant)
    ids = [m.id for m in mutants]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: a mutant id appears twice")
    return Family(tuple(mutants), dict(raw.get("unprovable", {})))
