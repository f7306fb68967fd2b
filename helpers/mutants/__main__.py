"""``python -m helpers.mutants``: the claim checks under every platform mutant, and the score.

Runs the claim checks once unmutated and once under each mutant (two
workers each), writes ``reports/out/mutants.json`` (merged into the report
by ``python -m reports build`` when it comes from the same commit) and the
raw results of every run beside it, and prints per mutant the claims it
flipped.  Exit status 1 when a claim came out ``error`` under a mutant, a
control mutant flipped a claim, or a run broke; 0 otherwise, whatever the
score (it is a figure, not a gate).  Without a C compiler nothing runs: the
file says why.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers import catalogue
from helpers.mutants import Family, build, load, run, score

OUT = run.ROOT / "reports" / "out"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.mutants", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--only", action="append", metavar="ID", default=[],
                        help="run only this mutant (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT / "mutants.json", metavar="FILE",
                        help="where the score goes (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="pytest-xdist workers per run (default: %(default)s)")
    parser.add_argument("--rescore", action="store_true",
                        help="run nothing: judge again the raw results of the last runs "
                        "(after a change of the verdict engine or of the mutants' targets)")
    parser.add_argument("selection", nargs="*", default=["conformance"],
                        help="pytest node ids to run (default: conformance)")
    return parser


def _head() -> str | None:
    """Return the commit checked out, as the raw results of a run record it."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=run.ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _print(document: dict[str, Any]) -> list[str]:
    """Print the per-mutant flips and the score; return the loud problems."""
    problems = []
    for row in document["mutants"]:
        flips = row["flipped"] + row["side_effects"]
        print(f"{row['mutant']}: {len(flips)} flipped, {len(row['errors'])} error, "
              f"{len(row['missed'])} targets missed, {row['checks_failed']} checks failed")
        for line in row["flipped"]:
            print(f"    flipped  {line}")
        for line in row["side_effects"]:
            print(f"    side     {line}")
        for line in row["missed"]:
            print(f"    missed   {line}")
        if row["problem"]:
            problems.append(f"the run under {row['mutant']} broke: {row['problem']}")
        if row["errors"]:
            problems.append(f"under {row['mutant']} {len(row['errors'])} entries came out error: "
                            + "; ".join(row["errors"]))
    if document["unstable_claims"]:
        problems.append("claims flipped under a control mutant, which changes nothing they "
                        "predict (unstable verdicts): " + ", ".join(document["unstable_claims"]))
    if document.get("spec_entries"):
        print(f"spec entries flipped by a mutant: {len(document['spec_flipped'])}/"
              f"{document['spec_entries']}")
    print(f"score: {document['proven']}/{document['claim_entries']} claim entries proven "
          f"({document['score_percent']} %, target {document['target_percent']} %)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutants and write the score; return the exit status."""
    args = _parser().parse_args(argv)
    # A terminated runner ends its pytest run first (see run.stop), never leaving it behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    family = load()
    chosen = [family.get(i) for i in args.only] or list(family.mutants)
    raw_dir = args.out.parent / "mutants"
    if args.rescore:
        baseline = run.judge("unmutated", raw_dir / "unmutated.jsonl")
        runs = {m.id: run.judge(m.id, raw_dir / f"{m.id}.jsonl") for m in chosen}
        return _finish(family, baseline, runs, args.out)
    with tempfile.TemporaryDirectory(prefix="mmapcheck-mutants-") as scratch:
        try:
            libraries = build.build(chosen, Path(scratch))
        except build.CannotBuild as exc:
            _write(args.out, {"format": "mmapcheck-mutants", "commit": _head(),
                              "skipped": str(exc)})
            print(f"mutants skipped: {exc}")
            return 0
        baseline = run.checks("unmutated", raw_dir / "unmutated.jsonl",
                              selection=args.selection, workers=args.workers)
        runs: dict[str, run.Run] = {}
        for mutant in chosen if not baseline.problem else ():
            library = libraries[mutant.id]
            announced = run.loaded(library)
            if announced != mutant.id:
                raise RuntimeError(f"{library.name} announces {announced!r}, not {mutant.id!r}")
            print(f"running the checks under {mutant.id} ...", flush=True)
            runs[mutant.id] = run.checks(mutant.id, raw_dir / f"{mutant.id}.jsonl",
                                         preload=library, selection=args.selection,
                                         workers=args.workers)
    return _finish(family, baseline, runs, args.out)


def _finish(family: Family, baseline: run.Run, runs: dict[str, run.Run], out: Path) -> int:
    """Score the runs, write and print the score; return the exit status."""
    if baseline.problem:
        print(f"ERROR: the unmutated run broke: {baseline.problem}", file=sys.stderr)
        return 1
    claims = {e.id: e.untestable or None for e in catalogue.default().entries.values()
              if e.kind == "claim"}
    specs = {e.id for e in catalogue.default().entries.values() if e.kind == "spec"}
    document = score.score(family, claims, baseline, runs, specs)
    _write(out, document)
    problems = _print(document)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    print(out)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
