"""A tiny synthetic catalogue and raw results file that reach every verdict rule.

The report builder is tested on data made here, not on the real catalogue
(which grows independently): each entry below is named for the verdict its
records must produce, so a test failure names the rule that broke.  The
fixtures in ``conftest.py`` write these into each test's tmp path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.catalogue import Catalogue, load

DOCUMENTS = """
[[document]]
key = "doc-a"
file = "a.txt"
title = "Document A"
summary = "Claims that ran."

[[document]]
key = "doc-b"
file = "b.txt"
title = "Document B | with a pipe"
"""


def _claim(doc: str, slug: str, *, statement: str = "", conditions: str = "",
           untestable: str = "") -> str:
    text = statement or f"The {slug} claim holds."
    extra = f"conditions = [{conditions}]\n" if conditions else ""
    extra += f'untestable = "{untestable}"\n' if untestable else ""
    return (
        f'[[entry]]\nid = "{doc}.{slug}"\nkind = "claim"\n'
        f'source = {{ document = "{doc}", section = "section of {slug}" }}\n'
        f'statement = "{text}"\nrule = "The rule for {slug}."\n'
        f'references = ["mmap(2) ERRORS"]\nprediction = "It {slug}."\n'
        f'layers = ["libc", "pymmap"]\n{extra}\n'
    )


def _spec(kind: str, slug: str) -> str:
    return (
        f'[[entry]]\nid = "{kind}.{slug}"\nkind = "{kind}"\n'
        f'source = {{ man = "mmap(2)", section = "ERRORS" }}\n'
        f'statement = "The {slug} behaviour."\nrule = "The rule for {slug}."\n\n'
    )


DOC_A = "".join([
    _claim("doc-a", "confirmed", statement="A pipe | and <script>alert(1)</script> stay text."),
    _claim("doc-a", "refuted"),
    _claim("doc-a", "partly"),
    _claim("doc-a", "conditional", conditions='"page_size == 4096"'),
])
DOC_B = "".join([
    _claim("doc-b", "unsupported"),
    _claim("doc-b", "skipped"),
    _claim("doc-b", "not-run"),
    _claim("doc-b", "untestable", untestable="no experiment can observe intent"),
    _claim("doc-b", "broken"),
    _claim("doc-b", "probe-broken"),
    _claim("doc-b", "no-prediction"),
])
SPECS = _spec("fault", "survives") + _spec("fault", "breaks") + _spec("model", "known")

#: Entry id -> the verdict the synthetic records must give it on platform "local".
EXPECTED = {
    "doc-a.confirmed": "confirmed",
    "doc-a.refuted": "refuted",
    "doc-a.partly": "qualified",
    "doc-a.conditional": "confirmed",  # entry-level conditions never qualify
    "doc-b.unsupported": "unsupported",
    "doc-b.skipped": "skipped",
    "doc-b.not-run": "skipped",
    "doc-b.untestable": "untestable",
    "doc-b.broken": "error",
    "doc-b.probe-broken": "error",
    "doc-b.no-prediction": "error",
    "fault.survives": "conforms",
    "fault.breaks": "deviates",
    "model.known": "known-deviation",
}


def write_catalogue(directory: Path) -> Catalogue:
    """Return the synthetic catalogue after writing its TOML files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "documents.toml").write_text(DOCUMENTS, encoding="utf-8")
    (directory / "doc-a.toml").write_text(DOC_A, encoding="utf-8")
    (directory / "doc-b.toml").write_text(DOC_B, encoding="utf-8")
    (directory / "specs.toml").write_text(SPECS, encoding="utf-8")
    return load(directory)


def case(claim: str, label: str, *, matched: bool | None, central: bool = True,
         layer: str | None = "libc", observed: Any = "EINVAL") -> dict[str, Any]:
    """Return a raw case record; ``predicted`` is null exactly when ``matched`` is."""
    return {"claim": claim, "case": label, "layer": layer,
            "predicted": None if matched is None else "EINVAL",
            "observed": observed, "matched": matched, "central": central,
            "evidence": {"offset": 1}}


def check(nodeid: str, claims: list[str], outcome: str = "passed", *, platform: str = "local",
          layer: str | None = "libc", cases: list[dict[str, Any]] | None = None,
          skip: dict[str, str] | None = None, longrepr: str | None = None,
          known_deviation: str | None = None,
          probes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a raw check record with the defaults of a passing libc check."""
    return {"type": "check", "nodeid": f"conformance/test_synth.py::{nodeid}",
            "platform": platform, "claims": claims, "layer": layer, "outcome": outcome,
            "skip": skip, "duration_s": 0.01, "longrepr": longrepr,
            "known_deviation": known_deviation, "cases": cases or [],
            "probes": probes or [{"kind": "returned", "target": "map_file", "value": 3}]}


FINGERPRINT = {
    "hostname": "box", "system": "Linux", "kernel_release": "6.1.0", "kernel_version": "#1 SMP",
    "machine": "x86_64", "page_size": 4096, "libc": {"name": "glibc", "version": "2.36"},
    "python": {"implementation": "CPython", "version": "3.11.7", "executable": "python3"},
    "os_release": "Debian GNU/Linux 12", "filesystems": {"/tmp": "tmpfs"}, "euid": 1000,
    "capabilities": [], "container": {"kind": None, "hints": []}, "cpu_count": 2,
    "hugepages": {"total": 0, "free": 0, "size_kb": 2048}, "user_namespaces": True,
}


def records(catalogue: Catalogue, *, platform: str = "local",
            commit: str | None = "c0ffee") -> list[dict[str, Any]]:
    """Return the raw records of a complete synthetic run on one platform."""
    a, b = "doc-a.", "doc-b."
    checks = [
        check("test_confirmed[libc]", [a + "confirmed"], cases=[
            case(a + "confirmed", "offset=1", matched=True),
            case(a + "confirmed", "offset=0", matched=None, observed=0)]),
        check("test_confirmed[pymmap]", [a + "confirmed"], layer="pymmap", cases=[
            case(a + "confirmed", "offset=1", matched=True, layer="pymmap")]),
        check("test_refuted", [a + "refuted", a + "partly"], cases=[
            case(a + "refuted", "size=0", matched=False, observed="SIGBUS"),
            case(a + "refuted", "size=1", matched=True),
            case(a + "partly", "main", matched=True),
            case(a + "partly", "side | pipe", matched=False, central=False, layer="pymmap")]),
        check("test_conditional", [a + "conditional"], cases=[
            case(a + "conditional", "page", matched=True)]),
        check("test_unsupported", [b + "unsupported"], "skipped",
              skip={"kind": "unsupported", "reason": "no hugetlbfs mounted"}),
        check("test_unsupported_too", [b + "unsupported"], "skipped",
              skip={"kind": "skipped", "reason": "needs root"}),
        check("test_skipped", [b + "skipped"], "skipped",
              skip={"kind": "skipped", "reason": "needs root"}),
        check("test_broken", [b + "broken"], "error",
              longrepr="fixture setup\nE   OSError: [Errno 28] ENOSPC while making the file"),
        check("test_probe_broken", [b + "probe-broken"], probes=[
            {"kind": "error", "target": "map_file", "message": "fork server died"}], cases=[
            case(b + "probe-broken", "x", matched=True)]),
        check("test_no_prediction", [b + "no-prediction"], cases=[
            case(b + "no-prediction", "x", matched=None)]),
        check("test_survives", ["fault.survives"], layer=None),
        check("test_breaks", ["fault.breaks"], "failed", layer=None,
              longrepr="def test_breaks():\n>   assert x\nE   AssertionError: SIGBUS expected"),
        check("test_known", ["model.known"], "xfailed", layer=None,
              known_deviation="msync ignores MS_INVALIDATE on tmpfs"),
    ]
    run = {"type": "run", "format": "mmapcheck-raw", "version": 1, "run_id": "run-1",
           "commit": commit, "dirty": False, "catalogue_digest": catalogue.digest,
           "command": ["pytest", "-p", "fixtures.plugin", "-k", "a|b"],
           "started": "2025-01-01T10:00:00Z", "hypothesis_seed": 1234, "dist": "no",
           "workers": 0}
    platform_line = {"type": "platform", "key": platform, "gateway": None,
                     "fingerprint": FINGERPRINT}
    figures = [
        {"type": "figures", "section": "faults", "platform": platform,
         "data": {"survived": 12, "kinds": {"truncate": 4, "enospc": 8}}},
        {"type": "figures", "section": "model", "platform": platform,
         "data": {"sequences": 50, "steps": 400, "rules_covered": ["map", "unmap"],
                  "disagreements": [{"summary": "a | b",
                                     "snippet": "state.map(1)\nstate.unmap(0)"}]}},
    ]
    for record in checks:
        record["platform"] = platform
    end = {"type": "end", "finished": "2025-01-01T10:01:00Z", "exitstatus": 1,
           "duration_s": 60.0, "counts": {"passed": 7, "failed": 1}}
    return [run, platform_line, *checks, *figures, end]


def write_raw(path: Path, lines: list[dict[str, Any]]) -> Path:
    """Return ``path`` after writing ``lines`` to it as JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
