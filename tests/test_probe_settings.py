"""Self-test: a probe that meets a setting of the machine names it instead of failing.

A full /dev/shm or a small System V limit is how this machine is set up,
not something the documents say: the probes check them first and raise
``Unsupported`` with the setting, which ends the check as ``unsupported``.
"""

from __future__ import annotations

import os

import pytest

from helpers import libc
from helpers.probes.posix_shm import SHM_DIR, require_shm_space


def test_shm_space_beyond_what_is_free_is_unsupported_with_the_figure():
    stats = os.statvfs(SHM_DIR)
    free = stats.f_bavail * stats.f_frsize
    # Other processes may use /dev/shm meanwhile: the figure is checked, not its value.
    with pytest.raises(libc.Unsupported, match=r"/dev/shm .*only \d+ bytes are free"):
        require_shm_space(free + (1 << 20))


def test_shm_space_that_fits_is_allowed():
    require_shm_space(libc.PAGE_SIZE)
