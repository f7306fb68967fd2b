"""``python -m helpers.cleanup``: remove what crashed runs of the suite left behind.

By default only the leftovers of runs whose owning process is gone are
removed, so a run going on beside it is not disturbed; ``--dry-run`` lists
them; ``--all`` removes every mmapcheck object, live run or not.
"""

from __future__ import annotations

import argparse
import sys

from helpers import leftovers


def main(argv: list[str] | None = None) -> int:
    """Find leftovers, print them, remove them; return 1 if any could not be removed."""
    parser = argparse.ArgumentParser(prog="python -m helpers.cleanup",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    parser.add_argument("--all", action="store_true",
                        help="also remove objects of runs that are still alive")
    args = parser.parse_args(argv)
    found = [item for item in leftovers.find()
             if args.all or not leftovers.owner_alive(item.owner)]
    for item in found:
        print(("would remove " if args.dry_run else "removing ") + str(item))
    if args.dry_run:
        print(f"{len(found)} leftover(s) found")
        return 0
    failures = leftovers.remove(found)
    for failure in failures:
        print(f"could not remove {failure}", file=sys.stderr)
    print(f"{len(found) - len(failures)} leftover(s) removed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
