"""The scratch directory: where every file a check needs is made.

Which filesystem backs a mapping decides much of what a check can see
(writeback, the bytes past end of file, DAX), so the whole suite can be
pointed at any mount a user wants validated: ``--mmapcheck-scratch DIR``,
or ``MMAPCHECK_SCRATCH``, else the temporary directory (``TMPDIR``).
:func:`use` exports the choice as both ``MMAPCHECK_SCRATCH`` and
``TMPDIR``, and resets :mod:`tempfile`'s cached directory, so that test
workers, fork servers, probes and every ``tempfile`` call of the suite
agree on one place.
"""

from __future__ import annotations

import os
import tempfile

ENV = "MMAPCHECK_SCRATCH"


class ScratchError(ValueError):
    """The scratch directory cannot hold the checks' files; the message says why."""


def directory() -> str:
    """Return the scratch directory of this run (absolute, symbolic links resolved)."""
    return os.path.realpath(os.environ.get(ENV) or tempfile.gettempdir())


def use(path: str | None) -> str:
    """Make ``path`` (None: the current choice) the scratch directory of this process and its
    children; return it.  Raise :class:`ScratchError` when it is no writable directory.
    """
    chosen = os.path.realpath(path) if path else directory()
    if not os.path.isdir(chosen):
        raise ScratchError(f"scratch directory {chosen} does not exist or is no directory")
    if not os.access(chosen, os.W_OK | os.X_OK):
        raise ScratchError(f"scratch directory {chosen} is not writable by uid {os.getuid()}")
    os.environ[ENV] = chosen
    os.environ["TMPDIR"] = chosen
    tempfile.tempdir = chosen
    return chosen
