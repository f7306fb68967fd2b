"""``python -m helpers.matrix``: the claim checks once per platform variant, one report.

Usage: ``python -m helpers.matrix [--variants ext4,tmpfs] [--out DIR] [PYTEST ARGS ...]``
(``tox -e matrix``).  Prints, per variant, whether it ran (and how long) or
why it was left out, then where the report and the matrix page are.  Exit
status 0 when every variant that ran passed its checks and the report was
written.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from helpers.matrix import merge, variants, workspace
from helpers.model.profiles import DEPTH_ENV

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "reports" / "out" / "matrix"
#: Seconds a variant's run gets to end after SIGTERM before it is killed.
GRACE = 20


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: mounts are undone


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.matrix", description=__doc__)
    parser.add_argument("--variants", default=None, metavar="A,B",
                        help="variants to run (default: all of "
                             f"{', '.join(v.name for v in variants.VARIANTS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="folder for the raw results, report and matrix (default: %(default)s)")
    parser.add_argument("pytest_args", nargs="*", metavar="PYTEST ARGS",
                        help="what pytest runs in each variant (default: conformance)")
    return parser


def _command(variant: variants.Variant, made: variants.Made, raw: Path,
             pytest_args: list[str]) -> list[str]:
    command = [*made.wrapper, sys.executable, "-m", "pytest", *(pytest_args or ["conformance"]),
               "-n", "auto", "-q", "-p", "no:cacheprovider", "--mmapcheck-raw", str(raw)]
    if made.scratch:
        command += ["--mmapcheck-scratch", made.scratch]
    if variant.depends_on:
        command += ["--mmapcheck-depends-on", ",".join(variant.depends_on)]
    return command


def _run(command: list[str], env: dict[str, str], space: workspace.Workspace) -> int:
    """Run ``command`` in a session of its own; on an interruption end it, then re-raise."""
    child = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    space.running(child.pid)
    try:
        return child.wait()
    except BaseException:
        for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, None)):
            try:
                os.killpg(child.pid, sig)
                child.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        raise
    finally:
        if child.returncode is not None:
            space.running(None)


def run_variant(variant: variants.Variant, out: Path,
                pytest_args: list[str]) -> dict[str, Any]:
    """Make ``variant``, run its checks, undo it; return what happened."""
    result: dict[str, Any] = {"name": variant.name, "description": variant.description,
                              "reran": list(variant.depends_on or ["every check"])}
    started = time.perf_counter()
    space = workspace.Workspace()
    try:
        try:
            made = variant.make(space)
        except variants.LeftOut as exc:
            result.update(status="left out", reason=str(exc))
            return result
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            result.update(status="left out", reason=f"could not make it: {detail!s}")
            return result
        raw = out / "raw" / f"{variant.name}.jsonl"
        raw.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "MMAPCHECK_OWNER"}
        if variant.depends_on:
            env[DEPTH_ENV] = "matrix"
        result.update(status="ran", raw=str(raw))
        result["exit"] = _run(_command(variant, made, raw, pytest_args), env, space)
        return result
    finally:
        problems = space.close()
        result["seconds"] = round(time.perf_counter() - started, 1)
        if problems:
            print(f"matrix: {variant.name}: could not undo: {'; '.join(problems)}",
                  file=sys.stderr)


def _report(ran: list[dict[str, Any]], out: Path) -> int:
    """Merge the variants' raw results and build the report and the matrix page."""
    merged = out / "raw" / "results.jsonl"
    merge.merge([(v, Path(v["raw"])) for v in ran if Path(v["raw"]).exists()], merged,
                ["python", "-m", "helpers.matrix", *sys.argv[1:]])
    status = 0
    for command in (["build", "--raw", str(merged), "--out", str(out)],
                    ["matrix", str(out / "report.json"), "-o", str(out / "matrix.html")]):
        status |= subprocess.run([sys.executable, "-m", "reports", *command], cwd=ROOT,
                                 check=False).returncode
    return status


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupted)
    for line in workspace.clean_stale():
        print(f"matrix: undid what an earlier run left: {line}")
    try:
        chosen = variants.chosen(args.variants.split(",") if args.variants else None)
    except ValueError as exc:
        print(f"matrix: {exc}", file=sys.stderr)
        return 2
    results = []
    for variant in chosen:
        outcomes = [run_variant(variant, args.out, args.pytest_args)]
        if outcomes[0]["status"] != "ran" and variant.depends_on is None and not args.variants:
            # the full run is made where this user can make it
            outcomes.append(run_variant(variants.HOST, args.out, args.pytest_args))
        for result in outcomes:
            shown = (f"ran in {result['seconds']} s, pytest exit {result['exit']}"
                     if result["status"] == "ran" else f"left out: {result['reason']}")
            print(f"matrix: {result['name']} ({result['description']}): {shown}", flush=True)
        results += outcomes
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "variants.json").write_text(json.dumps(results, indent=1))
    ran = [r for r in results if r["status"] == "ran"]
    if not ran:
        print("matrix: no variant could run here", file=sys.stderr)
        return 1
    status = _report(ran, args.out)
    print(f"matrix: {len(ran)} variant(s) ran, {len(results) - len(ran)} left out; "
          f"{args.out / 'report.html'}, {args.out / 'matrix.html'}, {args.out / 'variants.json'}")
    failed = [r["name"] for r in ran if r["exit"] not in (0, 5)]  # 5: nothing to re-run there
    return 1 if failed or status else 0


if __name__ == "__main__":
    sys.exit(main())
