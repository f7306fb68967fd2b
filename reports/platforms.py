"""Group the workers of a run into platforms and name each platform for people.

Workers of one host with one Python report equal fingerprints: they are one
platform, and their results are pooled.  With ``--dist each`` over several
gateways the fingerprints differ, and every result stays with the platform
that produced it, which is the point of running there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reports.raw import PlatformRecord


def digest(fingerprint: Mapping[str, Any] | None) -> str:
    """Return a short stable hash of a fingerprint, to recognise a platform across reports."""
    text = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def nested(data: Mapping[str, Any], *path: str) -> Any:
    """Return ``data[path[0]][path[1]]...``, None where a level is missing or not a mapping."""
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)  # type: ignore[assignment]
    return data


def label(fingerprint: Mapping[str, Any] | None, gateways: Iterable[str] = ()) -> str:
    """Return a one-line name: host, kernel, machine, page size, libc, Python, container."""
    if not fingerprint:
        names = ", ".join(gateways)
        return "unknown platform" + (f" ({names})" if names else "")
    parts = [
        str(fingerprint.get("hostname") or "?"),
        " ".join(
            str(p) for p in (fingerprint.get("system"), fingerprint.get("kernel_release"),
                             fingerprint.get("machine")) if p
        ),
    ]
    if fingerprint.get("page_size"):
        parts.append(f"page {fingerprint['page_size']}")
    libc = " ".join(str(p) for p in (nested(fingerprint, "libc", "name"),
                                      nested(fingerprint, "libc", "version")) if p)
    if libc:
        parts.append(libc)
    python = " ".join(str(p) for p in (nested(fingerprint, "python", "implementation"),
                                        nested(fingerprint, "python", "version")) if p)
    if python:
        parts.append(python)
    container = nested(fingerprint, "container", "kind")
    if container:
        parts.append(f"in {container}")
    variant = nested(fingerprint, "variant", "name")
    if variant:  # a platform variant of a matrix run names itself first
        parts.insert(0, f"{variant}: {nested(fingerprint, 'variant', 'description')}")
    return " / ".join(part for part in parts if part)


def merge(
    records: Iterable[PlatformRecord], used_keys: Iterable[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Return the report's platform entries and a map from worker key to platform id.

    Records with equal fingerprints become one platform listing all their keys
    and gateways.  A key that checks name but no platform record describes
    (a worker that died before reporting) gets a platform of its own with an
    unknown fingerprint rather than being folded into another.
    """
    platforms: list[dict[str, Any]] = []
    by_digest: dict[str, dict[str, Any]] = {}
    key_to_id: dict[str, str] = {}

    def add(key: str, gateway: str | None, fingerprint: dict[str, Any] | None) -> None:
        found = by_digest.get(digest(fingerprint)) if fingerprint else None
        if found is None:
            found = {
                "id": f"p{len(platforms) + 1}",
                "label": "",
                "digest": digest(fingerprint),
                "keys": [],
                "gateways": [],
                "fingerprint": fingerprint,
            }
            platforms.append(found)
            if fingerprint:
                by_digest[found["digest"]] = found
        found["keys"].append(key)
        if gateway and gateway not in found["gateways"]:
            found["gateways"].append(gateway)
        key_to_id[key] = found["id"]

    for record in records:
        add(record.key, record.gateway, record.fingerprint)
    for key in used_keys:
        if key not in key_to_id:
            add(key, None, None)
    for platform in platforms:
        platform["keys"].sort(key=lambda key: (len(key), key))  # gw2 before gw10
        platform["label"] = label(platform["fingerprint"], platform["gateways"] or platform["keys"])
    return platforms, key_to_id
