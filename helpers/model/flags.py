"""Flag words the model and its steps use instead of numbers.

The model is plain Python and must not depend on the C library, so a step
spells its flags as words (``"READ|WRITE"``, ``"SHARED|FIXED"``) and only the
executor turns them into the platform's values.  The words are the C names
without their prefix; ``"NONE"`` (or an empty string) is no flag at all, and a
hexadecimal word (``"0x40"``) is a bit no call defines, used to provoke the
``EINVAL`` the man pages promise for unknown bits.
"""

from __future__ import annotations

from functools import cache

#: Words of each family, with the C prefix the executor puts in front.
PROT_WORDS = ("READ", "WRITE", "EXEC")
MAP_WORDS = ("SHARED", "PRIVATE", "ANONYMOUS", "FIXED")
MS_WORDS = ("ASYNC", "SYNC", "INVALIDATE")
OPEN_WORDS = ("RDONLY", "WRONLY", "RDWR", "CREAT", "EXCL")

#: A protection bit that mprotect(2) does not define (PROT_SEM is 0x8 on Linux).
UNDEFINED_PROT = "0x40"
#: An msync(2) flag bit that is none of MS_ASYNC, MS_INVALIDATE, MS_SYNC.
UNDEFINED_MS = "0x8"

PREFIXES = {"prot": "PROT_", "map": "MAP_", "ms": "MS_", "open": "O_"}
_KNOWN = {"prot": PROT_WORDS, "map": MAP_WORDS, "ms": MS_WORDS, "open": OPEN_WORDS}


class FlagError(ValueError):
    """A step spells a flag the model does not know; the message names it."""


@cache
def words(text: str, family: str) -> frozenset[str]:
    """Return the set of words in ``text`` (``"READ|WRITE"``); raise FlagError for a typo.

    ``"NONE"`` and ``""`` are the empty set.  Hexadecimal words stand for bits
    no call defines and are kept as they are.
    """
    found = frozenset(w.strip() for w in text.split("|") if w.strip() not in ("", "NONE"))
    for word in found:
        if word not in _KNOWN[family] and not word.startswith("0x"):
            known = ", ".join(_KNOWN[family])
            raise FlagError(f"{word!r} is not a {family} flag word; use one of {known}, NONE "
                            "or a hexadecimal bit such as 0x40")
    return found


def spell(chosen: frozenset[str] | set[str], family: str) -> str:
    """Return the words of ``chosen`` joined by ``|`` in a stable order, ``NONE`` if empty."""
    order = {w: i for i, w in enumerate(_KNOWN[family])}
    ordered = sorted(chosen, key=lambda w: (order.get(w, len(order)), w))
    return "|".join(ordered) or "NONE"


def c_spelling(text: str, family: str) -> str:
    """Return the C spelling of ``text``: ``"READ|WRITE"`` -> ``"PROT_READ|PROT_WRITE"``."""
    chosen = words(text, family)
    if not chosen:
        return "PROT_NONE" if family == "prot" else "0"
    prefix = PREFIXES[family]
    return "|".join(w if w.startswith("0x") else prefix + w
                    for w in spell(chosen, family).split("|"))
