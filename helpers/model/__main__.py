"""``python -m helpers.model``: the model's benchmark and replay from the command line.

``--bench`` prints the executor's steps per second (see :mod:`helpers.model.bench`);
``--replay FILE`` runs a program printed by a disagreement (the same as
``python FILE`` from the checkout, with the checkout put on the path).
"""

from __future__ import annotations

import argparse
import runpy
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run what it asks for."""
    parser = argparse.ArgumentParser(prog="python -m helpers.model",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bench", action="store_true", help="measure steps per second")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement")
    parser.add_argument("--sequences", type=int, default=40,
                        help="state-machine sequences per round")
    parser.add_argument("--replay", metavar="FILE", help="run a replay program")
    args = parser.parse_args(argv)
    if args.replay:
        runpy.run_path(args.replay, run_name="__main__")
        return 0
    if not args.bench:
        parser.print_help()
        return 2
    if args.rounds < 3 or args.sequences < 5:
        parser.error("--rounds must be at least 3 and --sequences at least 5")
    from helpers.model.bench import bench

    return bench(rounds=args.rounds, sequences=args.sequences)


if __name__ == "__main__":
    sys.exit(main())
