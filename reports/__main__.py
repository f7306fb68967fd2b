"""Command line of the reports: ``python -m reports build | diff | matrix``.

Bad input (no run yet, a file that is not a report, a newer schema, broken
JSON) is the user's to fix, so it ends in one line on stderr and exit status
2, never a traceback.  ``diff`` follows diff(1): 0 when the two platforms
agree, 1 when they differ, 2 on trouble.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.catalogue import CATALOGUE_DIR, CatalogueError, load
from reports import compare, matrix
from reports.build import summary_lines
from reports.errors import ReportError
from reports.validate import load_report, report_schema_path
from reports.write import DEFAULT_OUT, DEFAULT_RAW, build_reports

PROG = "python -m reports"
TROUBLE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build mmapcheck conformance reports from a run, and compare the reports "
        "of several platforms.",
        epilog=f"The JSON report follows the schema in {report_schema_path().name} "
        "(reports/schema/). Typical use: 'tox -e report' runs the checks and then 'build'.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build", help="render report.json, report.md and report.html from a run's raw results",
        description="Judge every catalogue entry from the raw results of a run and write "
        "report.json (schema-validated), report.md and report.html. bench.json, stress.json "
        "and model.json found beside them are merged when they come from the same commit.",
    )
    build.add_argument("--raw", type=Path, default=DEFAULT_RAW, metavar="PATH",
                       help="raw results written by the pytest plugin (default: %(default)s)")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help="folder for the reports (default: %(default)s)")
    build.add_argument("--extras", type=Path, default=None, metavar="DIR",
                       help="folder holding bench.json, stress.json, model.json "
                       "(default: the --out folder)")
    build.add_argument("--catalogue", type=Path, default=CATALOGUE_DIR, metavar="DIR",
                       help="claim catalogue to judge against (default: the checkout's)")

    diff = commands.add_parser(
        "diff", help="show what differs between two platforms' reports",
        description="Compare two reports: platform facts, entries whose verdict or evidence "
        "changed, checks only one side ran or whose outcome changed. Exit status 0 when "
        "nothing but the platform facts differ, 1 when something does, 2 on bad input.",
    )
    diff.add_argument("a", type=Path, metavar="A.json")
    diff.add_argument("b", type=Path, metavar="B.json")
    diff.add_argument("--platform-a", metavar="ID",
                      help="platform of A to compare (needed when A has several: p1, p2, ...)")
    diff.add_argument("--platform-b", metavar="ID", help="platform of B to compare")

    grid = commands.add_parser(
        "matrix", help="build the entries x platforms table of several reports",
        description="One row per catalogue entry, one column per platform of every report "
        "given, like a browser-compatibility table.",
    )
    grid.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json")
    grid.add_argument("-o", "--output", type=Path, metavar="FILE",
                      help="write to FILE: .html for a page, .md for Markdown "
                      "(default: Markdown on standard output)")
    return parser


def _build(args: argparse.Namespace) -> int:
    catalogue = load(args.catalogue)
    written = build_reports(args.raw, args.out, catalogue, extras_dir=args.extras)
    for path in written.paths:
        print(path)
    for line in written.report["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    for extra in written.report["run"]["extras"]:
        if not extra["merged"]:
            print(f"note: {extra['file']} {extra['reason']}", file=sys.stderr)
    for line in summary_lines(written.report):
        print(line)
    return 0


def _diff(args: argparse.Namespace) -> int:
    a, b = load_report(args.a), load_report(args.b)
    result = compare.diff(a, b, args.platform_a, args.platform_b,
                          names=(str(args.a), str(args.b)))
    print("\n".join(result.lines))
    return 1 if result.differs else 0


def _matrix(args: argparse.Namespace) -> int:
    reports = [(str(path), load_report(path)) for path in args.reports]
    grid = matrix.build(reports)
    output: Path | None = args.output
    if output is None:
        sys.stdout.write(matrix.render_md(grid))
        return 0
    suffix = output.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise ReportError(f"{output}: say .html or .md as the extension of -o")
    text = matrix.render_html(grid) if suffix != ".md" else matrix.render_md(grid)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{output}: cannot write the matrix: {exc.strerror or exc}") from exc
    print(output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Return the exit status of the command given in ``argv`` (``sys.argv[1:]`` when None)."""
    args = _parser().parse_args(argv)
    handlers = {"build": _build, "diff": _diff, "matrix": _matrix}
    try:
        return handlers[args.command](args)
    except (ReportError, CatalogueError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return TROUBLE


if __name__ == "__main__":
    sys.exit(main())
