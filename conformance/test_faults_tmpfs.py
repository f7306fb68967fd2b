"""Faults that need a filesystem of their own: a full tmpfs, and a noexec mount.

mmap(2) and tmpfs(5): a store into a page of a sparse shared mapping that the
filesystem cannot allocate kills the writer with ``SIGBUS`` (nothing returns
``ENOSPC``), while ``posix_fallocate`` reserves the pages up front and fails
with ``ENOSPC`` at once.  mmap(2) ``EPERM`` and mprotect(2) ``EACCES``: no
executable mapping of a file on a ``noexec`` mount.

Each probe mounts a tmpfs of a few pages in a private mount namespace over
an empty directory the check owns; the host never sees the mount (checked
after every probe) and the directory is removed at teardown.  Where the
platform refuses the namespace, the check is skipped with the refused step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from helpers import names
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.namespaces import mounted_at
from helpers.probes.faults_tmpfs import (
    allocate_up_front,
    exec_mapping_on_noexec,
    store_every_page_of_sparse_file,
)

MIB = 1 << 20
FS_SIZE = MIB
LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]






@pytest.fixture
def mount_point(request: pytest.FixtureRequest) -> Iterator[str]:
    """Return an empty directory for a probe to mount over; removed at teardown."""
    path = os.path.join(tempfile.gettempdir(), names.unique_name(request.node.name))
    os.mkdir(path, 0o700)
    yield path
    reached_host = os.listdir(path)
    shutil.rmtree(path)
    assert not reached_host, f"files meant for the private tmpfs reached the host: {reached_host}"


def private(outcome: Outcome, mount_point: str) -> Outcome:
    """Return ``outcome`` after checking the host never saw the mount; skip if refused."""
    assert mounted_at(mount_point) == [], "the private tmpfs leaked into the host's mounts"
    if outcome.exception == "NamespaceRefused":
        pytest.skip(f"skipped: no private tmpfs in this run: {outcome.message}")
    return outcome


@pytest.mark.claim("fault.full-tmpfs-sparse-sigbus")
@pytest.mark.parametrize("layer", LAYERS)
def test_store_into_sparse_mapping_on_full_tmpfs_raises_sigbus(probe, mount_point, layer):
    outcome = private(probe(store_every_page_of_sparse_file, mount_point, FS_SIZE, 4 * MIB,
                            layer=layer), mount_point)
    assert outcome.signal == "SIGBUS", outcome
    assert outcome.si_code == "BUS_ADRERR", outcome
    # The first page that cannot be allocated lies at the filesystem's size.
    assert outcome.notes["free_bytes"] == FS_SIZE, outcome
    assert outcome.fault_offset == FS_SIZE, outcome


@pytest.mark.claim("fault.full-tmpfs-fallocate-enospc")
def test_allocation_up_front_fails_with_enospc_then_stores_cannot_fail(probe, mount_point):
    outcome = private(probe(allocate_up_front, mount_point, FS_SIZE, 4 * MIB, MIB // 2),
                      mount_point)
    assert outcome.ok, outcome
    assert outcome.value["too_big"] == "ENOSPC", outcome
    assert outcome.value["too_big_size_after"] == 0, outcome
    assert outcome.value["fits"] == "ok", outcome
    assert outcome.value["pages_stored"] == outcome.value["pages_in_file"] == MIB // 2 // PAGE_SIZE


@pytest.mark.claim("fault.noexec-mount-eperm")
@pytest.mark.parametrize(("noexec", "expected"), [
    (True, {"mmap_prot_exec": "EPERM", "mprotect_add_exec": "EACCES"}),
    (False, {"mmap_prot_exec": "ok", "mprotect_add_exec": "ok"}),
], ids=["noexec", "exec-allowed"])
def test_exec_mapping_of_file_on_noexec_mount_is_refused(probe, mount_point, noexec, expected):
    outcome = private(probe(exec_mapping_on_noexec, mount_point, noexec=noexec), mount_point)
    assert outcome.ok, outcome
    assert outcome.value == expected, outcome
