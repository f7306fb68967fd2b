"""Where a document's program runs: its own names, confined, and its sleeps or what they mean.

A replayed program keeps every name it uses (``"test.txt"``,
``"/oneShmObj"``, ``"./test.shm.file"``); :func:`replay` confines them:

- files: the probe changes into a private, empty working directory that the
  check owns (and removes), so relative names land there;
- shm names: the probe enters a private mount namespace and mounts a small
  tmpfs of its own on ``/dev/shm`` (:mod:`helpers.namespaces`), so the
  program's names live and die with the namespace.  Where the platform
  refuses a namespace, each name is prefixed with the run's unique tag
  after its last slash (``/oneShmObj`` -> ``/mmapcheck-...-oneShmObj``),
  which keeps what decides its validity, and the record says so.

The documents order their processes with ``sleep``.  The default run
replaces each sleep by the hand-off it stands for (an :class:`Event`, a
pipe: the waiting side blocks until the other posts or dies, bounded);
``MMAPCHECK_PROGRAM_SLEEPS=as-written`` also runs the programs with the
sleeps themselves, and no hand-off, so the report shows what that timing
gives.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from helpers import libc, namespaces
from helpers.probes.programs.process import run_program

SLEEPS_ENV = "MMAPCHECK_PROGRAM_SLEEPS"
REPLACED = "replaced"
AS_WRITTEN = "as-written"
#: Longest wait of a hand-off: far above any program's own sleep, so only a lost peer hits it.
HANDOFF_BOUND_S = 20.0
SHM_DIR = "/dev/shm"
#: Size of the private /dev/shm: the programs' objects are at most a page or two.
SHM_TMPFS_BYTES = 1 << 20
IN_NAMESPACE = "private /dev/shm in a mount namespace"


def timings() -> list[str]:
    """Return the timings this run replays: always the hand-offs, the sleeps when asked.

    ``MMAPCHECK_PROGRAM_SLEEPS=as-written`` adds the documents' own sleeps
    (the real seconds); anything else leaves the run fast.
    """
    wanted = os.environ.get(SLEEPS_ENV, "").strip().lower()
    return [REPLACED, AS_WRITTEN] if wanted == AS_WRITTEN else [REPLACED]


class Event:
    """A one-shot hand-off between two processes of a program: what one of its sleeps meant.

    Made before ``fork``; afterwards one side calls :meth:`post`, the other
    :meth:`wait`.  The waiter closes its copy of the write end, so a poster
    that dies first ends the wait at once (end of file) instead of at the
    bound; the poster keeps the read end, so posting to a waiter that
    never waits (the sleeps as written) or already left never raises SIGPIPE.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()

    def post(self) -> None:
        """Tell the waiting side that the awaited step has happened."""
        os.write(self._write, b"!")

    def wait(self, bound: float = HANDOFF_BOUND_S) -> bool:
        """Block until the other side posts or ends; return False if ``bound`` passed first."""
        with contextlib.suppress(OSError):
            os.close(self._write)
        ready, _, _ = select.select([self._read], [], [], bound)
        return bool(ready)


@dataclass
class Stage:
    """What a replayed program is given: the timing and the confinement of its shm names."""

    timing: str = REPLACED
    shm_tag: str = ""  #: empty inside a private /dev/shm; else the run's prefix for shm names

    def sleep(self, seconds: float) -> None:
        """The document's ``sleep(seconds)``: slept when replaying as written, else nothing."""
        if self.timing == AS_WRITTEN:
            time.sleep(seconds)

    def handoff(self, event: Event) -> None:
        """Wait for ``event`` where the default run replaces a sleep; nothing when as written."""
        if self.timing == REPLACED:
            event.wait()

    def shm(self, name: str) -> str:
        """Return the name a shm call of the program uses here: its own, or the prefixed one."""
        if not self.shm_tag:
            return name
        head, slash, tail = name.rpartition("/")
        return f"{head}{slash}{self.shm_tag}{tail}"


def _confine_shm(tag: str, private: bool) -> tuple[str, str]:
    """Give this probe a private /dev/shm if asked and allowed; return (tag to use, how)."""
    if not private:
        return tag, f"names prefixed with the run's tag {tag!r} (asked for)"
    try:
        namespaces.enter_private_mount_namespace()
        namespaces.mount_tmpfs(SHM_DIR, size=SHM_TMPFS_BYTES)
    except (namespaces.NamespaceRefused, FileNotFoundError) as exc:
        return tag, f"names prefixed with the run's tag {tag!r} ({exc})"
    return "", IN_NAMESPACE


def _shm_objects(tag: str) -> list[str]:
    """Return the objects in /dev/shm that belong to the program (all of a private one)."""
    with contextlib.suppress(FileNotFoundError):
        return sorted(n for n in os.listdir(SHM_DIR) if n.startswith(tag))
    return []


def _files() -> dict[str, str]:
    """Return the working directory's files and their text (bytes kept as backslash escapes)."""
    found = {}
    for name in sorted(os.listdir(".")):
        with open(name, "rb") as handle:
            found[name] = handle.read().decode("utf-8", "backslashreplace")
    return found


def _modes() -> dict[str, str]:
    """Return the permission bits of the working directory's files, in octal."""
    return {name: oct(os.stat(name).st_mode & 0o7777) for name in sorted(os.listdir("."))}


Program = Callable[..., int | None]


def replay(steps: Sequence[tuple[str, Program]], workdir: str, state: Mapping[str, str | None],
           timing: str = REPLACED, shm_tag: str | None = None, shm_state: Sequence[str] = (),
           private_shm: bool = True, same: tuple[str, str] | None = None, processes: int = 2,
           runs: int = 1) -> dict[str, Any]:
    """Run a document's program(s) as written, in ``workdir``, from the starting ``state``.

    ``steps`` are (label, program) run one after another, each as a process
    of its own (a writer, then a reader).  ``state`` maps file names to
    their starting text (None: absent); it is laid down afresh before each
    of ``runs`` runs.  ``shm_tag`` (the run's unique tag) says the program
    uses POSIX shm and must be confined; ``shm_state`` names the program's
    shm objects that exist before it starts (empty); ``private_shm=False``
    prefixes the names even where a private /dev/shm could be had (the
    fallback, exercised everywhere).  ``same`` names two files to compare
    afterwards (``identical``: both exist and hold the same bytes).

    Returns, per run and step, the output and how each process ended, and
    after the last run the files, their modes, the shm objects left and how
    the names were confined.
    """
    os.chdir(workdir)
    tag, confinement = ("", "no shm names") if shm_tag is None else \
        _confine_shm(shm_tag, private_shm)
    stage = Stage(timing=timing, shm_tag=tag)
    timeout = 30.0 if timing == AS_WRITTEN else 10.0
    results: list[dict[str, Any]] = []
    try:
        for _ in range(runs):
            for name in os.listdir("."):
                os.unlink(name)
            for name, text in state.items():
                if text is not None:
                    with open(name, "x", encoding="utf-8") as handle:
                        handle.write(text)
            for name in shm_state:
                os.close(libc.shm_open(stage.shm(name), os.O_RDWR | os.O_CREAT, 0o600))
            results.append({label: run_program(program, stage, processes=processes,
                                               timeout=timeout)
                            for label, program in steps})
        left = _shm_objects(tag) if shm_tag is not None else []
    finally:
        if tag:  # prefixed names on the host's /dev/shm: nothing of the program may stay
            for name in _shm_objects(tag):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(SHM_DIR, name))
    files = _files()
    identical = same is not None and all(n in files for n in same) and \
        files[same[0]] == files[same[1]]
    return {"runs": results, "last": results[-1], "files": files, "modes": _modes(),
            "identical": identical,
            "shm_left": left, "shm_objects_left": len(left), "confinement": confinement,
            "timing": timing}
