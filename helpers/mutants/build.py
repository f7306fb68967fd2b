"""Build the mutants' C sources into libraries that LD_PRELOAD can load.

The system compiler does it (``$CC``, else ``cc``, ``gcc`` or ``clang``);
without one, or off Linux where LD_PRELOAD interposition is what the
mutants rely on, :class:`CannotBuild` says why, so that callers skip with
the reason rather than fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from helpers.mutants import SOURCES, Mutant

_CANDIDATES = ("cc", "gcc", "clang")
_FLAGS = ("-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror")


class CannotBuild(RuntimeError):
    """No mutant can be built here; the message is the reason."""


def compiler() -> str:
    """Return the path of the C compiler to use; raise CannotBuild when there is none."""
    if sys.platform != "linux":
        raise CannotBuild(f"platform mutants preload C libraries on Linux; this is {sys.platform}")
    wanted = [os.environ["CC"]] if os.environ.get("CC") else list(_CANDIDATES)
    for name in wanted:
        found = shutil.which(name)
        if found:
            return found
    raise CannotBuild(f"no C compiler found (looked for {', '.join(wanted)})")


def build(mutants: Iterable[Mutant], dest: Path) -> dict[str, Path]:
    """Compile each mutant into ``dest/<id>.so`` and return the library per mutant id.

    A source that does not compile is a bug of this package: CalledProcessError
    carries the compiler's message.
    """
    cc = compiler()
    built = {}
    for mutant in mutants:
        library = dest / f"{mutant.id}.so"
        subprocess.run(
            [cc, *_FLAGS, f"-DMUTANT_ID=\"{mutant.id}\"", f"-I{SOURCES}", "-o", str(library),
             str(mutant.source), "-ldl"],
            check=True, capture_output=True, text=True, timeout=120,
        )
        built[mutant.id] = library
    return built
