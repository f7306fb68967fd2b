"""Checks of MAP_SYNC: honoured only with MAP_SHARED_VALIDATE, and only on DAX files.

mmap(2): MAP_SYNC is available only with MAP_SHARED_VALIDATE; MAP_SHARED
(and MAP_PRIVATE) ignore flags they do not know, MAP_SYNC among them.  With
MAP_SHARED_VALIDATE it fails with EOPNOTSUPP unless the file supports DAX.

Known deviation: ext4 and XFS look at MAP_SYNC whatever the mapping type,
and refuse MAP_SHARED|MAP_SYNC and MAP_PRIVATE|MAP_SYNC on a non-DAX file
with EOPNOTSUPP, where the man page says the flag is ignored; tmpfs ignores
it as documented.
"""

from __future__ import annotations

import errno as errnos
import os
import tempfile

import pytest

from helpers import libc, observe
from helpers.libc import PAGE_SIZE
from helpers.platform import filesystem_type
from helpers.probes.mapping import map_file, map_sync_state

NEEDS_VALIDATE = "unp-shm.map-sync-needs-validate"
DAX_ONLY = "unp-shm.map-sync-dax-only"
EOPNOTSUPP = libc.errno_name(errnos.EOPNOTSUPP)  # Linux's errorcode spells it ENOTSUP
TYPES = ("MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE")


def _dax_mounts() -> list[str]:
    """Return the mount points mounted with a ``dax`` option."""
    with open("/proc/self/mounts") as mounts:
        return [f[1] for f in (line.split() for line in mounts)
                if len(f) > 3 and any(o.startswith("dax") for o in f[3].split(","))]


def _mounted_with_dax(path: str) -> bool:
    real = os.path.realpath(path)
    return any(real == m or real.startswith(m.rstrip("/") + "/") for m in _dax_mounts())


DIRECTORIES = {"tempdir": tempfile.gettempdir(), "devshm": "/dev/shm"}
FILESYSTEMS = {where: filesystem_type(path) for where, path in DIRECTORIES.items()}


def _rows() -> list[object]:
    rows = []
    for where, kind in [(w, k) for w in DIRECTORIES for k in TYPES]:
        fs, path = FILESYSTEMS[where], DIRECTORIES[where]
        ignorable = kind != "MAP_SHARED_VALIDATE" and not _mounted_with_dax(path)
        marks = [pytest.mark.xfail(ignorable and fs in ("ext4", "xfs"), strict=True, reason=(
            f"known deviation: {fs} refuses {kind}|MAP_SYNC on a non-DAX file with "
            "EOPNOTSUPP although mmap(2) says the flag is ignored there (Linux 6.18)"))]
        if ignorable and fs == "overlay":  # it hands mmap to a filesystem it does not name
            marks.append(pytest.mark.xfail(strict=False, reason=(
                "known deviation if the filesystem under overlay is ext4 or XFS")))
        if not os.path.isdir(path):
            marks.append(pytest.mark.skip(reason=f"{path} does not exist here"))
        rows.append(pytest.param(where, kind, marks=marks, id=f"{where}-{kind}"))
    return rows


@pytest.mark.claim(NEEDS_VALIDATE, DAX_ONLY)
@pytest.mark.parametrize(("where", "kind"), _rows())
def test_map_sync_is_ignored_unless_validated(probe, prediction, sized_file, where, kind):
    directory = None if where == "tempdir" else DIRECTORIES[where]
    path = sized_file(PAGE_SIZE, directory=directory)
    outcome = probe(map_sync_state, path, f"{kind}|MAP_SYNC")
    dax = _mounted_with_dax(path)
    validated = kind == "MAP_SHARED_VALIDATE"
    instance = f"{kind}|MAP_SYNC on {FILESYSTEMS[where]}" + (" (DAX)" if dax else "")
    if not validated:
        case = "shared-makes-sync-mapping" if kind == "MAP_SHARED" else \
            "private-makes-sync-mapping"
        # A synchronous-fault ("sf") mark without DAX changes nothing: MAP_SYNC can act only
        # on a DAX file, so only there does the mark say the flag was used.
        made = observe.field(outcome, "sync_mapping") if dax else observe.unobservable(
            f"MAP_SYNC acts only on DAX files and {FILESYSTEMS[where]} here is not mounted "
            "with DAX", outcome)
        prediction.observe(case, made, claim=NEEDS_VALIDATE, instance=instance)
    elif not dax:
        refused = observe.field(outcome, "errno")
        prediction.observe("validate-checks", refused, claim=NEEDS_VALIDATE, instance=instance)
        prediction.observe("non-dax-refused", refused, claim=DAX_ONLY, instance=instance)
    assert outcome.ok, outcome
    seen = outcome.value
    # mmap(2): only MAP_SHARED_VALIDATE looks at MAP_SYNC, and refuses it without DAX.
    expected = "maps" if not validated or dax else EOPNOTSUPP
    assert ("maps" if seen["mapped"] else seen["errno"]) == expected, outcome


@pytest.mark.claim(DAX_ONLY)
@pytest.mark.needs("dax")
def test_map_sync_maps_on_a_dax_file(probe, prediction, sized_file):
    mount = _dax_mounts()[0]
    outcome = probe(map_file, sized_file(PAGE_SIZE, directory=mount), PAGE_SIZE,
                    flags="MAP_SHARED_VALIDATE|MAP_SYNC")
    prediction.observe("dax-maps", observe.result(outcome),
                       instance=f"{mount} ({filesystem_type(mount)})")
    assert outcome.ok, outcome
