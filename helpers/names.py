"""Recognisable names for everything the suite creates.

Every file, POSIX shm object and System V key the suite makes carries the
prefix ``mmapcheck-<owner pid>-<token>-``.  The owner is the process that
started the run (the pytest controller, the benchmark, the stress driver): it
is exported to every child through ``MMAPCHECK_OWNER`` so that workers and
probes name their objects after it.  That lets the end-of-run check look for
the leftovers of *this* run only (other runs may be going on beside it), and
lets ``python -m helpers.cleanup`` remove the leftovers of runs whose owner is
dead without touching live ones.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

PREFIX = "mmapcheck"
OWNER_ENV = "MMAPCHECK_OWNER"

#: ``mmapcheck-<pid>-<token>-<rest>``: pid and token identify the owning run.
NAME_PATTERN = re.compile(rf"^/?{PREFIX}-(?P<pid>\d+)-(?P<token>[0-9a-f]+)-(?P<rest>.*)$")

_counter = itertools.count()


def owner() -> str:
    """Return ``<pid>-<token>`` of the run this process belongs to.

    The first call in a process without ``MMAPCHECK_OWNER`` makes that
    process the owner and exports the variable, so children inherit it.
    """
    value = os.environ.get(OWNER_ENV)
    if not value or not re.fullmatch(r"\d+-[0-9a-f]+", value):
        value = f"{os.getpid()}-{secrets.token_hex(3)}"
        os.environ[OWNER_ENV] = value
    return value


def claim_ownership() -> str:
    """Make this process the owner of a new run, whatever it inherited; return the owner.

    A pytest controller calls it: a run started from inside another run (a
    self-test running pytest in a subprocess) is a run of its own, with its
    own leftovers to answer for.
    """
    os.environ.pop(OWNER_ENV, None)
    return owner()


def run_prefix() -> str:
    """Return the prefix shared by every object this run creates."""
    return f"{PREFIX}-{owner()}-"


def unique_name(tag: str = "obj") -> str:
    """Return a fresh file-name-safe name for an object of this run.

    ``tag`` says what the object is for (``"shm"``, ``"file"``, a check's
    name); it is reduced to ``[A-Za-z0-9_.]`` so the result is a valid POSIX
    shm name once a slash is put in front.
    """
    safe = re.sub(r"[^A-Za-z0-9_.]", "_", tag)[:64] or "obj"
    return f"{run_prefix()}{os.getpid()}.{next(_counter)}-{safe}"


def shm_name(tag: str = "shm") -> str:
    """Return a fresh POSIX shm name (leading slash, no other slash)."""
    return "/" + unique_name(tag)


def owner_pid(name: str) -> int | None:
    """Return the pid of the run that created ``name``, or None if not ours."""
    match = NAME_PATTERN.match(os.path.basename(name) if "/" in name.lstrip("/") else name)
    return int(match["pid"]) if match else None


def sysv_key_base() -> int:
    """Return the System V key range start reserved for this suite.

    Keys ``0x4D4D0000``-``0x4D4DFFFF`` ("MM") are ours; the low 16 bits come
    from the owner's pid so that concurrent runs rarely collide (a collision
    is an ``EEXIST`` the caller retries, never a shared segment).
    """
    pid = int(owner().split("-")[0])
    return 0x4D4D0000 | ((pid * 131) & 0xFF00)
