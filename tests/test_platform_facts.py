"""The platform facts that decide writeback, exec and huge pages, read from a mount table.

Each test gives :mod:`helpers.platform` a mount table of its own (and the
files it reads under /sys), so the answers do not depend on the machine.
"""

from __future__ import annotations

import pytest

from helpers import platform
from helpers.model.deviations import TMPFS_TAIL
from helpers.model.platform import Platform
from helpers.probes.eof import access_by_the_man_page
from reports import facts

#: Mount points: an ext4 root, a tmpfs under an overlay, a ramfs, a huge=always tmpfs,
#: and an overlay whose upper directory this namespace cannot see.
MOUNTINFO = "\n".join([
    "20 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
    "40 20 0:40 / /lay/up rw,relatime - tmpfs tmpfs rw",
    "41 20 0:41 / /lay/merged rw,relatime - overlay overlay rw,lowerdir=/lay/low,"
    "upperdir=/lay/up/u,workdir=/lay/up/w",
    "42 20 0:42 / /ram rw,relatime - ramfs ramfs rw",
    "43 20 0:43 / /huge rw,relatime - tmpfs tmpfs rw,huge=always",
    "44 20 0:44 / /box rw,relatime - overlay overlay rw,lowerdir=/l,"
    "upperdir=/var/lib/hidden/diff,workdir=/var/lib/hidden/work",
    "45 20 0:45 / /ro rw,relatime - overlay overlay ro,lowerdir=/a:/b",
])
VISIBLE = {"/lay/up/u"}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Serve MOUNTINFO and a /sys of our own; return the /sys files to change per test."""
    sys_files = {"/sys/kernel/mm/transparent_hugepage/shmem_enabled":
                 "always within_size advise [never] deny force\n",
                 "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size": "2097152\n"}

    def read(path: str) -> str | None:
        return MOUNTINFO if path == "/proc/self/mountinfo" else sys_files.get(path)

    monkeypatch.setattr(platform, "_read", read)
    monkeypatch.setattr(platform.os.path, "realpath", lambda path: path)
    monkeypatch.setattr(platform.os.path, "isdir", lambda path: path in VISIBLE)
    return sys_files


def test_an_overlay_file_is_judged_by_its_upper_layer(table: dict[str, str]) -> None:
    assert platform.filesystem_type("/lay/merged/f") == "overlay"
    assert platform.data_filesystem_type("/lay/merged/f") == "tmpfs"
    assert not platform.writes_back("/lay/merged/f")
    assert platform.describe_filesystem("/lay/merged") == "overlay (upper layer on tmpfs)"


@pytest.mark.parametrize("path", ["/box/f", "/ro/f"])
def test_an_overlay_whose_upper_layer_cannot_be_seen_keeps_the_old_assumption(
        table: dict[str, str], path: str) -> None:
    assert platform.data_filesystem_type(path) is None
    assert platform.writes_back(path)  # as most upper layers (disk filesystems) do


@pytest.mark.parametrize(("path", "expected"), [("/srv/f", True), ("/ram/f", False),
                                                ("/lay/up/f", False)])
def test_plain_mounts_are_their_own_data_filesystem(table: dict[str, str], path: str,
                                                    expected: bool) -> None:
    assert platform.data_filesystem_type(path) == platform.filesystem_type(path)
    assert platform.writes_back(path) is expected


def test_the_huge_policy_is_the_mount_option_unless_the_system_forces_it(
        table: dict[str, str]) -> None:
    assert platform.huge_pages("/huge/f") == "always"
    assert platform.huge_page_bytes("/huge/f") == 2 << 20
    assert platform.huge_pages("/lay/up/f") == "never"
    assert platform.huge_page_bytes("/lay/up/f") is None
    assert platform.huge_pages("/srv/f") is None  # not tmpfs
    table["/sys/kernel/mm/transparent_hugepage/shmem_enabled"] = "always [deny] force\n"
    assert platform.huge_pages("/huge/f") == "deny"
    assert platform.huge_page_bytes("/huge/f") is None


def test_a_huge_page_allows_access_up_to_its_end_as_well_as_sigbus() -> None:
    length = 128 << 20
    assert access_by_the_man_page(10000, 4096, length) == {"SIGBUS"}
    assert access_by_the_man_page(10000, 4096, length, 2 << 20) == {"SIGBUS", "ok"}
    assert access_by_the_man_page(2 << 20, 4096, length, 2 << 20) == {"SIGBUS"}
    assert access_by_the_man_page(length, 4096, length, 2 << 20) == {"SIGSEGV"}


def test_the_data_filesystem_is_shown_only_where_it_differs() -> None:
    plain = facts.of({"scratch_fs": "ext4", "shm_fs": "tmpfs"})
    assert plain["scratch_data_fs"] == "ext4" and "scratch_data_fs" not in facts.shown(plain)
    overlay = facts.of({"scratch_fs": "overlay", "scratch_data_fs": "tmpfs", "shm_fs": "tmpfs"})
    assert facts.shown(overlay)["scratch_data_fs"] == "tmpfs"
    # An older fingerprint never resolved an overlay's upper layer: unknown, not "overlay".
    assert facts.of({"scratch_fs": "overlay"})["scratch_data_fs"] is None


def test_the_tmpfs_tail_deviation_shows_only_where_dev_shm_has_no_writeback() -> None:
    assert TMPFS_TAIL.shows_on(Platform(writeback=frozenset({"file"})))
    assert not TMPFS_TAIL.shows_on(Platform(writeback=frozenset({"file", "shm"})))
