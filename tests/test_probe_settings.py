"""Self-test: a probe that meets a setting of the machine names it instead of failing.

A full /dev/shm or a small System V limit is how this machine is set up,
not something the documents say: the probes check them first and raise
``Unsupported`` with the setting, which ends the check as ``unsupported``.
"""

from __future__ import annotations

import os

import pytest

from helpers import libc
from helpers.probes import propositions, sysv_shm
from helpers.probes.posix_shm import SHM_DIR, require_shm_space


def test_shm_space_beyond_what_is_free_is_unsupported_with_the_figure():
    stats = os.statvfs(SHM_DIR)
    free = stats.f_bavail * stats.f_frsize
    # Other processes may use /dev/shm meanwhile: the figure is checked, not its value.
    with pytest.raises(libc.Unsupported, match=r"/dev/shm .*only \d+ bytes are free"):
        require_shm_space(free + (1 << 20))


def test_shm_space_that_fits_is_allowed():
    require_shm_space(libc.PAGE_SIZE)


@pytest.mark.parametrize(("limits", "named"), [
    ({"shmmax": 65536, "shmall": 1 << 20, "shmmni": 4096}, "kernel.shmmax is 65536"),
    ({"shmmax": 1 << 40, "shmall": 16, "shmmni": 4096}, "kernel.shmall is 16 pages"),
], ids=["shmmax", "shmall"])
def test_a_segment_beyond_the_system_v_limits_is_unsupported_naming_the_limit(
        monkeypatch, limits, named):
    monkeypatch.setattr(sysv_shm, "segment_limits", lambda: limits)
    with pytest.raises(libc.Unsupported, match=named):
        sysv_shm.require_segment_size(4 << 20)
    sysv_shm.require_segment_size(libc.PAGE_SIZE)  # one page fits both


def test_a_go_toolchain_that_cannot_start_is_unsupported_not_a_refused_declaration(
        tmp_path, monkeypatch):
    # A toolchain that dies at start, as Go's runtime does under a small RLIMIT_AS.
    fake = tmp_path / "go"
    fake.write_text("#!/bin/sh\necho 'fatal error: failed to reserve page summary memory' >&2\n"
                    "exit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(libc.Unsupported, match=r"empty program failed.*page summary memory"):
        propositions.go_signatures_compile()
