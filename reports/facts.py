"""Platform facts: the few properties of a platform a verdict's conditions are stated in.

The catalogue's side cases name the circumstance under which they differ as
a predicate over these facts (:mod:`helpers.conditions`); a refuted verdict
attaches them as data, and ``matrix`` looks for the facts that separate the
platforms where a claim holds from those where it does not.  They are read
from a platform's fingerprint (:mod:`helpers.platform`), and a fact the
fingerprint lacks stays None: an unknown fact explains nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reports.platforms import nested

#: The facts attached to a refuted verdict, in the order they are shown.
SHOWN = ("layer", "scratch_fs", "scratch_data_fs", "shm_fs", "shm_data_fs", "page_size",
         "kernel", "arch", "privileged")
#: Facts shown only where they add to another: the filesystem holding the files' data
#: differs from the mount's type only on an overlay (it is the upper layer's).
_ONLY_WHERE_DIFFERENT = {"scratch_data_fs": "scratch_fs", "shm_data_fs": "shm_fs"}


def of(fingerprint: Mapping[str, Any] | None, layer: str | None = None) -> dict[str, Any]:
    """Return the facts of a platform from its ``fingerprint`` (None where unknown).

    ``shm_fs`` falls back to the type the fingerprint lists for ``/dev/shm``,
    which is what that fact means; the scratch directory's type and
    ``privileged`` are taken only where the fingerprint states them.  A
    fingerprint older than the ``*_data_fs`` facts gives the mount's own type
    for them, except on an overlay, whose upper layer it never recorded.
    """
    fp = fingerprint or {}
    filesystems = fp.get("filesystems") if isinstance(fp.get("filesystems"), Mapping) else {}
    scratch_fs = fp.get("scratch_fs")
    shm_fs = fp.get("shm_fs") or filesystems.get("/dev/shm")
    return {
        "layer": layer,
        "scratch_fs": scratch_fs,
        "scratch_data_fs": _data_fs(fp, "scratch_data_fs", scratch_fs),
        "shm_fs": shm_fs,
        "shm_data_fs": _data_fs(fp, "shm_data_fs", shm_fs),
        "page_size": fp.get("page_size"),
        "kernel": fp.get("kernel_release"),
        "arch": fp.get("machine"),
        "privileged": fp.get("privileged"),
        "libc": nested(fp, "libc", "name"),
        "in_container": fp.get("in_container"),
        "scratch_noexec": fp.get("scratch_noexec"),
        "shm_noexec": fp.get("shm_noexec"),
        "scratch_huge": fp.get("scratch_huge"),
        "shm_huge": fp.get("shm_huge"),
    }


def _data_fs(fp: Mapping[str, Any], key: str, mount_fs: Any) -> Any:
    if key in fp:
        return fp.get(key)
    return None if mount_fs == "overlay" else mount_fs


def shown(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Return the facts a refuted verdict attaches, in their order.

    The data filesystem facts only where they are known and differ from the
    mount's type (an overlay's upper layer): elsewhere they repeat it.
    """
    return {name: facts.get(name) for name in SHOWN
            if name not in _ONLY_WHERE_DIFFERENT
            or facts.get(name) not in (None, facts.get(_ONLY_WHERE_DIFFERENT[name]))}


def describe(facts: Mapping[str, Any]) -> str:
    """Return ``layer=libc, scratch_fs=ext4, ...`` for the known facts."""
    return ", ".join(f"{k}={_text(v)}" for k, v in shown(facts).items() if v is not None)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _values(group: Iterable[Mapping[str, Any]], name: str) -> set[str] | None:
    values = {_text(facts.get(name)) for facts in group if facts.get(name) is not None}
    if any(facts.get(name) is None for facts in group):
        return None
    return values


def separating(holds: Sequence[Mapping[str, Any]],
               fails: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the facts whose values on ``holds`` platforms and on ``fails`` ones never meet.

    Each is ``{fact, holds: [values], fails: [values]}``.  A fact unknown on
    any platform of either group separates nothing: it cannot be said to.
    """
    found = []
    for name in SHOWN:
        if name == "layer":
            continue
        left, right = _values(holds, name), _values(fails, name)
        if left and right and not left & right:
            found.append({"fact": name, "holds": sorted(left), "fails": sorted(right)})
    return found


def where(found: Sequence[Mapping[str, Any]], side: str) -> str:
    """Return ``kernel in [6.1], page_size == 4096`` for one side of :func:`separating`."""
    parts = []
    for item in found:
        values = item[side]
        parts.append(f"{item['fact']} == {values[0]}" if len(values) == 1
                     else f"{item['fact']} in [{', '.join(values)}]")
    return " and ".join(parts)


_HOLDS = ("confirmed", "conforms")
_FAILS = ("refuted", "differs")


def across(results: Sequence[tuple[str, Mapping[str, Any], str]]) -> dict[str, Any] | None:
    """Return the verdict across platforms given ``(verdict, facts, platform)`` of each.

    A claim confirmed on some platforms and refuted on others is
    ``qualified`` across them, with the facts that separate the two groups
    ("holds where kernel == 6.1, not where kernel == 5.4"); None when the
    platforms do not split that way.
    """
    holds = [(facts, name) for verdict, facts, name in results if verdict in _HOLDS]
    fails = [(facts, name) for verdict, facts, name in results if verdict in _FAILS]
    if not holds or not fails:
        return None
    found = separating([f for f, _ in holds], [f for f, _ in fails])
    on = ", ".join(name for _, name in holds)
    off = ", ".join(name for _, name in fails)
    if found:
        text = f"holds where {where(found, 'holds')}, not where {where(found, 'fails')}"
    else:
        text = f"holds on {on}, not on {off}; no recorded platform fact separates them"
    return {"verdict": "qualified", "holds_on": [n for _, n in holds],
            "fails_on": [n for _, n in fails], "conditions": found, "holds": text}
